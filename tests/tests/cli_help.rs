//! The command line as a user meets it, through the real binary: complete
//! `--help` for the tool and every subcommand, clap's usual errors for wrong
//! flags, and an unreachable database named (without its password) with the cause.

use std::process::Output;

use dialplane_tests::dialplane_bin;

fn dialplane(args: &[&str]) -> Output {
    std::process::Command::new(dialplane_bin().expect("dialplane binary"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run dialplane")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SUBCOMMANDS: &[&str] = &[
    "demo",
    "serve",
    "worker",
    "migrate",
    "plugin",
    "tenant",
    "admin-key",
    "bench",
];

#[test]
fn top_level_help_lists_every_subcommand_and_the_log_format() {
    let out = dialplane(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in SUBCOMMANDS {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
    assert!(help.contains("--log-format"), "{help}");
    assert!(help.contains("json"), "{help}");
    let version = dialplane(&["--version"]);
    assert!(text(&version.stdout).starts_with("dialplane "));
}

#[test]
fn every_subcommand_has_help() {
    for sub in SUBCOMMANDS {
        let out = dialplane(&[sub, "--help"]);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{sub} --help: {}", text(&out.stderr));
        assert!(help.contains("Usage: dialplane"), "{sub}:\n{help}");
        // A one-line description comes first.
        assert!(
            help.lines().next().is_some_and(|l| l.len() > 10),
            "{sub} has no description:\n{help}"
        );
    }
}

#[test]
fn worker_and_serve_document_the_dialer_deadline_and_public_url() {
    for sub in ["worker", "serve"] {
        let help = text(&dialplane(&[sub, "--help"]).stdout);
        assert!(help.contains("--dialer-deadline-ms"), "{sub}:\n{help}");
        assert!(
            help.contains("DIALPLANE_DIALER_DEADLINE_MS"),
            "{sub}:\n{help}"
        );
        assert!(help.contains("[default: 15000]"), "{sub}:\n{help}");
        // The anti-SSRF list, for a worker process and serve's own worker.
        assert!(help.contains("--provider-host"), "{sub}:\n{help}");
        assert!(help.contains("DIALPLANE_PROVIDER_HOSTS"), "{sub}:\n{help}");
    }
    let help = text(&dialplane(&["serve", "--help"]).stdout);
    assert!(help.contains("--public-url"), "{help}");
    assert!(help.contains("DIALPLANE_PUBLIC_URL"), "{help}");
    let out = dialplane(&["serve", "--public-url", "ftp://dialplane.example"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("http://"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn demo_help_documents_every_flag_with_its_default() {
    let help = text(&dialplane(&["demo", "--help"]).stdout);
    for flag in [
        "--database-url",
        "--dir",
        "--leads",
        "--concurrency",
        "--log-format",
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    assert!(help.contains("[default: 1000]"), "{help}");
    assert!(help.contains("SQLite"), "{help}");
}

#[test]
fn wrong_flags_get_clap_errors() {
    let out = dialplane(&["demo", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("unexpected argument '--no-such-flag'"),
        "{err}"
    );
    assert!(err.contains("Usage: dialplane demo"), "{err}");

    let out = dialplane(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unrecognized subcommand"));

    let out = dialplane(&["demo", "--leads", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'many' for '--leads <LEADS>'"));

    let out = dialplane(&["--log-format", "xml", "demo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("possible values: text, json"));

    let out = dialplane(&[
        "demo",
        "--dir",
        "/tmp/x",
        "--database-url",
        "sqlite::memory:",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot be used with"));
}

#[test]
fn unreachable_database_is_named_without_password_with_its_cause() {
    let out = dialplane(&[
        "migrate",
        "--database-url",
        "postgres://ops:hunter2-secret@127.0.0.1:1/dialplane",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("dialplane: error:"), "{err}");
    assert!(err.contains("127.0.0.1:1/dialplane"), "{err}");
    assert!(!err.contains("hunter2-secret"), "password leaked: {err}");
    assert!(err.to_lowercase().contains("refused"), "no cause: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one clear line: {err}");
}

#[test]
fn unsupported_database_scheme_is_explained() {
    let out = dialplane(&["migrate", "--database-url", "mysql://u:pw@localhost/db"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("postgres://") && err.contains("sqlite:"),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "{err}");
}

/// `bench api` never load-tests the database the environment points at:
/// with `DATABASE_URL` set and no `--database-url`, it refuses before
/// connecting (the URL here would not even resolve).
#[test]
fn bench_api_refuses_to_take_the_database_from_the_environment() {
    let out = std::process::Command::new(dialplane_bin().expect("dialplane binary"))
        .args(["bench", "api", "--json", "--secs", "1"])
        .env("DATABASE_URL", "postgres://prod@db.invalid/prod")
        .output()
        .expect("run dialplane");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bench api does not load-test the database in DATABASE_URL")
            && err.contains("--database-url"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty());
}

/// Log lines written to a file or a pipe carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("hostile-panic.wasm");
    std::fs::write(&flow, dialplane::builtin::HOSTILE_PANIC).unwrap();
    let leads = dir.path().join("leads.json");
    std::fs::write(&leads, r#"[{"id": "a", "phone": "+14155550127"}]"#).unwrap();
    let out = std::process::Command::new(dialplane_bin().expect("dialplane binary"))
        .args([
            "plugin",
            "test",
            flow.to_str().unwrap(),
            "--leads",
            leads.to_str().unwrap(),
        ])
        .env("DIALPLANE_LOG", "warn")
        .env_remove("NO_COLOR")
        .output()
        .expect("run dialplane");
    let err = text(&out.stderr);
    assert!(
        err.contains("WARN"),
        "the failing flow logs a warning: {err}"
    );
    assert!(!err.contains('\x1b'), "ANSI codes in piped stderr: {err:?}");
}

/// Every stderr line parses as JSON with `--log-format json`: `serve`'s
/// start-up lines, the one fatal error a command ends with, and the results
/// a command reports (`plugin test --expect`); text mode keeps its words.
#[test]
fn json_mode_writes_only_json_lines_to_stderr() {
    use std::io::{BufRead, BufReader};
    let bin = dialplane_bin().expect("dialplane binary");
    let all_json = |stderr: &str| -> Vec<serde_json::Value> {
        stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };

    // A fatal error: an unreachable database.
    let out = std::process::Command::new(&bin)
        .args([
            "--log-format",
            "json",
            "migrate",
            "--database-url",
            "postgres://u@127.0.0.1:1/db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let lines = all_json(&text(&out.stderr));
    let last = lines.last().expect("an error line");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert!(
        last["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{last}"
    );

    // serve's start-up lines, read until it listens.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
    let mut child = std::process::Command::new(&bin)
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
        ])
        .env("DIALPLANE_CACHE_DIR", dir.path().join("cache"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for l in BufReader::new(child.stderr.take().unwrap()).lines() {
        let l = l.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        let listening = v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("dialplane API listening on http://127.0.0.1:"));
        seen.push(v);
        if listening {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("worker") && m.ends_with("started"))),
        "{seen:?}"
    );

    // A command's own result lines.
    let flow = dir.path().join("t.wasm");
    std::fs::write(&flow, dialplane::builtin::TEMPLATE_FLOW).unwrap();
    let leads = dir.path().join("leads.json");
    std::fs::write(&leads, r#"[{"id": "a", "phone": "+14155550127"}]"#).unwrap();
    let expect = dir.path().join("t.yaml");
    for _ in 0..2 {
        let out = std::process::Command::new(&bin)
            .args(["--log-format", "json", "plugin", "test"])
            .args([flow.as_os_str(), "--leads".as_ref(), leads.as_os_str()])
            .args(["--expect".as_ref(), expect.as_os_str(), "--update".as_ref()])
            .env("DIALPLANE_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let lines = all_json(&text(&out.stderr));
        assert!(
            lines.iter().any(|v| v["level"] == "INFO"
                && v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("t.yaml"))),
            "{lines:?}"
        );
    }
}
