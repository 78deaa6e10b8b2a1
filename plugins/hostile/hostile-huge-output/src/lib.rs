//! Hostile flow: `plan` returns `skip(reason)` where `reason` is 16 MiB of
//! `x`, to prove the host caps plugin output (`max_output_bytes`) instead of
//! storing or logging it. `on-result` returns a 16 MiB note likewise.
use dialplane_guest::prelude::*;

/// Length of the returned string, in bytes.
pub const HUGE_LEN: usize = 16 << 20;

struct HostileHugeOutput;

impl Flow for HostileHugeOutput {
    fn plan(_ctx: &RunContext, _lead: &Lead) -> Decision {
        Decision::Skip("x".repeat(HUGE_LEN))
    }

    fn on_result(_ctx: &RunContext, _lead: &Lead, _report: &CallReport) -> FollowUp {
        FollowUp::none().note("x".repeat(HUGE_LEN))
    }
}

export_flow!(HostileHugeOutput);
