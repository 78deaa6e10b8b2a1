//! Test dialer: `place-call` waits `delay_ms` (config key, default 0) on
//! WASI's monotonic clock, then answers `finished(answered(human))` with
//! provider call id `slow-<idempotency-key>`. It exists for the dialer
//! deadline test: a wait longer than a flow's deadline but shorter than a
//! dialer's succeeds; a longer one is interrupted. Everything else is inert.
use dialplane_guest::prelude::*;

struct SlowDialer;

impl Dialer for SlowDialer {
    fn validate_config(config: &Properties) -> Result<(), ConfigProblem> {
        match prop(config, "delay_ms").map(|v| v.parse::<u64>()) {
            Some(Err(_)) => Err(ConfigProblem::new("delay_ms", "must be a number")),
            _ => Ok(()),
        }
    }

    fn place_call(config: &Properties, req: &CallRequest) -> Result<Placement, DialError> {
        let delay_ms: u64 = prop(config, "delay_ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // std's sleep on wasip2 blocks on a monotonic-clock pollable.
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let mut report = CallReport::new(Outcome::Answered(AnsweredBy::Human));
        report.provider_call_id = Some(format!("slow-{}", req.idempotency_key));
        log::info(format!("answered after {delay_ms} ms"));
        Ok(Placement::Finished(report))
    }

    fn hangup(_config: &Properties, _provider_call_id: &str) -> Result<(), DialError> {
        Ok(())
    }

    fn lookup(_config: &Properties, _key: &str) -> Result<Option<Placement>, DialError> {
        Ok(None)
    }

    fn parse_callback(
        _config: &Properties,
        _req: &CallbackRequest,
    ) -> Result<Option<CallEvent>, CallbackError> {
        Ok(None)
    }
}

export_dialer!(SlowDialer);
