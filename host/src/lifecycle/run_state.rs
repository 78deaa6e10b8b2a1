//! One claimed run as its driver and the per-lead steps see it: the claim,
//! its control, and its plugins.

use std::sync::Arc;

use super::run_control::RunControl;
use super::run_plugins::RunPlugins;
use crate::runtime::RunContext;
use crate::store::ClaimedRun;

/// A claimed run with its plugins.
pub struct RunState {
    pub claimed: ClaimedRun,
    pub ctl: Arc<RunControl>,
    pub plugins: RunPlugins,
}

impl RunState {
    pub fn context(&self, attempt: u32) -> RunContext {
        RunContext {
            run_id: self.claimed.lease.run.to_string(),
            attempt,
            max_attempts: self.claimed.settings.max_attempts,
            settings: self.claimed.settings.flow.clone(),
        }
    }
}
