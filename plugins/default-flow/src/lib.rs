//! `default-flow`: dial every lead; retry busy and unanswered calls.
//!
//! | run setting        | default | meaning                                  |
//! |--------------------|---------|------------------------------------------|
//! | `timeout_secs`     | 30      | ring timeout of every call               |
//! | `retry_delay_secs` | 300     | delay before retrying busy / no-answer   |
//!
//! `plan`: always `dial` the lead's number with `timeout_secs` (an invalid
//! setting value is not guessed at: the lead is skipped with a reason naming
//! the setting). `on-result`: tags the lead with the outcome label
//! (`answered-human`, `busy`, … see `Outcome::label`); on `busy` or
//! `no-answer`, asks for a retry after `retry_delay_secs` while
//! `attempt < max-attempts`, else tags `attempts-exhausted`. Logs one line
//! per decision.
use dialplane_guest::prelude::*;

pub struct DefaultFlow;

impl Flow for DefaultFlow {
    fn plan(ctx: &RunContext, lead: &Lead) -> Decision {
        match ctx.setting_parsed("timeout_secs", 30u32) {
            Ok(timeout) => {
                log::info(format!(
                    "lead {}: dial {} (timeout {timeout}s, attempt {}/{})",
                    lead.id, lead.phone, ctx.attempt, ctx.max_attempts
                ));
                Decision::Dial(lead.call().timeout(timeout))
            }
            Err(e) => {
                log::error(format!("lead {}: skip: {e}", lead.id));
                Decision::Skip(e.to_string())
            }
        }
    }

    fn on_result(ctx: &RunContext, lead: &Lead, report: &CallReport) -> FollowUp {
        let label = report.outcome.label();
        let follow = FollowUp::none().tag(label);
        if !matches!(report.outcome, Outcome::Busy | Outcome::NoAnswer) {
            log::info(format!("lead {}: {label}, done", lead.id));
            return follow;
        }
        if !ctx.can_retry() {
            log::info(format!(
                "lead {}: {label}, attempt {} of {}: no retry left",
                lead.id, ctx.attempt, ctx.max_attempts
            ));
            return follow.tag("attempts-exhausted");
        }
        let delay = match ctx.setting_parsed("retry_delay_secs", 300u32) {
            Ok(delay) => delay,
            Err(e) => {
                log::error(format!("lead {}: no retry: {e}", lead.id));
                return follow.note(e.to_string());
            }
        };
        log::info(format!("lead {}: {label}, retry in {delay}s", lead.id));
        FollowUp {
            retry_after_secs: Some(delay),
            ..follow
        }
    }
}

export_flow!(DefaultFlow);
