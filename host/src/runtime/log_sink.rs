//! Where a plugin's log lines go: a bounded per-instance buffer (drained by
//! `take_logs`, used by transcripts and job records, kept as the plugin
//! wrote it) and `tracing`, for the operator's logs.
//!
//! Both the `log` import and the captured stdout/stderr write here, so a
//! plugin's `println!` and its panic message end up in the same place.
//!
//! In `tracing` a plugin's lines are `debug` whatever level the plugin gave
//! (kept as the field `plugin_level`; `trace` stays `trace`): they are the
//! tenant's business, not the host's health, and the default filters leave
//! them out. At most the scope's [`PluginLogBudget`] of them a second pass;
//! phone numbers are masked ([`mask_phone_numbers`]). Each line carries the
//! tenant, plugin and run as typed fields, unless it is logged inside a
//! worker's `plugin` span (`lifecycle::run_plugins`), whose enclosing `run`
//! and `plugin` spans already carry them: no field appears twice.

use std::sync::{Arc, Mutex};

use super::phone_mask::mask_phone_numbers;
use super::plugin_log_budget::{Admit, PluginLogBudget};
use super::{LogLine, PluginMeta};
use crate::model::TenantId;

/// Longest single line kept; longer lines are cut (the WIT promises this).
pub const MAX_LINE_BYTES: usize = 4 << 10;
/// Most bytes of log lines buffered between two `take_logs`; beyond it lines
/// are counted and dropped so a chatty plugin cannot grow host memory.
pub const MAX_BUFFERED_BYTES: usize = 256 << 10;
/// The name of the span a worker calls a plugin in (`lifecycle::run_plugins`
/// `#[instrument(name = "plugin")]`, inside the run's `run` span).
const WORKER_PLUGIN_SPAN: &str = "plugin";

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
    /// `name@version`, masked like the lines.
    plugin: Arc<str>,
    /// The scope's `run_id` field, if it has one.
    run_id: Option<Arc<RunIdField>>,
    /// Any other scope fields, `key=value` (none today; a field name must be
    /// known when the code is compiled, so only `run_id` is typed).
    other: Option<Arc<str>>,
    budget: PluginLogBudget,
}

impl LogSink {
    pub fn new(
        tenant: TenantId,
        meta: &PluginMeta,
        fields: &[(String, String)],
        budget: &PluginLogBudget,
    ) -> Self {
        let run_id = fields.iter().find(|(k, _)| k == "run_id").map(|(_, v)| {
            Arc::new(match v.parse() {
                Ok(n) => RunIdField::Number(n),
                Err(_) => RunIdField::Text(mask_phone_numbers(v).into()),
            })
        });
        let other: Vec<String> = fields
            .iter()
            .filter(|(k, _)| k != "run_id")
            .map(|(k, v)| format!("{k}={}", mask_phone_numbers(v)))
            .collect();
        let plugin = format!("{}@{}", meta.name, meta.version);
        LogSink {
            inner: Arc::default(),
            tenant,
            plugin: mask_phone_numbers(&plugin).into(),
            run_id,
            other: (!other.is_empty()).then(|| other.join(" ").into()),
            budget: budget.clone(),
        }
    }

    /// Records one line at `level` (`trace` … `error`).
    pub fn push(&self, level: &str, message: &str) {
        let message = truncate(message, MAX_LINE_BYTES);
        self.trace(level, &message);
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

impl LogSink {
    /// Passes one line to `tracing` (see the module documentation).
    fn trace(&self, level: &str, message: &str) {
        let trace = level == "trace";
        let enabled = if trace {
            tracing::enabled!(tracing::Level::TRACE)
        } else {
            tracing::enabled!(tracing::Level::DEBUG)
        };
        if !enabled {
            return;
        }
        let suppressed = match self.budget.admit() {
            Admit::No => return,
            Admit::Yes { suppressed_before } => suppressed_before,
        };
        let in_worker_span = tracing::Span::current()
            .metadata()
            .is_some_and(|m| m.name() == WORKER_PLUGIN_SPAN);
        let (tenant, plugin, run_id) = if in_worker_span {
            (None, None, None)
        } else {
            (
                Some(self.tenant.0),
                Some(&*self.plugin),
                self.run_id.as_deref(),
            )
        };
        let other = self.other.as_deref();
        let message = mask_phone_numbers(message);
        // One callsite per level and per type of `run_id` (a field's type
        // is fixed where it is written).
        macro_rules! event {
            ($level:expr, $run_id:expr) => {{
                let run_id = $run_id;
                if suppressed > 0 {
                    tracing::event!(
                        $level,
                        tenant,
                        plugin,
                        run_id,
                        suppressed,
                        "{suppressed} plugin log lines suppressed (over {} a second)",
                        self.budget.per_second()
                    );
                }
                tracing::event!(
                    $level,
                    tenant,
                    plugin,
                    run_id,
                    scope = other,
                    plugin_level = level,
                    "{message}"
                );
            }};
        }
        macro_rules! at_level {
            ($level:expr) => {
                match run_id {
                    Some(RunIdField::Number(n)) => event!($level, Some(*n)),
                    Some(RunIdField::Text(t)) => event!($level, Some(&**t)),
                    None => event!($level, None::<i64>),
                }
            };
        }
        if trace {
            at_level!(tracing::Level::TRACE)
        } else {
            at_level!(tracing::Level::DEBUG)
        }
    }
}

/// The scope's `run_id`: a worker's run (a number) or `plugin test`'s name.
enum RunIdField {
    Number(i64),
    Text(Arc<str>),
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
