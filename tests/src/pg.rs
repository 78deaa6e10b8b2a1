//! Real PostgreSQL for tests.
//!
//! - [`fresh_database`]: a new, empty database for one test. With
//!   `DATABASE_URL` set it is created on that server; otherwise on a throwaway
//!   cluster started once per test process ([`shared_cluster`]): one for the
//!   whole `e2e` binary.
//! - [`PgCluster::start`]: a dedicated cluster a test owns, for tests that
//!   restart or stop the server.
//!
//! `initdb`/`pg_ctl` refuse to run as root, so when the tests run as root
//! (CI) the server binaries run as the `postgres` user (`runuser`), in a temp
//! directory owned by it. Clusters never outlive the test process: a watchdog
//! shell (as the cluster's owner) polls the test process and stops the server
//! and removes its directory once the process is gone — even after SIGKILL.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use sqlx::Connection;

/// A throwaway PostgreSQL cluster on 127.0.0.1 with trust auth.
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Extra server settings (`name=value`), passed as `-c` at every start.
    settings: Vec<String>,
}

impl PgCluster {
    /// initdb + start; returns once the server accepts connections.
    pub fn start() -> Result<PgCluster> {
        Self::start_with(&[])
    }

    /// [`PgCluster::start`] with extra server settings (`name=value`), e.g.
    /// `shared_preload_libraries=pg_stat_statements`.
    pub fn start_with(settings: &[&str]) -> Result<PgCluster> {
        let bin = server_bin_dir()?;
        let as_postgres = is_root();
        let root = std::env::temp_dir().join(format!("dialplane-pg-{}", random_suffix()));
        std::fs::create_dir_all(root.join("sock"))?;
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()?;
            if !st.success() {
                bail!("chown postgres {} failed", root.display());
            }
        }
        let port = free_port()?;
        let cluster = PgCluster {
            root,
            bin,
            port,
            as_postgres,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.run_ok(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.spawn_watchdog()?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (immediate: like a crash) and starts it again on the same port.
    pub fn restart(&self) -> Result<()> {
        self.stop()?;
        self.pg_ctl_start()
    }

    /// Stops the server immediately (connections drop, as in a crash).
    pub fn stop(&self) -> Result<()> {
        self.run_ok(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        )
    }

    /// Starts a stopped server again.
    pub fn start_again(&self) -> Result<()> {
        self.pg_ctl_start()
    }

    /// Creates a new empty database and returns its URL.
    pub async fn create_database(&self) -> Result<String> {
        create_database_on(&self.url("postgres")).await
    }

    fn data_dir(&self) -> String {
        self.root.join("data").display().to_string()
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.port,
            self.root.join("sock").display()
        );
        for s in &self.settings {
            opts.push_str(&format!(" -c {s}"));
        }
        let log = self.root.join("server.log").display().to_string();
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log,
                "-o",
                &opts,
                "-w",
                "start",
            ],
        )
    }

    /// Stops the server and removes its files once this process is gone.
    fn spawn_watchdog(&self) -> Result<()> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \
             '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data_dir(),
            root = self.root.display(),
        );
        let mut cmd = self.command_as_owner("sh");
        cmd.args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: a ^C to the test run must not kill it first.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.spawn().context("spawning the cluster watchdog")?;
        Ok(())
    }

    fn command_as_owner(&self, program: &str) -> Command {
        let path = if program == "sh" {
            PathBuf::from("sh")
        } else {
            self.bin.join(program)
        };
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = self
            .command_as_owner(program)
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} {args:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The cluster shared by all tests of this process (started on first use).
/// It is never dropped: the watchdog stops it when the process exits.
pub fn shared_cluster() -> Result<&'static PgCluster> {
    static SHARED: OnceLock<std::result::Result<PgCluster, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| PgCluster::start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("cannot start a throwaway PostgreSQL cluster: {e}"))
}

/// URL of a new, empty database for one test: on `DATABASE_URL`'s server if
/// set, else on the [`shared_cluster`].
pub async fn fresh_database() -> Result<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => create_database_on(&url).await,
        _ => {
            let cluster = tokio::task::spawn_blocking(shared_cluster).await??;
            cluster.create_database().await
        }
    }
}

/// Creates `t_<random>` on the server of `url` and returns its URL.
pub async fn create_database_on(url: &str) -> Result<String> {
    let name = format!("t_{}", random_suffix());
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {}", dialplane::store::redact_url(url)))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .context("CREATE DATABASE")?;
    conn.close().await.ok();
    Ok(with_database(url, &name))
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..host_end])
}

fn server_bin_dir() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                // Follow /usr/local/bin symlinks to the real bin dir.
                let real = std::fs::canonicalize(dir.join("pg_ctl"))?;
                return Ok(real.parent().unwrap_or(Path::new("/")).to_path_buf());
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .context("no initdb on PATH nor in /usr/lib/postgresql/*/bin: install the PostgreSQL server or set DATABASE_URL")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}
