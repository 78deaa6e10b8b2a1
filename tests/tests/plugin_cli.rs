//! The real `dialplane` binary: `plugin check` on good, wrong and garbage
//! files, and `plugin test` on good and malformed lead files.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use dialplane::builtin;
use dialplane::testing::TranscriptOptions;
use dialplane_tests::{dialplane_bin, fixture};

/// Writes `bytes` as `<name>` in a fresh scratch directory.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialplane-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn dialplane(args: &[&str]) -> Output {
    Command::new(dialplane_bin().expect("dialplane binary"))
        .args(args)
        .env("DIALPLANE_LOG", "off")
        .output()
        .expect("run dialplane")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_a_flow_and_a_dialer_and_lists_their_interfaces() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let out = dialplane(&["plugin", "check", flow.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("exports:\n  - dialplane:plugin/flow@0.2.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  - dialplane:plugin/log@0.2.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: implements dialplane:plugin/call-flow@0.2.0 (flow)"),
        "{stdout}"
    );

    let http = file("http-dialer.wasm", builtin::HTTP_DIALER);
    let out = dialplane(&[
        "plugin",
        "check",
        http.to_str().unwrap(),
        "--kind",
        "dialer",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("wasi:http/outgoing-handler"), "{stdout}");
    assert!(
        stdout.contains("ok: implements dialplane:plugin/dialer-adapter@0.2.0"),
        "{stdout}"
    );

    // Components built against the pinned 0.1.0 WIT are still accepted,
    // and the check says which version they implement.
    for (name, wasm, world) in [
        (
            "flow-v0-1.wasm",
            builtin::FLOW_V0_1,
            "dialplane:plugin/call-flow@0.1.0 (flow)",
        ),
        (
            "dialer-v0-1.wasm",
            builtin::DIALER_V0_1,
            "dialplane:plugin/dialer-adapter@0.1.0 (dialer)",
        ),
    ] {
        let f = file(name, wasm);
        let out = dialplane(&["plugin", "check", f.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains(&format!("ok: implements {world}")),
            "{stdout}"
        );
    }
}

#[test]
fn check_names_the_missing_export() {
    let wrong = file("wrong.wasm", builtin::WRONG_WORLD);
    let out = dialplane(&["plugin", "check", wrong.to_str().unwrap(), "--kind", "flow"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "missing export `dialplane:plugin/flow@0.2.0` (or `dialplane:plugin/flow@0.1.0`)"
        ),
        "{stderr}"
    );

    // Without --kind, a component exporting neither world says so.
    let out = dialplane(&["plugin", "check", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot tell the kind"),
        "{}",
        text(&out.stderr)
    );

    // A flow checked as a dialer.
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let out = dialplane(&[
        "plugin",
        "check",
        flow.to_str().unwrap(),
        "--kind",
        "dialer",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "missing export `dialplane:plugin/dialer@0.2.0` (or `dialplane:plugin/dialer@0.1.0`)"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_refuses_a_flow_that_imports_http() {
    let f = file("flow-with-http.wasm", builtin::FLOW_WITH_HTTP);
    let out = dialplane(&["plugin", "check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("import `wasi:http/outgoing-handler@"),
        "{stderr}"
    );
}

#[test]
fn check_explains_garbage_and_core_modules_in_one_line() {
    for (name, bytes, expect) in [
        ("junk.wasm", &b"not wasm at all"[..], "magic bytes"),
        (
            "core.wasm",
            &b"\0asm\x01\0\0\0"[..],
            "core WebAssembly module",
        ),
    ] {
        let f = file(name, bytes);
        let out = dialplane(&["plugin", "check", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("not a WebAssembly component"), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = dialplane(&["plugin", "check", "/nonexistent/flow.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/flow.wasm"));
}

#[test]
fn test_prints_the_transcript_byte_identically() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let leads = fixture("leads.csv");
    let args = [
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        leads.to_str().unwrap(),
        "--dialer",
        "sim",
        "--set",
        "retry_delay_secs=120",
    ];
    let first = dialplane(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = dialplane(&args);
    assert_eq!(first.stdout, second.stdout);
    // The same transcript the library helper produces.
    let opts = TranscriptOptions {
        flow_name: "default-flow".into(),
        ..TranscriptOptions::default()
    }
    .set("retry_delay_secs", "120");
    let lib = dialplane::testing::transcript_blocking(
        builtin::DEFAULT_FLOW,
        &dialplane::leads_file::read(&leads).unwrap(),
        &opts,
    )
    .unwrap();
    assert_eq!(text(&first.stdout), lib);
}

#[test]
fn test_names_file_line_and_field_of_a_malformed_lead() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let csv = fixture("malformed.csv");
    let out = dialplane(&[
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: line 3: field `phone`: `555-0102` is not an E.164 number",
            csv.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "half a transcript was printed");

    let json = fixture("malformed-tz.json");
    let out = dialplane(&[
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: line 3: field `timezone`: `Mars/Olympus_Mons`",
            json.display()
        )),
        "{stderr}"
    );
}

#[test]
fn test_reports_a_failing_flow_and_exits_non_zero() {
    let flow = file("hostile-panic.wasm", builtin::HOSTILE_PANIC);
    let leads = fixture("leads.json");
    let out = dialplane(&[
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        leads.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("hostile-panic: deliberate panic in plan"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("2 lead(s) stopped on a plugin failure"));
}

/// `plugin test --expect FILE`: the args of a default-flow transcript over
/// the fixture leads, with `retry_delay_secs` set to `retry`.
fn expect_args(flow: &std::path::Path, expect: &std::path::Path, retry: &str) -> Vec<String> {
    [
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        fixture("leads.csv").to_str().unwrap(),
        "--set",
        &format!("retry_delay_secs={retry}"),
        "--expect",
        expect.to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn dialplane_owned(args: &[String]) -> Output {
    dialplane(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn test_expect_update_creates_then_matches_then_diffs_a_change() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let expect = flow.with_file_name("transcript.yaml");

    // A missing file without --update is a CLI error naming it.
    let out = dialplane_owned(&expect_args(&flow, &expect, "120"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the expected transcript {} does not exist; run again with --update",
            expect.display()
        )),
        "{stderr}"
    );
    assert!(!expect.exists());

    // --update creates it, says so, and writes exactly the transcript.
    let mut update = expect_args(&flow, &expect, "120");
    update.push("--update".into());
    let out = dialplane_owned(&update);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "{}: created with the current transcript",
            expect.display()
        )),
        "{}",
        text(&out.stderr)
    );
    let printed = dialplane(&[
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        fixture("leads.csv").to_str().unwrap(),
        "--set",
        "retry_delay_secs=120",
    ]);
    assert_eq!(std::fs::read(&expect).unwrap(), printed.stdout);

    // The same transcript matches: exit 0, and it says so.
    let out = dialplane_owned(&expect_args(&flow, &expect, "120"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the transcript matches"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // A changed transcript exits 1 with a unified-style diff naming the
    // lead, the attempt and the field.
    let out = dialplane_owned(&expect_args(&flow, &expect, "90"));
    assert_eq!(out.status.code(), Some(1));
    let diff = text(&out.stdout);
    assert!(
        diff.starts_with(&format!(
            "--- {} (expected)\n+++ plugin test (actual)\n",
            expect.display()
        )),
        "{diff}"
    );
    assert!(
        diff.contains("@@ lead busy-0, attempt 1: follow_up.retry_after_secs @@\n-120\n+90\n"),
        "{diff}"
    );
    assert!(
        diff.contains("@@ settings.retry_delay_secs @@\n-120\n+90\n"),
        "{diff}"
    );
    assert!(
        text(&out.stderr).contains("the transcript changed"),
        "{}",
        text(&out.stderr)
    );

    // --update accepts the change, after which it matches again.
    let mut update = expect_args(&flow, &expect, "90");
    update.push("--update".into());
    let out = dialplane_owned(&update);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("updated with the current transcript"),
        "{}",
        text(&out.stderr)
    );
    let out = dialplane_owned(&expect_args(&flow, &expect, "90"));
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn test_expect_names_file_and_line_of_malformed_yaml() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let expect = flow.with_file_name("broken.yaml");
    std::fs::write(
        &expect,
        "flow: default-flow\nleads:\n- lead: a\n  phone: [unclosed\n",
    )
    .unwrap();
    let out = dialplane_owned(&expect_args(&flow, &expect, "120"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:5:1: malformed YAML in the expected transcript",
            expect.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
