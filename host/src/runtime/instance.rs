//! What every instance (flow or dialer) shares: its `Store`, the limits
//! applied around each export call, and poisoning.
//!
//! Around each call: fresh fuel (if enabled), an epoch deadline of
//! `ceil(deadline / tick)` ticks — the guest yields to tokio at every tick, so
//! a spinning plugin never holds a worker thread for long — and a tokio
//! timeout of deadline + grace, which also stops a host call that hangs
//! (the epoch cannot interrupt one). After any failure the store may hold
//! half-updated guest state, so the instance refuses every further call.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use super::failure::classify;
use super::store_data::StoreData;
use super::{LogLine, PluginError, PluginFailure, PluginMeta};
use crate::model::TenantId;

pub struct Core {
    pub store: Store<StoreData>,
    deadline: Duration,
    deadline_ticks: u64,
    grace: Duration,
    fuel: Option<u64>,
    max_output_bytes: usize,
    poisoned: bool,
}

impl Core {
    pub fn new(
        mut store: Store<StoreData>,
        deadline: Duration,
        deadline_ticks: u64,
        grace: Duration,
        fuel: Option<u64>,
        max_output_bytes: usize,
    ) -> Self {
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let d = ctx.data_mut();
            d.ticks_left = d.ticks_left.saturating_sub(1);
            if d.ticks_left == 0 {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Core {
            store,
            deadline,
            deadline_ticks,
            grace,
            fuel,
            max_output_bytes,
            poisoned: false,
        }
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.store.data().meta
    }

    pub fn tenant(&self) -> TenantId {
        self.store.data().scope.tenant
    }

    pub fn max_output_bytes(&self) -> usize {
        self.max_output_bytes
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    pub fn error(&self, cause: PluginFailure) -> PluginError {
        PluginError {
            plugin: self.meta().clone(),
            tenant: Some(self.tenant()),
            cause,
        }
    }

    /// Arms the limits for one export call (or refuses if poisoned).
    pub fn begin(&mut self) -> Result<(), PluginError> {
        if self.poisoned {
            return Err(self.error(PluginFailure::Poisoned));
        }
        if let Some(fuel) = self.fuel {
            self.store
                .set_fuel(fuel)
                .map_err(|e| self.error(PluginFailure::Host(e.to_string())))?;
        }
        self.store.data_mut().ticks_left = self.deadline_ticks;
        self.store.set_epoch_deadline(1);
        Ok(())
    }

    /// The tokio timeout put around a call.
    pub fn hard_timeout(&self) -> Duration {
        self.deadline + self.grace
    }

    /// Settles one export call: flushes captured stdio, classifies a
    /// failure and poisons the instance on any failure.
    pub fn finish<T>(
        &mut self,
        r: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, PluginError> {
        let d = self.store.data();
        d.stdout.flush_partial();
        d.stderr.flush_partial();
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let cause = classify(&e, self.store.data(), self.deadline, self.fuel);
                Err(self.fail(cause))
            }
            Err(_elapsed) => Err(self.fail(PluginFailure::DeadlineExceeded(self.deadline))),
        }
    }

    /// Poisons the instance and builds the error.
    pub fn fail(&mut self, cause: PluginFailure) -> PluginError {
        self.poisoned = true;
        let err = self.error(cause);
        tracing::warn!(tenant = self.tenant().0, plugin = %self.meta().name, failure = err.cause.label(), "{err}");
        err
    }

    /// Checks a returned value's sizes; an oversized answer poisons.
    pub fn check_output(&mut self, r: Result<(), String>) -> Result<(), PluginError> {
        r.map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))
    }

    pub fn take_logs(&mut self) -> Vec<LogLine> {
        self.store.data().logs.take()
    }

    /// Bytes of memories and tables the instance holds.
    pub fn memory_used(&self) -> usize {
        self.store.data().limiter.used()
    }
}
