//! Migrations: a second run is a no-op; concurrent runs (tasks and processes)
//! do not race; a changed migration is refused; an unreachable database is
//! reported with its URL (password removed) and the cause.

use std::process::Stdio;

use dialplane::store::{self, migrate};
use dialplane_tests::{dialplane_bin, pg, sqlite_url};

async fn applied_twice_second_is_noop(url: &str) {
    let (db, first) = store::connect_with_report(url)
        .await
        .expect("first connect");
    assert_eq!(
        first.applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        migrate::POSTGRES
            .iter()
            .map(|m| m.version)
            .collect::<Vec<_>>(),
        "a fresh database gets every migration"
    );
    let (_, second) = store::connect_with_report(url)
        .await
        .expect("second connect");
    assert!(
        second.applied.is_empty(),
        "second run applied {:?}",
        second.applied
    );
    assert_eq!(second.already_applied.len(), migrate::POSTGRES.len());
    assert_eq!(
        db.schema_version().await.unwrap(),
        migrate::latest_version()
    );
}

async fn concurrent_tasks(url: &str) {
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let url = url.to_string();
            tokio::spawn(async move { store::connect_with_report(&url).await })
        })
        .collect();
    let mut applied_total = 0;
    for t in tasks {
        let (_, report) = t.await.unwrap().expect("concurrent migrate must not fail");
        applied_total += report.applied.len();
    }
    assert_eq!(
        applied_total,
        migrate::POSTGRES.len(),
        "each migration applied exactly once across all tasks"
    );
}

async fn concurrent_processes(url: &str) {
    let bin = dialplane_bin().expect("dialplane binary");
    let children: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(&bin)
                .args(["migrate", "--database-url", url])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dialplane migrate")
        })
        .collect();
    let mut applied_lines = 0;
    for c in children {
        let out = c.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "dialplane migrate failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        applied_lines += stdout.lines().filter(|l| l.starts_with("applied ")).count();
    }
    assert_eq!(applied_lines, migrate::POSTGRES.len());
    let db = store::connect(url).await.unwrap();
    assert_eq!(
        db.schema_version().await.unwrap(),
        migrate::latest_version()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_applied_twice_is_noop() {
    applied_twice_second_is_noop(&pg::fresh_database().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_tasks_do_not_race() {
    concurrent_tasks(&pg::fresh_database().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_processes_do_not_race() {
    concurrent_processes(&pg::fresh_database().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_applied_twice_is_noop() {
    let (url, _dir) = sqlite_url().unwrap();
    applied_twice_second_is_noop(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_tasks_do_not_race() {
    let (url, _dir) = sqlite_url().unwrap();
    concurrent_tasks(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_processes_do_not_race() {
    let (url, _dir) = sqlite_url().unwrap();
    concurrent_processes(&url).await;
}

#[tokio::test]
async fn unreachable_database_names_url_without_password_and_cause() {
    let bin = dialplane_bin().unwrap();
    // Port 1 on loopback: nothing listens there.
    let out = tokio::process::Command::new(bin)
        .args([
            "migrate",
            "--database-url",
            "postgres://alice:s3cret@127.0.0.1:1/app",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("postgres://alice:***@127.0.0.1:1/app"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "password leaked: {stderr}");
    assert!(stderr.contains("refused"), "cause missing: {stderr}");
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    let (url, _dir) = sqlite_url().unwrap();
    store::connect(&url).await.unwrap();
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("UPDATE dialplane_migrations SET checksum = 'edited' WHERE version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = store::connect(&url).await.err().expect("must refuse");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

/// A database at version 7 (before unique tenant names), as an older binary
/// left it: migrations 1 to 7 applied and recorded.
async fn at_version_7<DB: sqlx::Database>(
    conn: &mut <DB as sqlx::Database>::Connection,
    migrations: &[migrate::Migration],
) where
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::Executor::execute(
        &mut *conn,
        "CREATE TABLE dialplane_migrations (version BIGINT PRIMARY KEY, \
         description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await
    .unwrap();
    for m in migrations.iter().filter(|m| m.version <= 7) {
        sqlx::Executor::execute(&mut *conn, m.sql).await.unwrap();
        sqlx::query("INSERT INTO dialplane_migrations VALUES ($1, $2, $3, 'then')")
            .bind(m.version)
            .bind(m.description)
            .bind(m.checksum())
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    // What the old `tenant create` allowed: one name, several tenants.
    for name in ["Acme", "acme ", "Other", "ACME", "Acme (#2)"] {
        sqlx::query("INSERT INTO businesses (name) VALUES ($1)")
            .bind(name)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

/// Migrating keeps every tenant: the oldest keeps the name, later ones
/// get their id appended; afterwards the name is unique.
async fn duplicates_renamed(url: &str) {
    let db = store::connect(url)
        .await
        .expect("migrates despite duplicates");
    let mut names: Vec<(i64, String)> = db
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id.get(), t.name))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            (1, "Acme".to_string()),
            (2, "acme (#2)".to_string()),
            (3, "Other".to_string()),
            (4, "ACME (#4)".to_string()),
            (5, "Acme (#2) (#5)".to_string()),
        ]
    );
    assert!(matches!(
        db.create_tenant("ACME").await,
        Err(store::StoreError::Conflict { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_duplicate_tenant_names_are_renamed_not_lost() {
    let (url, _dir) = sqlite_url().unwrap();
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    at_version_7::<sqlx::Sqlite>(&mut conn, migrate::SQLITE).await;
    drop(conn);
    duplicates_renamed(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_duplicate_tenant_names_are_renamed_not_lost() {
    let url = pg::fresh_database().await.unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    at_version_7::<sqlx::Postgres>(&mut conn, migrate::POSTGRES).await;
    drop(conn);
    duplicates_renamed(&url).await;
}
