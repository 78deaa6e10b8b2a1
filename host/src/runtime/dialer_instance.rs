//! [`DialerInstance`]: a dialer adapter bound to one tenant, its exports
//! called under the instance's limits (the dialer deadline), whatever WIT
//! version it was built against. What an older version lacks is answered
//! here in the newest terms (see [`super::bindings::DialerBindings`]).

use super::bindings::DialerBindings;
use super::instance::Core;
use super::output_check::OutputCheck;
use super::{
    CallEvent, CallRequest, CallbackError, CallbackRequest, ConfigProblem, DialError, LogLine,
    Placement, PluginError, Properties,
};

/// A dialer-adapter instance bound to one tenant.
pub struct DialerInstance {
    core: Core,
    bindings: DialerBindings,
}

impl DialerInstance {
    pub(super) fn new(core: Core, bindings: DialerBindings) -> Self {
        DialerInstance { core, bindings }
    }

    pub async fn place_call(
        &mut self,
        config: &Properties,
        req: &CallRequest,
    ) -> Result<Result<Placement, DialError>, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self.bindings.place_call(&mut self.core.store, config, req);
        let r = tokio::time::timeout(timeout, fut).await;
        let out = self.core.finish(r)?;
        let mut c = OutputCheck::new(self.core.max_output_bytes());
        let check = match &out {
            Ok(p) => c.placement(p),
            Err(e) => c.dial_error(e),
        };
        self.core.check_output(check)?;
        Ok(out)
    }

    pub async fn hangup(
        &mut self,
        config: &Properties,
        provider_call_id: &str,
    ) -> Result<Result<(), DialError>, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self
            .bindings
            .hangup(&mut self.core.store, config, provider_call_id);
        let r = tokio::time::timeout(timeout, fut).await;
        let out = self.core.finish(r)?;
        let check = match &out {
            Ok(()) => Ok(()),
            Err(e) => OutputCheck::new(self.core.max_output_bytes()).dial_error(e),
        };
        self.core.check_output(check)?;
        Ok(out)
    }

    pub async fn lookup(
        &mut self,
        config: &Properties,
        idempotency_key: &str,
    ) -> Result<Result<Option<Placement>, DialError>, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self
            .bindings
            .lookup(&mut self.core.store, config, idempotency_key);
        let r = tokio::time::timeout(timeout, fut).await;
        let out = self.core.finish(r)?;
        let mut c = OutputCheck::new(self.core.max_output_bytes());
        let check = match &out {
            Ok(Some(p)) => c.placement(p),
            Ok(None) => Ok(()),
            Err(e) => c.dial_error(e),
        };
        self.core.check_output(check)?;
        Ok(out)
    }

    /// Checks the presence and form of `config`'s keys (no network). A 0.1.0
    /// adapter has nothing to ask: `Ok(Ok(()))`.
    pub async fn validate_config(
        &mut self,
        config: &Properties,
    ) -> Result<Result<(), ConfigProblem>, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self.bindings.validate_config(&mut self.core.store, config);
        let r = tokio::time::timeout(timeout, fut).await;
        let out = self.core.finish(r)?;
        let check = match &out {
            Ok(()) => Ok(()),
            Err(p) => OutputCheck::new(self.core.max_output_bytes()).config_problem(p),
        };
        self.core.check_output(check)?;
        Ok(out)
    }

    /// Authenticates and decodes a provider callback. A 0.1.0 adapter sees
    /// only headers and body, and its error is [`CallbackError::Malformed`].
    pub async fn parse_callback(
        &mut self,
        config: &Properties,
        req: &CallbackRequest,
    ) -> Result<Result<Option<CallEvent>, CallbackError>, PluginError> {
        self.core.begin()?;
        let timeout = self.core.hard_timeout();
        let fut = self
            .bindings
            .parse_callback(&mut self.core.store, config, req);
        let r = tokio::time::timeout(timeout, fut).await;
        let out = self.core.finish(r)?;
        let mut c = OutputCheck::new(self.core.max_output_bytes());
        let check = match &out {
            Ok(Some(e)) => c.call_event(e),
            Ok(None) => Ok(()),
            Err(e) => c.callback_error(e),
        };
        self.core.check_output(check)?;
        Ok(out)
    }

    pub fn take_logs(&mut self) -> Vec<LogLine> {
        self.core.take_logs()
    }

    /// True after any failure: every further call answers `Poisoned`.
    pub fn is_poisoned(&self) -> bool {
        self.core.is_poisoned()
    }
}
