//! Hostile flow: `plan` fails the way each guest language does, picked by
//! the lead's id, so the host's report of a guest exception is tested
//! without a JavaScript or Python toolchain (stderr copied from
//! componentize-js 0.23 and componentize-py 0.25 components):
//! - any id: a Rust panic with [`MESSAGE`] (the message goes to stderr as
//!   `panicked at …`, then the abort traps as "unreachable");
//! - `js`: an uncaught `throw new Error(JS_MESSAGE)`: the message, `Stack:`
//!   and its frames, then the abort;
//! - `py`: an uncaught `raise ValueError(…)`: the traceback ending in
//!   [`PY_ERROR`], then componentize-py's own runtime panic.
//!
//! `on-result` is harmless.
use std::io::Write;

use dialplane_guest::prelude::*;

/// The exact panic message, for tests to look for.
pub const MESSAGE: &str = "hostile-panic: deliberate panic in plan";
/// The message of the JavaScript-style error.
pub const JS_MESSAGE: &str = "no slot left for this lead";
/// The last line of the Python-style traceback.
pub const PY_ERROR: &str = "ValueError: lead has no segment";

struct HostilePanic;

fn stderr(text: &str) {
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

impl Flow for HostilePanic {
    fn plan(_ctx: &RunContext, lead: &Lead) -> Decision {
        match lead.id.as_str() {
            "js" => {
                stderr(&format!(
                    "{JS_MESSAGE}\nStack:\n  plan@flow.js:30:34\n  export_flow_0_2_0$plan@initializer.js:525:15\n\nRedirecting call to abort() to mozalloc_abort\n\n"
                ));
                std::process::abort()
            }
            "py" => {
                stderr(&format!(
                    "Traceback (most recent call last):\n  File \"/0/app.py\", line 46, in plan\n    raise ValueError(\"lead has no segment\")\n{PY_ERROR}\n\n"
                ));
                panic!("Python function threw an unexpected exception")
            }
            _ => panic!("{MESSAGE}"),
        }
    }
}

export_flow!(HostilePanic);
