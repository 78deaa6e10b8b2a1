//! Template call flow: copy this crate to write your own.
//!
//! Dials every lead that has not opted out, with the ring timeout from the
//! run setting `timeout_secs` (default 30), and tags each lead with the
//! outcome of its call (`answered-human`, `busy`, …). Build it with
//! `cargo build --release --target wasm32-wasip2` and check the result with
//! `dialplane plugin check target/wasm32-wasip2/release/template_flow.wasm`.
use dialplane_guest::prelude::*;

struct TemplateFlow;

impl Flow for TemplateFlow {
    fn plan(ctx: &RunContext, lead: &Lead) -> Decision {
        if lead.attr("opted_out") == Some("yes") {
            return Decision::Skip("lead opted out".into());
        }
        Decision::Dial(lead.call().timeout(ctx.setting_or("timeout_secs", 30)))
    }

    fn on_result(_ctx: &RunContext, lead: &Lead, report: &CallReport) -> FollowUp {
        log::info(format!("{}: {}", lead.id, report.outcome.label()));
        FollowUp::none().tag(report.outcome.label())
    }
}

export_flow!(TemplateFlow);
