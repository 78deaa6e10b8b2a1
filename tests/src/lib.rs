//! Shared helpers for dialplane end-to-end tests.
//!
//! - [`pg`]: real PostgreSQL (throwaway cluster or `DATABASE_URL`).
//! - [`sqlite_url`]: a fresh SQLite file per test.

pub mod pg;

/// URL of a new SQLite database file in a fresh temp directory (kept until
/// the returned guard is dropped).
pub fn sqlite_url() -> anyhow::Result<(String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    Ok((url, dir))
}

/// Path of the `dialplane` binary, built (once per test process) if needed,
/// for tests that run real processes (`dialplane migrate`, workers).
pub fn dialplane_bin() -> anyhow::Result<std::path::PathBuf> {
    use std::sync::OnceLock;
    static BIN: OnceLock<Result<std::path::PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/<test>-<hash> → target/<profile>/dialplane
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let profile_dir = exe
            .parent()
            .and_then(|p| p.parent())
            .ok_or("unexpected test binary location")?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-q", "-p", "dialplane", "--bin", "dialplane"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p dialplane failed: {status}"));
        }
        let bin = profile_dir.join("dialplane");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("{} was not built", bin.display()))
        }
    })
    .clone()
    .map_err(anyhow::Error::msg)
}
