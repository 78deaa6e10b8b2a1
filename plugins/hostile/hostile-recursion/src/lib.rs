//! Hostile flow: `plan` recurses without bound (each frame keeps 1 KiB live
//! on the stack), so it exhausts the guest's stack: a trap (stack overflow
//! or out-of-bounds memory access), never a host crash.
use dialplane_guest::prelude::*;

struct HostileRecursion;

#[inline(never)]
#[allow(unconditional_recursion)] // the point of this component
fn dive(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    let below = dive(std::hint::black_box(depth + 1));
    below.wrapping_add(u64::from(frame[(depth % 1024) as usize]))
}

impl Flow for HostileRecursion {
    fn plan(_ctx: &RunContext, _lead: &Lead) -> Decision {
        Decision::Skip(format!("unreachable: {}", dive(0)))
    }
}

export_flow!(HostileRecursion);
