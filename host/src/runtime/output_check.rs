//! Bounds on what a plugin returns: no string or list larger than
//! [`Limits::max_output_bytes`](super::Limits), and not more than that in
//! total, so a plugin cannot push megabytes into job rows and transcripts.
//! (The instance's memory cap already bounds what the host can be made to copy.)

use super::types::*;

/// Accumulates sizes of one returned value and names the first field over.
pub struct OutputCheck {
    max: usize,
    total: usize,
}

impl OutputCheck {
    pub fn new(max: usize) -> Self {
        OutputCheck { max, total: 0 }
    }

    fn field(&mut self, name: &str, len: usize) -> Result<(), String> {
        self.total = self.total.saturating_add(len);
        if len > self.max {
            return Err(format!(
                "`{name}` is {len} bytes, the limit is {}",
                self.max
            ));
        }
        if self.total > self.max {
            return Err(format!(
                "the answer is over {} bytes in total (at `{name}`)",
                self.max
            ));
        }
        Ok(())
    }

    fn opt(&mut self, name: &str, s: &Option<String>) -> Result<(), String> {
        self.field(name, s.as_deref().map_or(0, str::len))
    }

    fn props(&mut self, name: &str, p: &Properties) -> Result<(), String> {
        for (k, v) in p {
            self.field(name, k.len() + v.len())?;
        }
        Ok(())
    }

    pub fn decision(&mut self, d: &Decision) -> Result<(), String> {
        match d {
            Decision::Skip(reason) => self.field("skip", reason.len()),
            Decision::Dial(r) => self.call_request(r),
        }
    }

    pub fn call_request(&mut self, r: &CallRequest) -> Result<(), String> {
        self.field("call-request.to", r.to.len())?;
        self.opt("call-request.caller-id", &r.caller_id)?;
        self.field("call-request.idempotency-key", r.idempotency_key.len())?;
        self.props("call-request.metadata", &r.metadata)
    }

    pub fn follow_up(&mut self, f: &FollowUp) -> Result<(), String> {
        self.opt("follow-up.lead-status", &f.lead_status)?;
        self.opt("follow-up.note", &f.note)?;
        for t in &f.tags {
            self.field("follow-up.tags", t.len())?;
        }
        Ok(())
    }

    pub fn call_report(&mut self, r: &CallReport) -> Result<(), String> {
        if let Outcome::Failed(code) = &r.outcome {
            self.field("call-report.outcome.failed", code.len())?;
        }
        self.opt("call-report.provider-call-id", &r.provider_call_id)?;
        self.opt("call-report.provider-code", &r.provider_code)?;
        self.opt("call-report.detail", &r.detail)
    }

    pub fn placement(&mut self, p: &Placement) -> Result<(), String> {
        match p {
            Placement::Finished(r) => self.call_report(r),
            Placement::Pending(id) => self.field("placement.pending", id.len()),
        }
    }

    pub fn dial_error(&mut self, e: &DialError) -> Result<(), String> {
        match e {
            DialError::RateLimited(_) => Ok(()),
            DialError::Rejected(s) | DialError::Transient(s) | DialError::Config(s) => {
                self.field("dial-error", s.len())
            }
        }
    }

    pub fn call_event(&mut self, e: &CallEvent) -> Result<(), String> {
        self.field("call-event.provider-call-id", e.provider_call_id.len())?;
        match &e.report {
            Some(r) => self.call_report(r),
            None => Ok(()),
        }
    }

    pub fn config_problem(&mut self, p: &ConfigProblem) -> Result<(), String> {
        self.field("config-problem.key", p.key.len())?;
        self.field("config-problem.message", p.message.len())
    }

    pub fn callback_error(&mut self, e: &CallbackError) -> Result<(), String> {
        match e {
            CallbackError::Malformed(m) => self.field("callback-error.malformed", m.len()),
            CallbackError::Unauthenticated(m) => {
                self.field("callback-error.unauthenticated", m.len())
            }
        }
    }
}
