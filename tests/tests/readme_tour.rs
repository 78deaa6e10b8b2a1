//! The README's "five-minute tour", run as written: its `sh` blocks, in
//! order, by `bash` in a fresh temporary directory (not the checkout), with
//! `curl` against the real `dialplane serve`. Three substitutions only: the
//! `cargo build --release` line is dropped (the test's build is the debug
//! binary), `$PWD/target/release` is that binary's directory, and the port
//! `8080` is a free one. Asserts what the README says each step shows.

use std::time::Duration;

use dialplane_tests::dialplane_bin;

/// The whole tour, server start to cancel, on a loaded 2-core machine.
const TOUR_TIMEOUT: Duration = Duration::from_secs(180);

/// The tour's `sh` blocks, joined, as the README has them.
fn tour_script() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("## A five-minute tour")
        .expect("README has the tour");
    let rest = &readme[start + 3..];
    let tour = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut script = String::new();
    for block in tour.split("```sh\n").skip(1) {
        script.push_str(block.split("```").next().unwrap());
        script.push('\n');
    }
    script
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tour_works_as_written_from_any_directory() {
    let bin = dialplane_bin().unwrap();
    let bin_dir = bin.parent().unwrap().to_str().unwrap().to_string();
    let written = tour_script();
    for needle in [
        "cargo build --release\n",
        "$PWD/target/release",
        "127.0.0.1:8080",
    ] {
        assert!(
            written.contains(needle),
            "the tour no longer has {needle:?}"
        );
    }
    let port = free_port();
    let script = written
        .replace("cargo build --release\n", "")
        .replace("$PWD/target/release", &bin_dir)
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        // `dialplane serve &` ends with the script.
        .arg(format!("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("DIALPLANE_LISTEN")
        .env("DIALPLANE_CACHE_DIR", dir.path().join("cache"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = cmd.spawn().expect("bash");
    let pgid = child.id().unwrap();
    let out = match tokio::time::timeout(TOUR_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            panic!("the tour did not finish within {TOUR_TIMEOUT:?}:\n{script}");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("{}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert!(out.status.success(), "{what}");

    // The database is where the user was, not in the checkout.
    assert!(dir.path().join("tour.db").exists(), "{what}");
    // Uploads: the embedded components, active.
    assert!(
        stdout.contains(r#""kind":"dialer","name":"sim-dialer","version":1"#),
        "{what}"
    );
    assert!(
        stdout.contains(r#""kind":"flow","name":"default-flow","version":1"#),
        "{what}"
    );
    // Leads: three stored, the bad row named.
    assert!(stdout.contains(r#""created":3"#), "{what}");
    assert!(stdout.contains(r#"{"row":3,"field":"phone","#), "{what}");
    assert!(stdout.contains(r#"{"added":1,"#), "{what}");
    // The run's events, then its jobs: L-1 answered, L-4 skipped by the
    // do-not-call list, L-2 waiting for its retry (so cancel has work).
    assert!(stdout.contains("event: state\ndata: {\"id\":"), "{what}");
    assert!(
        stdout.contains(
            r#""lead_external_id":"L-1","state":"completed","attempt":1,"outcome":"answered-human""#
        ),
        "{what}"
    );
    assert!(
        stdout.contains(r#""lead_external_id":"L-4","state":"skipped""#),
        "{what}"
    );
    assert!(stdout.contains(r#""rule":"dnc""#), "{what}");
    assert!(
        stdout.contains(
            r#""lead_external_id":"L-2","state":"queued","attempt":1,"outcome":"no-answer""#
        ),
        "{what}"
    );
    // Cancel, then the original endpoint: both answer once no call can
    // start (the run may still read `running` until its owner records the
    // end), with the waiting retry cancelled.
    assert_eq!(
        stdout.matches(r#""cancel_requested":true,"#).count(),
        2,
        "{what}"
    );
    assert_eq!(
        stdout
            .matches(r#""jobs":{"cancelled":1,"completed":1,"skipped":1}"#)
            .count(),
        2,
        "{what}"
    );
    // No request failed: the only curl error is the events stream's
    // deliberate `--max-time`.
    let curl_errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("curl:")).collect();
    assert!(
        curl_errors.len() == 1 && curl_errors[0].starts_with("curl: (28)"),
        "{what}"
    );
    assert!(!stderr.contains("error"), "{what}");
}
