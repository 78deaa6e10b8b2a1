//! `dialplane plugin new NAME --lang rust|js|python` as a plugin author uses
//! it, outside this repository: the real binary writes the project into a
//! temporary directory, the project's one documented build command builds it
//! (cargo with the project's own toolchain file; npm with componentize-js;
//! a virtualenv with componentize-py), and `plugin check` and `plugin test
//! --expect transcript.yaml` accept the component. Needs network access to
//! crates.io, npm and PyPI (or their caches), like `.ci/run`.

use std::path::Path;
use std::process::{Command, Output};

use dialplane_tests::dialplane_bin;

/// The variables a user's shell would have; everything cargo test sets for
/// this crate (target dir, flags, toolchain) is left out.
fn user_command(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).env_clear();
    for (k, v) in std::env::vars() {
        let keep = matches!(
            k.as_str(),
            "PATH"
                | "HOME"
                | "USER"
                | "TMPDIR"
                | "LANG"
                | "CARGO_HOME"
                | "RUSTUP_HOME"
                | "HTTP_PROXY"
                | "HTTPS_PROXY"
                | "NO_PROXY"
                | "npm_config_cache"
                | "PIP_INDEX_URL"
                | "PIP_FIND_LINKS"
        );
        if keep {
            cmd.env(k, v);
        }
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Creates, builds, checks and tests one scaffold.
fn scaffold_builds_and_matches_its_transcript(lang: &str, build: &[&str], wasm: &str) {
    let bin = dialplane_bin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut new = user_command(bin.to_str().unwrap(), dir.path());
    new.args(["plugin", "new", "my-flow", "--lang", lang]);
    let out = run(new, &format!("plugin new --lang {lang}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("created my-flow"), "{said}");
    let project = dir.path().join("my-flow");
    for file in ["leads.json", "transcript.yaml", "README.md"] {
        assert!(project.join(file).is_file(), "{lang}: no {file}");
    }

    let mut b = user_command(build[0], &project);
    b.args(&build[1..]);
    run(b, &format!("{lang}: {}", build.join(" ")));
    assert!(project.join(wasm).is_file(), "{lang}: no {wasm}");

    let cache = dir.path().join("cache");
    let mut check = user_command(bin.to_str().unwrap(), &project);
    check
        .args(["plugin", "check", wasm])
        .env("DIALPLANE_CACHE_DIR", &cache);
    let out = run(check, &format!("{lang}: plugin check"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("ok: implements dialplane:plugin/call-flow@0.2.0 (flow)"),
        "{lang}: {said}"
    );
    let mut test = user_command(bin.to_str().unwrap(), &project);
    test.args([
        "plugin",
        "test",
        wasm,
        "--leads",
        "leads.json",
        "--expect",
        "transcript.yaml",
    ])
    .env("DIALPLANE_CACHE_DIR", &cache);
    let out = run(test, &format!("{lang}: plugin test --expect"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the transcript matches"), "{lang}: {said}");
}

#[test]
fn a_rust_scaffold_builds_outside_the_repository() {
    scaffold_builds_and_matches_its_transcript(
        "rust",
        &["cargo", "build", "--release"],
        "target/wasm32-wasip2/release/my_flow.wasm",
    );
}

#[test]
fn a_javascript_scaffold_builds_with_componentize_js() {
    scaffold_builds_and_matches_its_transcript("js", &["./build.sh"], "my_flow.wasm");
}

#[test]
fn a_python_scaffold_builds_with_componentize_py() {
    scaffold_builds_and_matches_its_transcript("python", &["./build.sh"], "my_flow.wasm");
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_existing_directory() {
    let bin = dialplane_bin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = user_command(bin.to_str().unwrap(), dir.path());
    cmd.args(["plugin", "new", "My Flow"]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`My Flow` cannot name a flow"), "{err}");

    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let mut cmd = user_command(bin.to_str().unwrap(), dir.path());
    cmd.args(["plugin", "new", "taken"]);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("taken already exists"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("taken")).unwrap().count(),
        0
    );
}
