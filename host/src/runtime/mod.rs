//! The wasmtime host for call flows and dialer adapters.
//!
//! CONTRACT (other modules compile against these names; the runtime may grow,
//! but these signatures stay):
//!
//! - [`PluginHost`]: one per process. Owns the engine, the linkers and the
//!   component cache keyed by sha256.
//! - [`PluginHost::prepare`]: validate a component against the world of its
//!   kind on the real linker and cache it. A mismatch is a
//!   [`PluginFailure::WrongWorld`] naming the import/export.
//! - [`PluginHost::flow`] / [`PluginHost::dialer`]: a fresh instance in its own
//!   store, bound to one tenant ([`Scope`]). An instance may be reused for
//!   many calls of the same tenant and plugin, never across tenants; after any
//!   error it is poisoned and every further call fails with
//!   [`PluginFailure::Poisoned`].

pub mod types;

use std::sync::Arc;
use std::time::Duration;

pub use types::*;

/// Per-call limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock deadline of one export call (epoch interruption + tokio timeout).
    pub deadline: Duration,
    /// Cap on the sum of all linear memories and tables of one instance.
    pub memory_bytes: usize,
    /// Fuel per call, for deterministic tests; `None` disables fuel.
    pub fuel: Option<u64>,
    /// Cap on any string/list a plugin returns (bytes).
    pub max_output_bytes: usize,
}

/// Backing storage of the `tenant-store` import. The runtime passes the tenant
/// from the [`Scope`], never from the guest.
#[async_trait::async_trait]
pub trait TenantKv: Send + Sync + 'static {
    async fn get(
        &self,
        business_id: i64,
        namespace: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(
        &self,
        business_id: i64,
        namespace: &str,
        key: &str,
        value: &[u8],
    ) -> anyhow::Result<()>;
    async fn delete(&self, business_id: i64, namespace: &str, key: &str) -> anyhow::Result<()>;
}

/// Who a component is, for error messages, logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginMeta {
    pub kind: PluginKind,
    pub name: String,
    pub version: i64,
}

/// Everything an instance is bound to. Fixed for the instance's life.
#[derive(Clone)]
pub struct Scope {
    pub business_id: i64,
    /// Namespace in `tenant-store` (e.g. `flow:default-flow`, `dialer:sim-dialer`).
    pub kv_namespace: String,
    pub kv: Arc<dyn TenantKv>,
    /// `host:port` pairs a dialer may reach through `wasi:http`; empty for flows.
    pub http_allow: Vec<String>,
    /// Extra fields attached to every log line (e.g. `run_id`).
    pub log_fields: Vec<(String, String)>,
}

/// A line a plugin logged (or wrote to stdout/stderr) during a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// Why a plugin call failed. Always names the plugin and tenant.
#[derive(Debug, thiserror::Error)]
#[error("plugin {}@{} ({}) for tenant {}: {cause}", .plugin.name, .plugin.version, .plugin.kind.as_str(), .tenant.map(|t| t.to_string()).unwrap_or_else(|| "-".into()))]
pub struct PluginError {
    pub plugin: PluginMeta,
    pub tenant: Option<i64>,
    pub cause: PluginFailure,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginFailure {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("does not implement the {world} world: {detail}")]
    WrongWorld { world: String, detail: String },
    #[error("deadline of {0:?} exceeded")]
    DeadlineExceeded(Duration),
    #[error("memory limit of {0} bytes exceeded")]
    MemoryLimit(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    #[error("instance is poisoned by an earlier failure and cannot be reused")]
    Poisoned,
    #[error("host error: {0}")]
    Host(String),
}

impl PluginFailure {
    /// Stable label for metrics (`deadline`, `memory`, `trap`, …).
    pub fn label(&self) -> &'static str {
        match self {
            PluginFailure::NotAComponent(_) => "not-a-component",
            PluginFailure::WrongWorld { .. } => "wrong-world",
            PluginFailure::DeadlineExceeded(_) => "deadline",
            PluginFailure::MemoryLimit(_) => "memory",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::InvalidOutput(_) => "invalid-output",
            PluginFailure::Poisoned => "poisoned",
            PluginFailure::Host(_) => "host",
        }
    }
}

/// A validated, compiled component, ready to instantiate cheaply.
pub struct Prepared {
    pub meta: PluginMeta,
    pub sha256: String,
}

/// The process's wasmtime host.
pub struct PluginHost {}

impl PluginHost {
    pub fn new(_limits: Limits) -> anyhow::Result<Self> {
        unimplemented!("runtime helper")
    }
    pub fn prepare(&self, _meta: PluginMeta, _wasm: &[u8]) -> Result<Arc<Prepared>, PluginError> {
        unimplemented!("runtime helper")
    }
    pub async fn flow(
        &self,
        _p: &Arc<Prepared>,
        _scope: Scope,
    ) -> Result<FlowInstance, PluginError> {
        unimplemented!("runtime helper")
    }
    pub async fn dialer(
        &self,
        _p: &Arc<Prepared>,
        _scope: Scope,
    ) -> Result<DialerInstance, PluginError> {
        unimplemented!("runtime helper")
    }
}

/// A call-flow instance bound to one tenant.
pub struct FlowInstance {}

impl FlowInstance {
    pub async fn plan(&mut self, _ctx: &RunContext, _lead: &Lead) -> Result<Decision, PluginError> {
        unimplemented!()
    }
    pub async fn on_result(
        &mut self,
        _ctx: &RunContext,
        _lead: &Lead,
        _report: &CallReport,
    ) -> Result<FollowUp, PluginError> {
        unimplemented!()
    }
    /// Log lines since the last call of `take_logs`.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        unimplemented!()
    }
}

/// A dialer-adapter instance bound to one tenant.
pub struct DialerInstance {}

impl DialerInstance {
    pub async fn place_call(
        &mut self,
        _config: &Properties,
        _req: &CallRequest,
    ) -> Result<Result<Placement, DialError>, PluginError> {
        unimplemented!()
    }
    pub async fn hangup(
        &mut self,
        _config: &Properties,
        _provider_call_id: &str,
    ) -> Result<Result<(), DialError>, PluginError> {
        unimplemented!()
    }
    pub async fn lookup(
        &mut self,
        _config: &Properties,
        _idempotency_key: &str,
    ) -> Result<Result<Option<CallReport>, DialError>, PluginError> {
        unimplemented!()
    }
    pub async fn parse_callback(
        &mut self,
        _config: &Properties,
        _headers: &Properties,
        _body: &[u8],
    ) -> Result<Result<Option<CallEvent>, String>, PluginError> {
        unimplemented!()
    }
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        unimplemented!()
    }
}
