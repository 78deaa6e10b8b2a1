//! Turns what wasmtime reports after a failed call into a [`PluginFailure`]
//! with a cause a person can act on.

use std::time::Duration;

use wasmtime::Trap;

use super::PluginFailure;
use super::limits::MemoryLimitHit;
use super::store_data::StoreData;
use super::validate::one_line;

pub fn classify(
    err: &wasmtime::Error,
    data: &StoreData,
    deadline: Duration,
    fuel: Option<u64>,
) -> PluginFailure {
    if data.limiter.hit || err.downcast_ref::<MemoryLimitHit>().is_some() {
        if let Some(hit) = err.downcast_ref::<MemoryLimitHit>() {
            return PluginFailure::MemoryLimit(hit.0);
        }
        return PluginFailure::MemoryLimit(data.limiter.cap());
    }
    if let Some(h) = &data.host_error {
        return PluginFailure::Host(h.clone());
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginFailure::DeadlineExceeded(deadline),
        Some(Trap::OutOfFuel) => PluginFailure::Trap(format!(
            "fuel budget of {} units exhausted",
            fuel.unwrap_or_default()
        )),
        Some(trap) => {
            let what = match trap {
                Trap::StackOverflow => "stack overflow (recursion too deep)".to_string(),
                other => other.to_string(),
            };
            match panic_message(data).or_else(|| exception_message(data)) {
                Some(p) => PluginFailure::Trap(format!("{p} ({what})")),
                None => PluginFailure::Trap(what),
            }
        }
        None => match panic_message(data).or_else(|| exception_message(data)) {
            Some(p) => PluginFailure::Trap(format!("{p} ({})", one_line(err))),
            None => PluginFailure::Trap(one_line(err)),
        },
    }
}

/// The last Rust panic message the guest wrote to stderr, as
/// `panicked at src/lib.rs:10:5: boom`.
fn panic_message(data: &StoreData) -> Option<String> {
    let lines = data.logs.peek_messages("warn");
    let at = lines.iter().rposition(|l| l.contains("panicked at"))?;
    let head = &lines[at];
    let location = head[head.find("panicked at")?..].trim_end_matches(':');
    let message: Vec<&str> = lines[at + 1..]
        .iter()
        .map(String::as_str)
        .take_while(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    if message.is_empty() {
        Some(location.to_string())
    } else {
        Some(format!("{location}: {}", message.join("\n")))
    }
}

/// Longest guest exception message kept in a reason.
const EXCEPTION_MESSAGE_MAX_CHARS: usize = 500;

/// The uncaught exception a JavaScript or Python runtime wrote to stderr
/// before trapping: componentize-js writes `Error: …` and a stack (the
/// first exception line is the message), componentize-py a traceback whose
/// last line is `ValueError: …`. Both match "a name ending in `Error` or
/// `Exception`, then `: `"; the last such line wins (Python chains).
fn exception_message(data: &StoreData) -> Option<String> {
    let lines = data.logs.peek_messages("warn");
    let line = lines.iter().rev().map(|l| l.trim()).find(|l| {
        let l = l.strip_prefix("Uncaught ").unwrap_or(l);
        l.split_once(": ").is_some_and(|(name, _)| {
            let name = name.rsplit('.').next().unwrap_or(name);
            (name.ends_with("Error") || name.ends_with("Exception"))
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })?;
    Some(line.chars().take(EXCEPTION_MESSAGE_MAX_CHARS).collect())
}
