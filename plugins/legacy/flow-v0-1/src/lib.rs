//! Test call flow built against the pinned `dialplane:plugin@0.1.0` WIT
//! (`wit/v0.1.0`), without the SDK (which follows the current version): it
//! proves that components built for 0.1.0 keep loading and running.
//!
//! `plan` logs `v0.1.0 plan <lead id>`, counts the plans in `tenant-store`
//! key `plans` and dials the lead (ring timeout 20 s); `on-result` tags the
//! lead `v0.1.0` and notes the outcome's case name.
wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "dialplane:plugin/call-flow@0.1.0",
});

use dialplane::plugin::log::{Level, log};
use dialplane::plugin::tenant_store;
use dialplane::plugin::types::{CallReport, CallRequest, Lead};
use exports::dialplane::plugin::flow::{Decision, FollowUp, Guest, RunContext};

struct FlowV01;

impl Guest for FlowV01 {
    fn plan(_ctx: RunContext, lead: Lead) -> Decision {
        log(Level::Info, &format!("v0.1.0 plan {}", lead.id));
        let plans = tenant_store::get("plans")
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let _ = tenant_store::set("plans", (plans + 1).to_string().as_bytes());
        Decision::Dial(CallRequest {
            to: lead.phone,
            caller_id: None,
            timeout_secs: 20,
            idempotency_key: String::new(),
            metadata: Vec::new(),
        })
    }

    fn on_result(_ctx: RunContext, _lead: Lead, report: CallReport) -> FollowUp {
        FollowUp {
            retry_after_secs: None,
            lead_status: None,
            note: Some(format!("{:?}", report.outcome)),
            tags: vec!["v0.1.0".into()],
        }
    }
}

export!(FlowV01);
