//! Hostile flow: `plan` spins forever (no host calls, no memory growth), so
//! only the host's wall-clock deadline (epoch interruption) or fuel stops it.
//! `on-result` is harmless.
use dialplane_guest::prelude::*;

struct HostileLoop;

impl Flow for HostileLoop {
    fn plan(_ctx: &RunContext, _lead: &Lead) -> Decision {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export_flow!(HostileLoop);
