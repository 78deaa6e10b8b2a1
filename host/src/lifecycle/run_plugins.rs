//! The two components a run uses: its pinned flow version and the dialer
//! adapter's *currently active* version (hot swap: each call looks it up in
//! the worker's [`DialerDirectory`](super::dialer_directory::DialerDirectory)),
//! each bound to the run's tenant. Instances are pooled per run and adapter
//! version (reused across leads of the same tenant, never across tenants)
//! and dropped after any error: a trapped or poisoned instance is never
//! reused. A call in flight during a swap finishes on the instance it
//! started on; that instance then goes back to the old version's pool,
//! which is dropped with the last call using it.

use std::sync::{Arc, Mutex};

use crate::runtime::{
    ActGate, CallReport, CallRequest, Decision, DialError, DialerInstance, FlowInstance, FollowUp,
    HttpAllowlist, HttpRefusals, Lead, Placement, PluginError, PluginHost, PluginKind,
    PluginLogBudget, PluginMeta, PluginScope, Prepared, Properties, RunContext,
};
use crate::store::{ClaimedRun, StoreKv};

use super::context::WorkerCtx;
use super::dialer_directory::ActiveDialer;
use super::run_control::RunControl;

/// The value of `key` in a dialer configuration.
fn config_value<'a>(config: &'a Properties, key: &str) -> Option<&'a str> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether the worker's provider hosts admit `host:port` (none set: any).
fn permitted(provider_hosts: &[String], dest: &str) -> bool {
    provider_hosts.is_empty() || provider_hosts.iter().any(|h| h.eq_ignore_ascii_case(dest))
}

/// One adapter version and its idle instances.
struct DialerSlot {
    active: Arc<ActiveDialer>,
    idle: Mutex<Vec<DialerInstance>>,
}

impl DialerSlot {
    fn new(active: Arc<ActiveDialer>) -> Arc<DialerSlot> {
        Arc::new(DialerSlot {
            active,
            idle: Mutex::new(Vec::new()),
        })
    }
}

pub struct RunPlugins {
    ctx: Arc<WorkerCtx>,
    host: Arc<PluginHost>,
    flow: Arc<Prepared>,
    dialer_name: String,
    /// std Mutex: held only to read or replace the Arc, never across an await.
    dialer: Mutex<Arc<DialerSlot>>,
    flow_scope: PluginScope,
    dialer_scope: PluginScope,
    /// The tenant's configuration of this dialer (write-only elsewhere).
    pub dialer_config: Properties,
    /// Why the dialer may reach nothing, when its allowlist is empty.
    http_denied_because: String,
    flows: Mutex<Vec<FlowInstance>>,
}

impl RunPlugins {
    /// Loads and prepares (cached by sha256) the run's flow and dialer.
    pub async fn load(
        ctx: &Arc<WorkerCtx>,
        run: &ClaimedRun,
        ctl: &Arc<RunControl>,
    ) -> anyhow::Result<RunPlugins> {
        let (flow_name, flow_version, flow_bytes) =
            ctx.store.run_flow_plugin(run.lease.run).await?;
        let dialer = ctx.dialers.get(&run.dialer).await?;
        let dialer_config = ctx
            .store
            .dialer_config_for_worker(run.tenant, &run.dialer)
            .await?
            .unwrap_or_default();
        let flow = ctx.plugins.prepare(
            PluginMeta {
                kind: PluginKind::Flow,
                name: flow_name.clone(),
                version: flow_version,
            },
            &flow_bytes,
        )?;
        // The dialer reaches exactly the host:port of the base_url its
        // tenant configured, in every call (place, hang up, look up), if the
        // worker's provider hosts admit it; nothing otherwise.
        let base = config_value(&dialer_config, "base_url").and_then(HttpAllowlist::from_base_url);
        let (allowed, http_denied_because) = match base {
            None => (None, "its configuration has no valid base_url".to_string()),
            Some(d) if permitted(&ctx.cfg.provider_hosts, &d) => (Some(d), String::new()),
            Some(d) => {
                let why = format!(
                    "{d} (its base_url) is not among the worker's provider hosts [{}]",
                    ctx.cfg.provider_hosts.join(", ")
                );
                (None, why)
            }
        };
        let kv = Arc::new(StoreKv(ctx.store.clone()));
        let log_fields = vec![("run_id".to_string(), run.lease.run.to_string())];
        // One budget of plugin log lines for the run's flow and dialer.
        let log_budget = PluginLogBudget::default();
        Ok(RunPlugins {
            ctx: ctx.clone(),
            host: ctx.plugins.clone(),
            flow,
            dialer_name: run.dialer.clone(),
            dialer: Mutex::new(DialerSlot::new(dialer)),
            flow_scope: PluginScope {
                tenant: run.tenant,
                kv_namespace: format!("flow:{flow_name}"),
                kv: kv.clone(),
                http_allow: Vec::new(),
                http_refused: HttpRefusals::default(),
                act_gate: ActGate::default(),
                log_fields: log_fields.clone(),
                log_budget: log_budget.clone(),
            },
            dialer_scope: PluginScope {
                tenant: run.tenant,
                kv_namespace: format!("dialer:{}", run.dialer),
                kv,
                http_allow: allowed.into_iter().collect(),
                http_refused: HttpRefusals::default(),
                // A dialer acts only while this worker holds the run's lease.
                act_gate: {
                    let ctl = Arc::clone(ctl);
                    ActGate::new(move || ctl.lease.valid() && !ctl.is_lost())
                },
                log_fields,
                log_budget,
            },
            http_denied_because,
            dialer_config,
            flows: Mutex::new(Vec::new()),
        })
    }

    /// The adapter version calls start on now (recorded on attempts).
    pub fn dialer_version(&self) -> i64 {
        self.dialer_slot().active.version
    }

    /// The dialer's name (as runs and configs name it).
    pub fn dialer_name(&self) -> &str {
        &self.dialer_name
    }

    /// The destination the allowlist refused to this run's dialer since
    /// the last call to this, if any: the adapter wants to reach something
    /// other than its configured `base_url` (or has none).
    pub fn take_http_refusal(&self) -> Option<String> {
        self.dialer_scope.http_refused.take()
    }

    /// What the dialer may reach (`host:port`s), or why nothing, for
    /// error messages.
    pub fn http_allowed(&self) -> String {
        match self.dialer_scope.http_allow.as_slice() {
            [] => format!("nothing: {}", self.http_denied_because),
            a => a.join(", "),
        }
    }

    /// Counts a failure by cause for `/metrics`, and passes it on.
    fn counted<T>(&self, r: Result<T, PluginError>) -> Result<T, PluginError> {
        if let Err(e) = &r {
            self.ctx.process_metrics.plugin_error(e.cause.label());
        }
        r
    }

    async fn take_flow(&self) -> Result<FlowInstance, PluginError> {
        let pooled = self.flows.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(f) => Ok(f),
            None => self.host.flow(&self.flow, self.flow_scope.clone()).await,
        }
    }

    /// The slot of the adapter version active now: switches to a new slot
    /// when the directory has swapped the version since the last call.
    fn dialer_slot(&self) -> Arc<DialerSlot> {
        let now = self.ctx.dialers.current(&self.dialer_name);
        let mut slot = self.dialer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(active) = now
            && active.version != slot.active.version
        {
            *slot = DialerSlot::new(active);
        }
        slot.clone()
    }

    async fn take_dialer(&self) -> Result<(Arc<DialerSlot>, DialerInstance), PluginError> {
        let slot = self.dialer_slot();
        let pooled = slot.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let instance = match pooled {
            Some(d) => d,
            None => {
                self.host
                    .dialer(&slot.active.prepared, self.dialer_scope.clone())
                    .await?
            }
        };
        Ok((slot, instance))
    }

    /// Returns a healthy instance to the pool. Its log lines already went to
    /// `tracing` with tenant and run attached; drop the buffered copies.
    fn put_flow(&self, mut f: FlowInstance) {
        f.take_logs();
        self.flows.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    /// Back to the pool of the version it belongs to (an old version's pool
    /// is dropped once no call holds its slot).
    fn put_dialer(slot: &DialerSlot, mut d: DialerInstance) {
        d.take_logs();
        slot.idle.lock().unwrap_or_else(|p| p.into_inner()).push(d);
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.flow.meta.name, version = self.flow.meta.version))]
    pub async fn plan(&self, ctx: &RunContext, lead: &Lead) -> Result<Decision, PluginError> {
        let mut f = self.counted(self.take_flow().await)?;
        let started = std::time::Instant::now();
        let r = f.plan(ctx, lead).await;
        self.ctx
            .process_metrics
            .plugin_call("plan", started.elapsed());
        if r.is_ok() {
            self.put_flow(f);
        }
        self.counted(r)
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.flow.meta.name, version = self.flow.meta.version))]
    pub async fn on_result(
        &self,
        ctx: &RunContext,
        lead: &Lead,
        report: &CallReport,
    ) -> Result<FollowUp, PluginError> {
        let mut f = self.counted(self.take_flow().await)?;
        let started = std::time::Instant::now();
        let r = f.on_result(ctx, lead, report).await;
        self.ctx
            .process_metrics
            .plugin_call("on-result", started.elapsed());
        if r.is_ok() {
            self.put_flow(f);
        }
        self.counted(r)
    }

    /// Places the call on the adapter version active now and says which
    /// version that was (recorded on the attempt).
    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer_name, version = tracing::field::Empty))]
    pub async fn place_call(
        &self,
        req: &CallRequest,
    ) -> (i64, Result<Result<Placement, DialError>, PluginError>) {
        let (slot, mut d) = match self.counted(self.take_dialer().await) {
            Ok(x) => x,
            Err(e) => return (e.plugin.version, Err(e)),
        };
        let version = slot.active.version;
        tracing::Span::current().record("version", version);
        let started = std::time::Instant::now();
        let r = d.place_call(&self.dialer_config, req).await;
        self.ctx
            .process_metrics
            .plugin_call("place-call", started.elapsed());
        if r.is_ok() {
            Self::put_dialer(&slot, d);
        }
        (version, self.counted(r))
    }

    /// What the adapter finds wrong with the tenant's configuration of it
    /// (`validate-config`), as a run's failure reason; `None` when nothing
    /// is, or when the adapter cannot say (a failing adapter shows itself at
    /// the first placement, where it is handled as any other failure).
    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer_name))]
    pub async fn dialer_config_problem(&self) -> Option<String> {
        let (slot, mut d) = self.counted(self.take_dialer().await).ok()?;
        let started = std::time::Instant::now();
        let r = d.validate_config(&self.dialer_config).await;
        self.ctx
            .process_metrics
            .plugin_call("validate-config", started.elapsed());
        if r.is_ok() {
            Self::put_dialer(&slot, d);
        }
        match self.counted(r) {
            Ok(Err(p)) => Some(format!(
                "dialer {}: configuration: {}: {}",
                self.dialer_name, p.key, p.message
            )),
            _ => None,
        }
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer_name))]
    pub async fn hangup(
        &self,
        provider_call_id: &str,
    ) -> Result<Result<(), DialError>, PluginError> {
        let (slot, mut d) = self.counted(self.take_dialer().await)?;
        let started = std::time::Instant::now();
        let r = d.hangup(&self.dialer_config, provider_call_id).await;
        self.ctx
            .process_metrics
            .plugin_call("hangup", started.elapsed());
        if r.is_ok() {
            Self::put_dialer(&slot, d);
        }
        self.counted(r)
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer_name))]
    pub async fn lookup(
        &self,
        idempotency_key: &str,
    ) -> Result<Result<Option<Placement>, DialError>, PluginError> {
        let (slot, mut d) = self.counted(self.take_dialer().await)?;
        let started = std::time::Instant::now();
        let r = d.lookup(&self.dialer_config, idempotency_key).await;
        self.ctx
            .process_metrics
            .plugin_call("lookup", started.elapsed());
        if r.is_ok() {
            Self::put_dialer(&slot, d);
        }
        self.counted(r)
    }
}
