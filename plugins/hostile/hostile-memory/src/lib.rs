//! Hostile flow: `plan` allocates 1 MiB blocks (each touched, so they are
//! really committed) and keeps them forever, growing linear memory until the
//! host's memory cap refuses `memory.grow`; the allocation failure then
//! aborts (a trap). Never returns normally.
use dialplane_guest::prelude::*;

struct HostileMemory;

impl Flow for HostileMemory {
    fn plan(_ctx: &RunContext, _lead: &Lead) -> Decision {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let block = vec![0xA5u8; 1 << 20];
            hoard.push(std::hint::black_box(block));
        }
    }
}

export_flow!(HostileMemory);
