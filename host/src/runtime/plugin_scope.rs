//! [`PluginMeta`] (who a component is) and [`PluginScope`] (what one
//! instance is bound to: its tenant, its `tenant-store` namespace, the hosts
//! it may reach, its log fields). Every host import acts for the scope,
//! never for anything the guest names.

use std::sync::{Arc, Mutex};

use crate::model::TenantId;

use super::plugin_log_budget::PluginLogBudget;
use super::{HttpAllowlist, PluginKind, Properties, TenantKv};

/// Who a component is, for error messages, logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginMeta {
    pub kind: PluginKind,
    pub name: String,
    pub version: i64,
}

/// Everything an instance is bound to. Fixed for the instance's life.
#[derive(Clone)]
pub struct PluginScope {
    pub tenant: TenantId,
    /// Namespace in `tenant-store` (e.g. `flow:default-flow`, `dialer:sim-dialer`).
    pub kv_namespace: String,
    pub kv: Arc<dyn TenantKv>,
    /// `host:port` pairs a dialer may reach through `wasi:http`; empty for flows.
    pub http_allow: Vec<String>,
    /// Where an instance of this scope last tried to go and was refused.
    /// Shared by every instance made from the scope (clones share it), so
    /// the caller learns that the adapter cannot reach what it wants, which
    /// retrying never fixes, whatever error the adapter makes of it.
    pub http_refused: HttpRefusals,
    /// Whether the instance may still cause effects outside itself
    /// (`tenant-store` writes, outgoing HTTP). A worker's dialer scope asks
    /// its run's local lease, so an instance paused past the lease (a
    /// SIGSTOPped worker, a long GC) cannot place a call when it resumes:
    /// the lease is checked at the effect itself, not only before the call.
    pub act_gate: ActGate,
    /// Extra fields attached to every log line (e.g. `run_id`).
    pub log_fields: Vec<(String, String)>,
    /// How many log lines a second the scope's instances may pass to the
    /// logs; shared by clones (every instance of a run).
    pub log_budget: PluginLogBudget,
}

impl PluginScope {
    /// A scope for `tenant` with the conventional namespace
    /// `{kind}:{plugin name}`, no HTTP destinations and no extra log fields.
    pub fn new(tenant: impl Into<TenantId>, meta: &PluginMeta, kv: Arc<dyn TenantKv>) -> Self {
        PluginScope {
            tenant: tenant.into(),
            kv_namespace: format!("{}:{}", meta.kind.as_str(), meta.name),
            kv,
            http_allow: Vec::new(),
            http_refused: HttpRefusals::default(),
            act_gate: ActGate::default(),
            log_fields: Vec::new(),
            log_budget: PluginLogBudget::default(),
        }
    }

    /// Lets a dialer reach `host:port` (e.g. from its `base_url` setting).
    pub fn allow_http(mut self, host_port: impl Into<String>) -> Self {
        self.http_allow.push(host_port.into());
        self
    }

    /// Lets a dialer reach the `host:port` of the `base_url` entry of its
    /// configuration, if it has a valid one (what http-dialer talks to).
    pub fn allow_base_url_of(self, config: &Properties) -> Self {
        match config
            .iter()
            .find(|(k, _)| k == "base_url")
            .and_then(|(_, v)| HttpAllowlist::from_base_url(v))
        {
            Some(dest) => self.allow_http(dest),
            None => self,
        }
    }

    /// Attaches `key=value` to every log line of the instance.
    pub fn with_log_field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.log_fields.push((key.into(), value.into()));
        self
    }
}

/// The last destination the HTTP allowlist refused to a scope's instances.
/// std Mutex, not tokio's: nothing awaits while it is held.
#[derive(Clone, Default)]
pub struct HttpRefusals(Arc<Mutex<Option<String>>>);

impl HttpRefusals {
    /// Records a refused `host:port`.
    pub fn record(&self, destination: &str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(destination.to_string());
    }

    /// The refused destination since the last call, if any, and forgets it.
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Whether an instance may act on the world now (see
/// [`PluginScope::act_gate`]). The default always allows.
#[derive(Clone, Default)]
pub struct ActGate(Option<Arc<dyn Fn() -> bool + Send + Sync>>);

impl ActGate {
    /// Allows while `allows` says so (asked at every effect).
    pub fn new(allows: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        ActGate(Some(Arc::new(allows)))
    }

    pub fn allows(&self) -> bool {
        self.0.as_ref().is_none_or(|f| f())
    }
}
