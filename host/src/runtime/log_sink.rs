//! Where a plugin's log lines go: a bounded per-instance buffer (drained by
//! `take_logs`, used by transcripts and job records) and `tracing`, with the
//! tenant, plugin and scope fields attached.
//!
//! Both the `log` import and the captured stdout/stderr write here, so a
//! plugin's `println!` and its panic message end up in the same place.

use std::sync::{Arc, Mutex};

use super::{LogLine, PluginMeta};
use crate::model::TenantId;

/// Longest single line kept; longer lines are cut (the WIT promises this).
pub const MAX_LINE_BYTES: usize = 4 << 10;
/// Most bytes of log lines buffered between two `take_logs`; beyond it lines
/// are counted and dropped so a chatty plugin cannot grow host memory.
pub const MAX_BUFFERED_BYTES: usize = 256 << 10;

#[derive(Default)]
struct Buffer {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: usize,
}

/// Shared by the store's host imports and the stdio capture streams.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Mutex<Buffer>>,
    tenant: TenantId,
    plugin: Arc<str>,
    fields: Arc<str>,
}

impl LogSink {
    pub fn new(tenant: TenantId, meta: &PluginMeta, fields: &[(String, String)]) -> Self {
        let fields = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        LogSink {
            inner: Arc::default(),
            tenant,
            plugin: format!("{}@{}", meta.name, meta.version).into(),
            fields: fields.into(),
        }
    }

    /// Records one line at `level` (`trace` … `error`).
    pub fn push(&self, level: &str, message: &str) {
        let message = truncate(message, MAX_LINE_BYTES);
        match level {
            "error" => {
                tracing::error!(tenant = self.tenant.0, plugin = %self.plugin, fields = %self.fields, "{message}")
            }
            "warn" => {
                tracing::warn!(tenant = self.tenant.0, plugin = %self.plugin, fields = %self.fields, "{message}")
            }
            "info" => {
                tracing::info!(tenant = self.tenant.0, plugin = %self.plugin, fields = %self.fields, "{message}")
            }
            "debug" => {
                tracing::debug!(tenant = self.tenant.0, plugin = %self.plugin, fields = %self.fields, "{message}")
            }
            _ => {
                tracing::trace!(tenant = self.tenant.0, plugin = %self.plugin, fields = %self.fields, "{message}")
            }
        }
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if b.bytes + message.len() > MAX_BUFFERED_BYTES {
            b.dropped += 1;
            return;
        }
        b.bytes += message.len();
        b.lines.push(LogLine {
            level: level.to_string(),
            message,
        });
    }

    /// Everything logged since the last call.
    pub fn take(&self) -> Vec<LogLine> {
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = std::mem::take(&mut b.lines);
        if b.dropped > 0 {
            lines.push(LogLine {
                level: "warn".into(),
                message: format!(
                    "{} log lines dropped (over {MAX_BUFFERED_BYTES} bytes)",
                    b.dropped
                ),
            });
        }
        b.bytes = 0;
        b.dropped = 0;
        lines
    }

    /// The lines logged so far, without draining (used to recover a panic
    /// message after a trap).
    pub fn peek_messages(&self, level: &str) -> Vec<String> {
        let b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        b.lines
            .iter()
            .filter(|l| l.level == level)
            .map(|l| l.message.clone())
            .collect()
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated]", &s[..end])
}
