//! The memory cap of one instance: a [`ResourceLimiter`] that sums every
//! linear memory and table of the instance.
//!
//! wasmtime's `StoreLimits` caps each memory separately, so a component with
//! several memories could use a multiple of the cap; this limiter charges all
//! of them against one budget. When the budget is exceeded it traps at once
//! (rather than letting `memory.grow` return -1, which a Rust guest turns into
//! an abort that looks like any other trap) and remembers that it did, so the
//! failure is reported as [`PluginFailure::MemoryLimit`](super::PluginFailure).

use wasmtime::ResourceLimiter;

/// Bytes charged per table element (a function reference is one pointer).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Error raised inside the guest when the cap is hit; recognised by
/// `failure::classify`.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {0} bytes exceeded")]
pub struct MemoryLimitHit(pub usize);

pub struct MemoryLimiter {
    cap: usize,
    used: usize,
    /// Set once the cap was hit; the instance is poisoned from then on.
    pub hit: bool,
}

impl MemoryLimiter {
    pub fn new(cap: usize) -> Self {
        MemoryLimiter {
            cap,
            used: 0,
            hit: false,
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes currently charged (all memories + tables).
    pub fn used(&self) -> usize {
        self.used
    }

    fn charge(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let extra = desired.saturating_sub(current);
        match self.used.checked_add(extra) {
            Some(total) if total <= self.cap => {
                self.used = total;
                Ok(true)
            }
            _ => {
                self.hit = true;
                Err(MemoryLimitHit(self.cap).into())
            }
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.charge(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.charge(
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }
}
