//! The process's wasmtime [`Engine`] and the epoch ticker that drives plugin
//! deadlines.
//!
//! Epoch interruption is cheap (a counter check at loop heads and function
//! entries) compared with fuel; fuel is only switched on when
//! [`Limits::fuel`](super::Limits) asks for deterministic budgets.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::{HostOptions, Limits};

/// Guest call-stack budget; deep recursion traps with "stack overflow".
const MAX_WASM_STACK: usize = 512 << 10;
/// Native stack of each async call fiber (must exceed `MAX_WASM_STACK` plus
/// room for host functions).
const ASYNC_STACK: usize = 2 << 20;
/// Core instances / tables a Rust wasip2 component uses is small (its module
/// plus a few adapter shims); these bound the pool per component instance.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 8;

pub fn build(limits: &Limits, opts: &HostOptions) -> anyhow::Result<Engine> {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(limits.fuel.is_some())
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    if opts.pool_instances > 0 {
        // Pays off when instances are created often (one per tenant batch):
        // slots are pre-reserved and reset with madvise instead of mmap/munmap.
        let n = opts.pool_instances;
        let mut p = PoolingAllocationConfig::default();
        p.total_component_instances(n)
            .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(n * MEMORIES_PER_COMPONENT)
            .total_tables(n * TABLES_PER_COMPONENT)
            .total_stacks(n)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            // The limiter enforces the real cap (summed over memories); the
            // slot only has to be at least that large.
            .max_memory_size(round_up_to_page(limits.memory_bytes));
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    Engine::new(&c).map_err(|e| anyhow::anyhow!("cannot create the wasmtime engine: {e:#}"))
}

fn round_up_to_page(bytes: usize) -> usize {
    const PAGE: usize = 64 << 10;
    bytes.div_ceil(PAGE).max(1) * PAGE
}

/// Increments the engine's epoch every `tick` on a background thread, until
/// the engine is dropped.
pub struct EpochTicker {
    pub tick: Duration,
}

impl EpochTicker {
    pub fn start(engine: &Engine, tick: Duration) -> anyhow::Result<Self> {
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("dialplane-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })?;
        Ok(EpochTicker { tick })
    }

    /// Whole ticks covering `deadline` (at least one).
    pub fn ticks(&self, deadline: Duration) -> u64 {
        let tick = self.tick.as_nanos().max(1);
        (deadline.as_nanos().div_ceil(tick)).max(1) as u64
    }
}
