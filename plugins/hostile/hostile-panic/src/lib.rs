//! Hostile flow: `plan` panics with the message
//! `hostile-panic: deliberate panic in plan`. A Rust panic aborts, which
//! traps as "unreachable"; the message goes to the guest's stderr, so the
//! host can report it. `on-result` is harmless.
use dialplane_guest::prelude::*;

/// The exact panic message, for tests to look for.
pub const MESSAGE: &str = "hostile-panic: deliberate panic in plan";

struct HostilePanic;

impl Flow for HostilePanic {
    fn plan(_ctx: &RunContext, _lead: &Lead) -> Decision {
        panic!("{MESSAGE}");
    }
}

export_flow!(HostilePanic);
