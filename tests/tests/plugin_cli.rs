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

/// A flow importing `wasi:filesystem` and `wasi:sockets` links (runtimes
/// import them whether or not they use them), so `check` accepts it, but
/// warns naming each import and why it does nothing here.
#[test]
fn check_warns_about_imports_that_give_a_plugin_nothing() {
    let f = file("hostile-sandbox.wasm", builtin::HOSTILE_SANDBOX);
    let out = dialplane(&["plugin", "check", f.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("ok: implements dialplane:plugin/call-flow@0.2.0"),
        "{stdout}"
    );
    for prefix in ["wasi:filesystem/", "wasi:sockets/"] {
        let warned = stderr.lines().any(|l| {
            l.contains(&format!("warning: imports {prefix}")) && l.contains("does nothing here")
        });
        assert!(warned, "no warning for {prefix}: {stderr}");
    }
    assert!(stderr.contains("no directory is preopened"), "{stderr}");
    assert!(stderr.contains("plugins get no network"), "{stderr}");

    // A flow with nothing of the kind gets no warning.
    let f = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let out = dialplane(&["plugin", "check", f.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
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

/// `dialplane ARGS` with the compiled-component cache in `cache` and the
/// cache's log lines on stderr.
fn dialplane_cached(cache: &std::path::Path, args: &[&str]) -> Output {
    Command::new(dialplane_bin().expect("dialplane binary"))
        .args(args)
        .env("DIALPLANE_LOG", "dialplane::runtime=info")
        .env("DIALPLANE_CACHE_DIR", cache)
        .output()
        .expect("run dialplane")
}

const LOADED: &str = "compiled component loaded from the cache";
const WRITTEN: &str = "compiled component written to the cache";

#[test]
fn check_and_test_share_the_compile_cache_and_recompile_a_corrupt_entry() {
    let flow = file("default-flow.wasm", builtin::DEFAULT_FLOW);
    let cache = flow.with_file_name("cache");
    let check = ["plugin", "check", flow.to_str().unwrap()];

    // First check: compiled and written (one entry, private directory).
    let out = dialplane_cached(&cache, &check);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(WRITTEN) && !stderr.contains(LOADED),
        "{stderr}"
    );
    let entries = || -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    assert_eq!(entries().len(), 1, "{:?}", entries());
    let entry = entries().remove(0);
    let name = entry.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&dialplane::runtime::sha256_hex(builtin::DEFAULT_FLOW))
            && name.ends_with(".cwasm"),
        "{name}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "cache directory mode {mode:o}");

    // Second check: loaded from the cache, nothing compiled or written.
    let out = dialplane_cached(&cache, &check);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(LOADED) && !stderr.contains(WRITTEN),
        "{stderr}"
    );

    // `plugin test` reuses the flow check compiled (and caches the sim dialer).
    let leads = fixture("leads.json");
    let test = [
        "plugin",
        "test",
        flow.to_str().unwrap(),
        "--leads",
        leads.to_str().unwrap(),
    ];
    let out = dialplane_cached(&cache, &test);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches(LOADED).count(), 1, "{stderr}");
    assert_eq!(stderr.matches(WRITTEN).count(), 1, "{stderr}");
    assert_eq!(entries().len(), 2, "{:?}", entries());

    // A corrupt entry is recompiled and rewritten; the command succeeds.
    std::fs::write(&entry, b"\x7fELF but not really a compiled component").unwrap();
    let out = dialplane_cached(&cache, &check);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("recompiling an unusable cached component"),
        "{stderr}"
    );
    assert!(
        stderr.contains(WRITTEN) && !stderr.contains(LOADED),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("ok: implements dialplane:plugin/call-flow@0.2.0"),
        "{}",
        text(&out.stdout)
    );
    let out = dialplane_cached(&cache, &check);
    assert!(text(&out.stderr).contains(LOADED), "{}", text(&out.stderr));

    // --no-compile-cache reads and writes nothing.
    let mut no_cache = check.to_vec();
    no_cache.push("--no-compile-cache");
    let out = Command::new(dialplane_bin().unwrap())
        .args(&no_cache)
        .env("DIALPLANE_LOG", "dialplane::runtime=info")
        .env_remove("DIALPLANE_CACHE_DIR")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains(LOADED) && !stderr.contains(WRITTEN),
        "{stderr}"
    );
}

/// `plugin builtin`: lists the embedded flows and dialers (never the test
/// components), writes one byte-identical to stdout or a file, and names the
/// choices for an unknown name.
#[test]
fn builtin_lists_and_writes_the_embedded_components() {
    let out = dialplane(&["plugin", "builtin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    for name in [
        "sim-dialer",
        "http-dialer",
        "default-flow",
        "business-rules-flow",
    ] {
        assert!(listed.contains(name), "{listed}");
    }
    assert!(!listed.contains("hostile"), "{listed}");

    let out = dialplane(&["plugin", "builtin", "sim-dialer"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout == builtin::SIM_DIALER,
        "stdout is not the component"
    );

    let path = file("placeholder", b"").with_file_name("flow.wasm");
    let out = dialplane(&[
        "plugin",
        "builtin",
        "default-flow",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(&path).unwrap() == builtin::DEFAULT_FLOW);

    let out = dialplane(&["plugin", "builtin", "hostile-loop"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no built-in component `hostile-loop`") && err.contains("sim-dialer"),
        "{err}"
    );
}

/// `bench plugin --flow NAME=PATH` measures another flow too (as the README
/// does for the JavaScript and Python scaffolds): its per-lead cost and its
/// compile time cold and from the cache, in the one JSON line.
#[test]
fn bench_plugin_measures_a_flow_given_by_path() {
    let flow = file("template_flow.wasm", builtin::TEMPLATE_FLOW);
    let arg = format!("mine={}", flow.display());
    let out = dialplane(&[
        "bench",
        "plugin",
        "--json",
        "--leads",
        "200",
        "--flow-leads",
        "50",
        "--flow",
        &arg,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = &line["flows"]["mine"];
    assert_eq!(mine["leads"], 50, "{line}");
    assert_eq!(mine["size_bytes"], builtin::TEMPLATE_FLOW.len(), "{line}");
    for key in [
        "median_us_per_lead",
        "p99_us_per_lead",
        "compile_cold_ms",
        "compile_cached_ms",
    ] {
        assert!(mine[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {line}");
    }

    let out = dialplane(&["bench", "plugin", "--flow", "no-path"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`no-path` is not NAME=PATH"),
        "{}",
        text(&out.stderr)
    );
}
