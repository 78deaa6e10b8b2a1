//! The migration runner: versioned, tracked, transactional, race-free.
//!
//! Why not `sqlx::migrate!`: its SQLite "lock" is a no-op, so two processes
//! starting at once would both try to apply (and record) the same version; and
//! it would not notice a new file without a build-script hook. This runner is
//! small and does the same thing on both engines:
//!
//! - The migrations are embedded with `include_str!` (listed in [`POSTGRES`] and
//!   [`SQLITE`]; both lists must have the same versions: same schema in both
//!   dialects).
//! - Progress is tracked in `dialplane_migrations (version, description,
//!   checksum, applied_at)`. A migration whose file changed after it was applied
//!   is an error (checksum mismatch), never silently skipped or re-applied.
//! - Each pending migration is applied in its **own transaction** together with
//!   its tracking row, so a failure rolls back completely.
//! - Concurrency: on PostgreSQL every transaction first takes
//!   `pg_advisory_xact_lock` (released at commit); on SQLite it is a
//!   `BEGIN IMMEDIATE` transaction (takes the write lock up front; others wait
//!   on `busy_timeout`). Under the lock the runner re-reads what is applied,
//!   so a second host that waited finds nothing to do.
//! - The DDL itself is guarded (`IF NOT EXISTS`), so even a database migrated
//!   by hand can be brought under tracking.

use futures::future::BoxFuture;
use sqlx::{PgPool, SqlitePool};

use super::error::StoreError;
use super::secret::sha256_hex;

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        sha256_hex(self.sql.as_bytes())
    }

    /// Placeholder files (comments only) are recorded but not executed.
    fn has_statements(&self) -> bool {
        self.sql
            .lines()
            .map(str::trim)
            .any(|l| !l.is_empty() && !l.starts_with("--"))
    }
}

/// PostgreSQL migrations, in order. (Add a file: add a line here and in [`SQLITE`].)
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "core",
        sql: include_str!("../../../migrations/postgres/0001_core.sql"),
    },
    Migration {
        version: 2,
        description: "lifecycle",
        sql: include_str!("../../../migrations/postgres/0002_lifecycle.sql"),
    },
    Migration {
        version: 3,
        description: "rls",
        sql: include_str!("../../../migrations/postgres/0003_rls.sql"),
    },
    Migration {
        version: 4,
        description: "dialer_version",
        sql: include_str!("../../../migrations/postgres/0004_dialer_version.sql"),
    },
    Migration {
        version: 5,
        description: "lifecycle throughput",
        sql: include_str!("../../../migrations/postgres/0005_lifecycle_throughput.sql"),
    },
    Migration {
        version: 6,
        description: "early call events",
        sql: include_str!("../../../migrations/postgres/0006_early_call_events.sql"),
    },
    Migration {
        version: 7,
        description: "attempt follow-up",
        sql: include_str!("../../../migrations/postgres/0007_attempt_follow_up.sql"),
    },
    Migration {
        version: 8,
        description: "keys and tenant names",
        sql: include_str!("../../../migrations/postgres/0008_keys_and_tenant_names.sql"),
    },
    Migration {
        version: 9,
        description: "retention",
        sql: include_str!("../../../migrations/postgres/0009_retention.sql"),
    },
    Migration {
        version: 10,
        description: "run pause",
        sql: include_str!("../../../migrations/postgres/0010_run_pause.sql"),
    },
    Migration {
        version: 11,
        description: "run job counts",
        sql: include_str!("../../../migrations/postgres/0011_run_job_counts.sql"),
    },
];

/// SQLite migrations, in order; same versions as [`POSTGRES`].
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        description: "core",
        sql: include_str!("../../../migrations/sqlite/0001_core.sql"),
    },
    Migration {
        version: 2,
        description: "lifecycle",
        sql: include_str!("../../../migrations/sqlite/0002_lifecycle.sql"),
    },
    Migration {
        version: 3,
        description: "rls",
        sql: include_str!("../../../migrations/sqlite/0003_rls.sql"),
    },
    Migration {
        version: 4,
        description: "dialer_version",
        sql: include_str!("../../../migrations/sqlite/0004_dialer_version.sql"),
    },
    Migration {
        version: 5,
        description: "lifecycle throughput",
        sql: include_str!("../../../migrations/sqlite/0005_lifecycle_throughput.sql"),
    },
    Migration {
        version: 6,
        description: "early call events",
        sql: include_str!("../../../migrations/sqlite/0006_early_call_events.sql"),
    },
    Migration {
        version: 7,
        description: "attempt follow-up",
        sql: include_str!("../../../migrations/sqlite/0007_attempt_follow_up.sql"),
    },
    Migration {
        version: 8,
        description: "keys and tenant names",
        sql: include_str!("../../../migrations/sqlite/0008_keys_and_tenant_names.sql"),
    },
    Migration {
        version: 9,
        description: "retention",
        sql: include_str!("../../../migrations/sqlite/0009_retention.sql"),
    },
    Migration {
        version: 10,
        description: "run pause",
        sql: include_str!("../../../migrations/sqlite/0010_run_pause.sql"),
    },
    Migration {
        version: 11,
        description: "run job counts",
        sql: include_str!("../../../migrations/sqlite/0011_run_job_counts.sql"),
    },
];

/// Key of the Postgres advisory lock taken while migrating ("dialplan" in ASCII).
pub const PG_MIGRATION_LOCK_KEY: i64 = 0x6469_616c_706c_616e;

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS dialplane_migrations (
    version     BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)";

/// What one call of the runner did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied now, with their descriptions.
    pub applied: Vec<(i64, String)>,
    /// Versions found already applied.
    pub already_applied: Vec<i64>,
}

fn other(e: sqlx::Error, url: &str) -> StoreError {
    StoreError::from_sqlx(e, url)
}

fn check_applied(m: &Migration, checksum: &str) -> Result<(), StoreError> {
    if checksum != m.checksum() {
        return Err(StoreError::Other(format!(
            "migration {} ({}) was changed after it was applied (checksum mismatch); \
             add a new migration instead of editing an applied one",
            m.version, m.description
        )));
    }
    Ok(())
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Applies the pending PostgreSQL migrations.
// Boxed as `Send` here: sqlx's executor lifetimes otherwise defeat the
// compiler's Send inference in callers that spawn `connect`.
pub fn apply_postgres<'a>(
    pool: &'a PgPool,
    url: &'a str,
) -> BoxFuture<'a, Result<MigrationReport, StoreError>> {
    Box::pin(async move {
        let mut report = MigrationReport::default();
        for m in POSTGRES {
            let mut tx = pool.begin().await.map_err(|e| other(e, url))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK_KEY)
                .execute(&mut *tx)
                .await
                .map_err(|e| other(e, url))?;
            sqlx::query(TRACKING_TABLE)
                .execute(&mut *tx)
                .await
                .map_err(|e| other(e, url))?;
            let done: Option<(String,)> =
                sqlx::query_as("SELECT checksum FROM dialplane_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| other(e, url))?;
            if let Some((checksum,)) = done {
                check_applied(m, &checksum)?;
                report.already_applied.push(m.version);
                continue; // dropping tx rolls back and releases the lock
            }
            if m.has_statements() {
                // A plain &str without arguments runs as a multi-statement script.
                sqlx::Executor::execute(&mut *tx, m.sql)
                    .await
                    .map_err(|e| migration_failed(m, e, url))?;
            }
            sqlx::query(RECORD)
                .bind(m.version)
                .bind(m.description)
                .bind(m.checksum())
                .bind(now_text())
                .execute(&mut *tx)
                .await
                .map_err(|e| other(e, url))?;
            tx.commit().await.map_err(|e| other(e, url))?;
            report.applied.push((m.version, m.description.to_string()));
        }
        Ok(report)
    })
}

/// Applies the pending SQLite migrations.
// Boxed as `Send` here: sqlx's executor lifetimes otherwise defeat the
// compiler's Send inference in callers that spawn `connect`.
pub fn apply_sqlite<'a>(
    pool: &'a SqlitePool,
    url: &'a str,
) -> BoxFuture<'a, Result<MigrationReport, StoreError>> {
    Box::pin(async move {
        let mut report = MigrationReport::default();
        for m in SQLITE {
            // BEGIN IMMEDIATE takes the write lock now (waiting on busy_timeout),
            // instead of failing later when a read transaction tries to upgrade.
            let mut tx = pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| other(e, url))?;
            sqlx::query(TRACKING_TABLE)
                .execute(&mut *tx)
                .await
                .map_err(|e| other(e, url))?;
            let done: Option<(String,)> =
                sqlx::query_as("SELECT checksum FROM dialplane_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| other(e, url))?;
            if let Some((checksum,)) = done {
                check_applied(m, &checksum)?;
                report.already_applied.push(m.version);
                continue;
            }
            if m.has_statements() {
                // A plain &str without arguments runs as a multi-statement script.
                sqlx::Executor::execute(&mut *tx, m.sql)
                    .await
                    .map_err(|e| migration_failed(m, e, url))?;
            }
            sqlx::query(RECORD)
                .bind(m.version)
                .bind(m.description)
                .bind(m.checksum())
                .bind(now_text())
                .execute(&mut *tx)
                .await
                .map_err(|e| other(e, url))?;
            tx.commit().await.map_err(|e| other(e, url))?;
            report.applied.push((m.version, m.description.to_string()));
        }
        Ok(report)
    })
}

const RECORD: &str = "INSERT INTO dialplane_migrations (version, description, checksum, applied_at) \
     VALUES ($1, $2, $3, $4)";

fn migration_failed(m: &Migration, e: sqlx::Error, url: &str) -> StoreError {
    match StoreError::from_sqlx(e, url) {
        u @ StoreError::Unavailable { .. } => u,
        e => StoreError::Other(format!(
            "migration {} ({}) failed and was rolled back: {e}",
            m.version, m.description
        )),
    }
}

/// The highest version this binary knows (for `/readyz`: "migrations current").
pub fn latest_version() -> i64 {
    POSTGRES.last().map(|m| m.version).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_versions() {
        let pg: Vec<_> = POSTGRES
            .iter()
            .map(|m| (m.version, m.description))
            .collect();
        let lite: Vec<_> = SQLITE.iter().map(|m| (m.version, m.description)).collect();
        assert_eq!(pg, lite);
        for (i, m) in POSTGRES.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions are 1, 2, 3, … in order");
        }
    }
}
