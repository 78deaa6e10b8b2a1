//! Snapshots of `plugin test` transcripts of the example flows over
//! `fixtures/leads.csv`, which covers every sim-dialer outcome digit (0–9),
//! a do-not-call attribute and an excluded segment. The transcript is what
//! `dialplane plugin test` prints (see `plugin_cli.rs` for the binary).

use dialplane::builtin;
use dialplane::testing::{TranscriptOptions, transcript};
use dialplane_tests::fixture;

/// Snapshots live in `tests/snapshots/` (one folder for the crate).
macro_rules! snapshot_in_crate_dir {
    ($value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!($value);
        })
    };
}

fn leads() -> Vec<dialplane::runtime::Lead> {
    dialplane::leads_file::read(&fixture("leads.csv")).expect("fixture leads")
}

#[tokio::test]
async fn default_flow_transcript() {
    let opts = TranscriptOptions {
        flow_name: "default-flow".into(),
        ..TranscriptOptions::default()
    }
    .set("retry_delay_secs", "120");
    let yaml = transcript(builtin::DEFAULT_FLOW, &leads(), &opts)
        .await
        .unwrap();
    snapshot_in_crate_dir!(yaml);
}

#[tokio::test]
async fn business_rules_flow_transcript() {
    let opts = TranscriptOptions {
        flow_name: "business-rules-flow".into(),
        ..TranscriptOptions::default()
    }
    .set("skip_segments", "wholesale")
    .set("daily_cap", "8");
    let yaml = transcript(builtin::BUSINESS_RULES_FLOW, &leads(), &opts)
        .await
        .unwrap();
    snapshot_in_crate_dir!(yaml);
}

#[tokio::test]
async fn transcripts_are_byte_identical_across_runs() {
    let opts = TranscriptOptions::default().set("daily_cap", "5");
    let a = transcript(builtin::BUSINESS_RULES_FLOW, &leads(), &opts)
        .await
        .unwrap();
    let b = transcript(builtin::BUSINESS_RULES_FLOW, &leads(), &opts)
        .await
        .unwrap();
    assert_eq!(a, b);
}

#[tokio::test]
async fn pending_mode_transcript_ends_through_lookup() {
    let mut opts = TranscriptOptions {
        flow_name: "default-flow".into(),
        max_attempts: 1,
        ..TranscriptOptions::default()
    };
    opts.dialer_config = vec![("mode".into(), "pending".into())];
    let leads = dialplane::leads_file::read(&fixture("leads.json")).unwrap();
    let t = dialplane::testing::run(builtin::DEFAULT_FLOW, &leads, &opts)
        .await
        .unwrap();
    let human = &t.leads[1].attempts[0];
    let report = human.report.as_ref().expect("a report through lookup");
    assert_eq!(report.outcome, "answered-human");
    assert_eq!(t.failures, 0);
}
