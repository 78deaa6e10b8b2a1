//! [`FlowInstance`]: a call flow bound to one tenant, its two exports called
//! under the instance's limits, whatever WIT version it was built against.

use super::bindings::FlowBindings;
use super::instance::Core;
use super::output_check::OutputCheck;
use super::{CallReport, Decision, FollowUp, Lead, LogLine, PluginError, RunContext};

/// A call-flow instance bound to one tenant.
pub struct FlowInstance {
    core: Core,
    bindings: FlowBindings,
}

impl FlowInstance {
    pub(super) fn new(core: Core, bindings: FlowBindings) -> Self {
        FlowInstance { core, bindings }
    }

    pub async fn plan(&mut self, ctx: &RunContext, lead: &Lead) -> Result<Decision, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self.bindings.plan(&mut self.core.store, ctx, lead);
        let r = tokio::time::timeout(timeout, fut).await;
        let d = self.core.finish(r)?;
        let check = OutputCheck::new(self.core.max_output_bytes()).decision(&d);
        self.core.check_output(check)?;
        Ok(d)
    }

    pub async fn on_result(
        &mut self,
        ctx: &RunContext,
        lead: &Lead,
        report: &CallReport,
    ) -> Result<FollowUp, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self
            .bindings
            .on_result(&mut self.core.store, ctx, lead, report);
        let r = tokio::time::timeout(timeout, fut).await;
        let f = self.core.finish(r)?;
        let check = OutputCheck::new(self.core.max_output_bytes()).follow_up(&f);
        self.core.check_output(check)?;
        Ok(f)
    }

    /// Log lines since the last call of `take_logs`.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        self.core.take_logs()
    }

    /// True after any failure: every further call answers `Poisoned`.
    pub fn is_poisoned(&self) -> bool {
        self.core.is_poisoned()
    }

    /// Bytes of linear memory and tables the instance holds.
    pub fn memory_used(&self) -> usize {
        self.core.memory_used()
    }
}
