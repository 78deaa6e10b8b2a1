//! The Python tools the OpenAPI tests run: `openapi-spec-validator` (is the
//! served document valid OpenAPI?) and `openapi-python-client` (does a
//! client generated from it cover every operation?), pinned, in a virtual
//! environment at `target/openapi-client-venv`.
//!
//! [`venv_python`] creates that environment on first use (python3 and PyPI
//! needed; `.ci/run` pre-installs it), so `cargo test --workspace` works on a
//! fresh machine. When the tools cannot be had, it fails with the reason:
//! these tests never skip.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What the environment holds, pinned (`.ci/run` installs the same).
pub const PINNED_TOOLS: &[&str] = &[
    "openapi-python-client==0.29.1",
    "openapi-spec-validator==0.9.0",
];

/// Name of the environment's directory under the cargo target directory.
pub const VENV_DIR: &str = "openapi-client-venv";

/// Written inside the environment once every tool is installed; holds the
/// pins, so changing a pin rebuilds the environment.
const READY_MARKER: &str = "dialplane-pins.txt";

/// The cargo target directory of this test binary
/// (`target/<profile>/deps/<test>-<hash>` → `target`).
fn target_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("unexpected test binary location {}", exe.display()))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn bootstrap(venv: &Path) -> Result<(), String> {
    let pins = PINNED_TOOLS.join("\n");
    let marker = venv.join(READY_MARKER);
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == pins) {
        return Ok(());
    }
    if venv.exists() {
        std::fs::remove_dir_all(venv).map_err(|e| format!("remove {}: {e}", venv.display()))?;
    }
    run(
        Command::new("python3").arg("-m").arg("venv").arg(venv),
        "python3 -m venv (the OpenAPI tests need python3 with venv)",
    )?;
    run(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PINNED_TOOLS),
        "pip install of the pinned OpenAPI tools (PyPI must be reachable, or run .ci/run's step)",
    )?;
    std::fs::write(&marker, pins).map_err(|e| format!("write {}: {e}", marker.display()))
}

/// The environment's `python`, the environment created first if needed.
/// Panics, naming the cause, when it cannot be.
pub fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let target = target_dir()?;
            let venv = target.join(VENV_DIR);
            // Test processes running at once build it once.
            let lock_path = target.join(format!("{VENV_DIR}.lock"));
            let lock = File::create(&lock_path)
                .map_err(|e| format!("create {}: {e}", lock_path.display()))?;
            lock.lock()
                .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
            let ready = bootstrap(&venv);
            drop(lock);
            ready.map(|()| venv.join("bin/python"))
        })
        .clone()
        .unwrap_or_else(|e| panic!("the OpenAPI tools are not available: {e}"))
}
