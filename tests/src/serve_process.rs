//! A real `dialplane serve` process on a free port, for the tests that walk
//! the API as a deployment runs it (CLI flags, its own worker and cleaner,
//! several nodes on one database).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long `serve` may take to print its address (a cold compile cache
/// compiles the built-in components first).
pub const SERVE_START_WITHIN: Duration = Duration::from_secs(60);

/// Starts `dialplane serve --database-url URL --listen 127.0.0.1:0` with
/// `extra` flags; returns it with its base URL, read from the line it
/// prints on stderr. Its stderr is drained from then on, so the server
/// never blocks on a full pipe; it is killed when the `Child` drops.
pub async fn spawn_serve(url: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(crate::dialplane_bin().unwrap())
        .args(["serve", "--database-url", url, "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dialplane serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = tokio::time::timeout(SERVE_START_WITHIN, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.split("dialplane API listening on ").nth(1) {
                return addr.trim().to_string();
            }
        }
        panic!("dialplane serve exited before printing its address")
    })
    .await
    .expect("dialplane serve never printed its address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}
