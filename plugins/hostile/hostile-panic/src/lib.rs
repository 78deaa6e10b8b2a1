//! Hostile flow: `plan` fails the way each guest language does, picked by
//! the lead's id, so the host's report of a guest exception can be tested
//! without a JavaScript or Python toolchain:
//! - any id: a Rust panic with [`MESSAGE`] (the message goes to stderr as
//!   `panicked at …`, then the abort traps as "unreachable");
//! - `js`: what componentize-js writes for an uncaught `throw new
//!   Error("…")` ([`JS_ERROR`] and a stack), then the trap;
//! - `py`: what componentize-py writes for an uncaught exception (a
//!   traceback ending in [`PY_ERROR`]), then the trap.
//!
//! `on-result` is harmless.
use std::io::Write;

use dialplane_guest::prelude::*;

/// The exact panic message, for tests to look for.
pub const MESSAGE: &str = "hostile-panic: deliberate panic in plan";
/// The error line of the JavaScript-style failure.
pub const JS_ERROR: &str = "Error: no slot left for this lead";
/// The last line of the Python-style traceback.
pub const PY_ERROR: &str = "ValueError: lead has no segment";

struct HostilePanic;

/// Writes `text` to stderr and traps without a Rust panic message.
fn die(text: &str) -> ! {
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    std::process::abort()
}

impl Flow for HostilePanic {
    fn plan(_ctx: &RunContext, lead: &Lead) -> Decision {
        match lead.id.as_str() {
            "js" => die(&format!(
                "{JS_ERROR}\n    at plan (flow.js:12:11)\n    at <anonymous> (flow.js:30:5)\n"
            )),
            "py" => die(&format!(
                "Traceback (most recent call last):\n  File \"app.py\", line 9, in plan\n    raise ValueError(\"lead has no segment\")\n{PY_ERROR}\n"
            )),
            _ => panic!("{MESSAGE}"),
        }
    }
}

export_flow!(HostilePanic);
