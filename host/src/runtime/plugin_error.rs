//! [`PluginError`]: why a plugin call failed, naming plugin, version, kind
//! and tenant; [`PluginFailure`]: the cause, with a stable metrics label.

use std::time::Duration;

use super::PluginMeta;
use crate::model::TenantId;

/// Why a plugin call failed. Always names the plugin and tenant.
#[derive(Debug, thiserror::Error)]
#[error("plugin {}@{} ({}) for tenant {}: {cause}", .plugin.name, .plugin.version, .plugin.kind.as_str(), .tenant.map(|t| t.to_string()).unwrap_or_else(|| "-".into()))]
pub struct PluginError {
    pub plugin: PluginMeta,
    pub tenant: Option<TenantId>,
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
