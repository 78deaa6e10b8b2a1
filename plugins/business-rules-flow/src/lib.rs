//! `business-rules-flow`: a flow with business rules on top of dialing.
//!
//! | run setting     | default              | meaning |
//! |-----------------|----------------------|---------|
//! | `skip_attr`     | `do_not_call_reason` | skip a lead whose attribute of this name is non-empty |
//! | `skip_segments` | (none)               | comma list: skip a lead whose `segment` attribute is one of these (trimmed, case-sensitive) |
//! | `daily_cap`     | (no cap)             | at most this many calls per UTC day for the tenant |
//! | `timeout_secs`  | 30                   | ring timeout |
//! | `retry_delay_secs` | (no retry)        | retry busy / no-answer after this many seconds |
//! | `tag_attr`      | (none)               | also tag the lead with its attribute of this name, verbatim |
//!
//! `plan`, in order: skip with `"<skip_attr>: <value>"`; skip with
//! `"segment <s> is excluded"`; when `daily_cap` is set and the counter
//! `calls/<YYYY-MM-DD>` (UTC, from the WASI wall clock) in `tenant-store`
//! has reached it, skip with `"daily cap of N calls reached"`; otherwise
//! increment the counter and dial. The counter counts planned calls (a call
//! the platform then defers still counts). It uses the atomic
//! `tenant-store.increment`, so concurrent instances of one tenant on any
//! worker never exceed the cap together; it is still a business cap, not a
//! compliance control (the platform enforces those).
//!
//! `on-result` tags by outcome and sets the lead status:
//!
//! | outcome                         | tag           | lead-status   |
//! |---------------------------------|---------------|---------------|
//! | answered(human)                 | `answered`    | `contacted`   |
//! | answered(machine / fax / unknown) | `voicemail` | `left-message`|
//! | busy, no-answer, canceled       | `unreachable` | (unchanged)   |
//! | invalid-number                  | `bad-number`  | `invalid`     |
//! | rejected                        | `declined`    | `declined`    |
//! | network-error, failed, unknown  | `error`       | (unchanged)   |
//!
//! With `retry_delay_secs`, a busy or unanswered call is retried after that
//! delay while `attempt < max-attempts`, with the note
//! `"<outcome> on attempt A of M, retry in Ns"`; the last one sets the lead
//! status `unreachable` with the note `"<outcome> on attempt A of M, no
//! attempt left"`. With `tag_attr`, the lead's attribute of that name (if it
//! has one) is added as a tag as it is, even when the platform cannot store
//! it (empty, over 256 characters): the run says so in the attempt's note.
use dialplane_guest::prelude::*;

pub struct BusinessRulesFlow;

/// The `tenant-store` key of today's call counter.
pub fn counter_key(date: &str) -> String {
    format!("calls/{date}")
}

/// Why `lead` must not be called under `ctx`'s rules (store-free checks).
pub fn rule_skip(ctx: &RunContext, lead: &Lead) -> Option<String> {
    let skip_attr = ctx.setting("skip_attr").unwrap_or("do_not_call_reason");
    if let Some(reason) = lead.attr(skip_attr).filter(|v| !v.trim().is_empty()) {
        return Some(format!("{skip_attr}: {reason}"));
    }
    let segment = lead.attr("segment").map(str::trim).unwrap_or("");
    let excluded = ctx.setting("skip_segments").unwrap_or("");
    if !segment.is_empty() && excluded.split(',').any(|s| s.trim() == segment) {
        return Some(format!("segment {segment} is excluded"));
    }
    None
}

impl Flow for BusinessRulesFlow {
    fn plan(ctx: &RunContext, lead: &Lead) -> Decision {
        if let Some(reason) = rule_skip(ctx, lead) {
            log::info(format!("lead {}: skip ({reason})", lead.id));
            return Decision::Skip(reason);
        }
        let (cap, timeout) = match (
            ctx.setting_parsed::<u64>("daily_cap", u64::MAX),
            ctx.setting_parsed("timeout_secs", 30u32),
        ) {
            (Ok(cap), Ok(timeout)) => (cap, timeout),
            (Err(e), _) | (_, Err(e)) => {
                log::error(format!("lead {}: skip: {e}", lead.id));
                return Decision::Skip(e.to_string());
            }
        };
        let key = counter_key(&clock::utc_date());
        // Count first, atomically, then give the slot back if over the cap:
        // concurrent instances can never both take the last one.
        let used = match store::increment(&key, 1) {
            Ok(n) => n,
            Err(e) => {
                log::error(format!(
                    "lead {}: skip, cannot count the call: {e}",
                    lead.id
                ));
                return Decision::Skip(format!("cannot count the call in {key}: {e}"));
            }
        };
        if used as u64 > cap {
            if let Err(e) = store::increment(&key, -1) {
                log::error(format!("lead {}: cannot give back the count: {e}", lead.id));
            }
            log::info(format!(
                "lead {}: skip, {} calls today (cap {cap})",
                lead.id,
                used - 1
            ));
            return Decision::Skip(format!("daily cap of {cap} calls reached"));
        }
        log::info(format!("lead {}: dial, call {used} today", lead.id));
        Decision::Dial(lead.call().timeout(timeout))
    }

    fn on_result(ctx: &RunContext, lead: &Lead, report: &CallReport) -> FollowUp {
        let (tag, status) = match report.outcome {
            Outcome::Answered(AnsweredBy::Human) => ("answered", Some("contacted")),
            Outcome::Answered(_) => ("voicemail", Some("left-message")),
            Outcome::Busy | Outcome::NoAnswer | Outcome::Canceled => ("unreachable", None),
            Outcome::InvalidNumber => ("bad-number", Some("invalid")),
            Outcome::Rejected => ("declined", Some("declined")),
            Outcome::NetworkError | Outcome::Failed(_) | Outcome::Unknown => ("error", None),
        };
        log::info(format!(
            "lead {}: {} -> tag {tag}",
            lead.id,
            report.outcome.label()
        ));
        let mut follow = FollowUp::none().tag(tag);
        if let Some(value) = ctx.setting("tag_attr").and_then(|a| lead.attr(a)) {
            follow = follow.tag(value);
        }
        let follow = match status {
            Some(s) => follow.status(s),
            None => follow,
        };
        if matches!(report.outcome, Outcome::Busy | Outcome::NoAnswer) {
            return retry_or_give_up(ctx, report, follow);
        }
        follow
    }
}

/// With `retry_delay_secs` set: a retry while attempts are left, else the
/// status `unreachable`; each with a note saying which.
fn retry_or_give_up(ctx: &RunContext, report: &CallReport, follow: FollowUp) -> FollowUp {
    let delay = match ctx.setting("retry_delay_secs").map(str::parse::<u32>) {
        None => return follow,
        Some(Ok(delay)) => delay,
        Some(Err(e)) => return follow.note(format!("no retry: retry_delay_secs: {e}")),
    };
    let label = report.outcome.label();
    let (a, m) = (ctx.attempt, ctx.max_attempts);
    if ctx.can_retry() {
        FollowUp {
            retry_after_secs: Some(delay),
            ..follow.note(format!("{label} on attempt {a} of {m}, retry in {delay}s"))
        }
    } else {
        follow
            .status("unreachable")
            .note(format!("{label} on attempt {a} of {m}, no attempt left"))
    }
}

export_flow!(BusinessRulesFlow);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(settings: &[(&str, &str)]) -> RunContext {
        RunContext {
            run_id: "r".into(),
            attempt: 1,
            max_attempts: 3,
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn lead(attrs: &[(&str, &str)]) -> Lead {
        Lead {
            id: "l1".into(),
            phone: "+14155550127".into(),
            name: None,
            timezone: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn rules() {
        assert_eq!(rule_skip(&ctx(&[]), &lead(&[])), None);
        assert_eq!(
            rule_skip(&ctx(&[]), &lead(&[("do_not_call_reason", "asked")])).as_deref(),
            Some("do_not_call_reason: asked")
        );
        assert_eq!(
            rule_skip(&ctx(&[]), &lead(&[("do_not_call_reason", " ")])),
            None
        );
        let c = ctx(&[("skip_attr", "vip"), ("skip_segments", "gold, silver")]);
        assert_eq!(
            rule_skip(&c, &lead(&[("vip", "y")])).as_deref(),
            Some("vip: y")
        );
        assert_eq!(
            rule_skip(&c, &lead(&[("segment", "silver")])).as_deref(),
            Some("segment silver is excluded")
        );
        assert_eq!(rule_skip(&c, &lead(&[("segment", "bronze")])), None);
    }
}
