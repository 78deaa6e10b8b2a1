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
            match guest_message(data) {
                Some(p) => PluginFailure::Trap(format!("{p} ({what})")),
                None => PluginFailure::Trap(what),
            }
        }
        None => match guest_message(data) {
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

/// What the guest said about its failure, from its stderr: an uncaught
/// JavaScript or Python exception first (componentize-py ends those with a
/// Rust panic of its own runtime, which says less), then a Rust panic.
fn guest_message(data: &StoreData) -> Option<String> {
    let lines = data.logs.peek_messages("warn");
    js_exception(&lines)
        .or_else(|| python_exception(&lines))
        .or_else(|| panic_message(data))
        .map(|m| m.chars().take(EXCEPTION_MESSAGE_MAX_CHARS).collect())
}

/// componentize-js (StarlingMonkey) writes an uncaught error as its
/// message, `Stack:`, one line per frame, then aborts: the message and the
/// innermost frame, as `no slot left (at plan@flow.js:30:34)`.
fn js_exception(lines: &[String]) -> Option<String> {
    let stack = lines.iter().rposition(|l| l.trim() == "Stack:")?;
    let message = lines[..stack].iter().rev().find(|l| !l.trim().is_empty())?;
    match lines
        .get(stack + 1)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    {
        Some(frame) => Some(format!("{} (at {frame})", message.trim())),
        None => Some(message.trim().to_string()),
    }
}

/// componentize-py writes a Python traceback: its last unindented line is
/// the exception (`ValueError: …`), the `File "…", line N, in f` line
/// before it the innermost frame.
fn python_exception(lines: &[String]) -> Option<String> {
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last)"))?;
    let rest = &lines[start + 1..];
    let exception = rest
        .iter()
        .take_while(|l| !l.starts_with("thread ") && !l.contains("panicked at"))
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .last()?;
    match rest
        .iter()
        .rev()
        .find(|l| l.trim_start().starts_with("File \""))
    {
        Some(frame) => Some(format!("{exception} ({})", frame.trim())),
        None => Some(exception.clone()),
    }
}
