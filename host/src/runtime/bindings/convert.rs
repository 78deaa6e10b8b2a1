//! The conversions between [`crate::runtime::types`] and one WIT version's
//! generated types, written once as a macro: `types`, `log`, `flow` and the
//! dialer's `call-event` are word for word the same in every published
//! version, but bindgen makes distinct Rust types for each version.
//!
//! Expanded inside each version module, where `host`, `wit` (types),
//! `wit_flow`, `wit_dialer` and `wit_log` name that version's modules.

macro_rules! shared_conversions {
    () => {
        // ---- host → guest ------------------------------------------------------

        pub fn lead(l: &host::Lead) -> wit::Lead {
            wit::Lead {
                id: l.id.clone(),
                phone: l.phone.clone(),
                name: l.name.clone(),
                timezone: l.timezone.clone(),
                attributes: l.attributes.clone(),
            }
        }

        pub fn run_context(c: &host::RunContext) -> wit_flow::RunContext {
            wit_flow::RunContext {
                run_id: c.run_id.clone(),
                attempt: c.attempt,
                max_attempts: c.max_attempts,
                settings: c.settings.clone(),
            }
        }

        pub fn call_request(r: &host::CallRequest) -> wit::CallRequest {
            wit::CallRequest {
                to: r.to.clone(),
                caller_id: r.caller_id.clone(),
                timeout_secs: r.timeout_secs,
                idempotency_key: r.idempotency_key.clone(),
                metadata: r.metadata.clone(),
            }
        }

        fn answered_by_to_wit(a: host::AnsweredBy) -> wit::AnsweredBy {
            match a {
                host::AnsweredBy::Human => wit::AnsweredBy::Human,
                host::AnsweredBy::Machine => wit::AnsweredBy::Machine,
                host::AnsweredBy::Fax => wit::AnsweredBy::Fax,
                host::AnsweredBy::Unknown => wit::AnsweredBy::Unknown,
            }
        }

        fn outcome_to_wit(o: &host::Outcome) -> wit::Outcome {
            match o {
                host::Outcome::Answered(a) => wit::Outcome::Answered(answered_by_to_wit(*a)),
                host::Outcome::Busy => wit::Outcome::Busy,
                host::Outcome::NoAnswer => wit::Outcome::NoAnswer,
                host::Outcome::Rejected => wit::Outcome::Rejected,
                host::Outcome::InvalidNumber => wit::Outcome::InvalidNumber,
                host::Outcome::NetworkError => wit::Outcome::NetworkError,
                host::Outcome::Failed(s) => wit::Outcome::Failed(s.clone()),
                host::Outcome::Canceled => wit::Outcome::Canceled,
                host::Outcome::Unknown => wit::Outcome::Unknown,
            }
        }

        pub fn call_report(r: &host::CallReport) -> wit::CallReport {
            wit::CallReport {
                outcome: outcome_to_wit(&r.outcome),
                provider_call_id: r.provider_call_id.clone(),
                ring_secs: r.ring_secs,
                talk_secs: r.talk_secs,
                provider_code: r.provider_code.clone(),
                detail: r.detail.clone(),
            }
        }

        // ---- guest → host ------------------------------------------------------

        fn answered_by_from_wit(a: wit::AnsweredBy) -> host::AnsweredBy {
            match a {
                wit::AnsweredBy::Human => host::AnsweredBy::Human,
                wit::AnsweredBy::Machine => host::AnsweredBy::Machine,
                wit::AnsweredBy::Fax => host::AnsweredBy::Fax,
                wit::AnsweredBy::Unknown => host::AnsweredBy::Unknown,
            }
        }

        fn outcome_from_wit(o: wit::Outcome) -> host::Outcome {
            match o {
                wit::Outcome::Answered(a) => host::Outcome::Answered(answered_by_from_wit(a)),
                wit::Outcome::Busy => host::Outcome::Busy,
                wit::Outcome::NoAnswer => host::Outcome::NoAnswer,
                wit::Outcome::Rejected => host::Outcome::Rejected,
                wit::Outcome::InvalidNumber => host::Outcome::InvalidNumber,
                wit::Outcome::NetworkError => host::Outcome::NetworkError,
                wit::Outcome::Failed(s) => host::Outcome::Failed(s),
                wit::Outcome::Canceled => host::Outcome::Canceled,
                wit::Outcome::Unknown => host::Outcome::Unknown,
            }
        }

        pub fn call_report_from(r: wit::CallReport) -> host::CallReport {
            host::CallReport {
                outcome: outcome_from_wit(r.outcome),
                provider_call_id: r.provider_call_id,
                ring_secs: r.ring_secs,
                talk_secs: r.talk_secs,
                provider_code: r.provider_code,
                detail: r.detail,
            }
        }

        fn call_request_from(r: wit::CallRequest) -> host::CallRequest {
            host::CallRequest {
                to: r.to,
                caller_id: r.caller_id,
                timeout_secs: r.timeout_secs,
                idempotency_key: r.idempotency_key,
                metadata: r.metadata,
            }
        }

        pub fn decision_from(d: wit_flow::Decision) -> host::Decision {
            match d {
                wit_flow::Decision::Dial(r) => host::Decision::Dial(call_request_from(r)),
                wit_flow::Decision::Skip(s) => host::Decision::Skip(s),
            }
        }

        pub fn follow_up_from(f: wit_flow::FollowUp) -> host::FollowUp {
            host::FollowUp {
                retry_after_secs: f.retry_after_secs,
                lead_status: f.lead_status,
                note: f.note,
                tags: f.tags,
            }
        }

        pub fn placement_from(p: wit::Placement) -> host::Placement {
            match p {
                wit::Placement::Finished(r) => host::Placement::Finished(call_report_from(r)),
                wit::Placement::Pending(id) => host::Placement::Pending(id),
            }
        }

        pub fn dial_error_from(e: wit::DialError) -> host::DialError {
            match e {
                wit::DialError::RateLimited(s) => host::DialError::RateLimited(s),
                wit::DialError::Rejected(s) => host::DialError::Rejected(s),
                wit::DialError::Transient(s) => host::DialError::Transient(s),
                wit::DialError::Config(s) => host::DialError::Config(s),
            }
        }

        fn call_state_from(s: wit::CallState) -> host::CallState {
            match s {
                wit::CallState::Queued => host::CallState::Queued,
                wit::CallState::Ringing => host::CallState::Ringing,
                wit::CallState::Answered => host::CallState::Answered,
                wit::CallState::Ended => host::CallState::Ended,
            }
        }

        pub fn call_event_from(e: wit_dialer::CallEvent) -> host::CallEvent {
            host::CallEvent {
                provider_call_id: e.provider_call_id,
                state: call_state_from(e.state),
                report: e.report.map(call_report_from),
            }
        }

        /// Log level of the `log` import, as the lowercase word used in transcripts.
        pub fn level_str(l: wit_log::Level) -> &'static str {
            match l {
                wit_log::Level::Trace => "trace",
                wit_log::Level::Debug => "debug",
                wit_log::Level::Info => "info",
                wit_log::Level::Warn => "warn",
                wit_log::Level::Error => "error",
            }
        }
    };
}

pub(super) use shared_conversions;
