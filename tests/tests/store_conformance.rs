//! The store conformance suite (`dialplane::store::conformance`) on both
//! engines: SQLite in a temp file, and real PostgreSQL (throwaway cluster or
//! `DATABASE_URL`), one fresh database per test. Plus raw-row checks that
//! need SQL: the API key's plaintext is stored nowhere.

use std::sync::Arc;

use dialplane::store::{self, Store};
use dialplane_tests::{pg, sqlite_url};
use sqlx::{Connection, Row};

type Guard = Option<tempfile::TempDir>;

async fn open_sqlite() -> (Arc<dyn Store>, Guard) {
    let (url, dir) = sqlite_url().unwrap();
    (store::connect(&url).await.unwrap(), Some(dir))
}

async fn open_postgres() -> (Arc<dyn Store>, Guard) {
    let url = pg::fresh_database().await.unwrap();
    (store::connect(&url).await.unwrap(), None)
}

mod sqlite {
    dialplane::store_conformance_tests!(super::open_sqlite);
}

mod postgres {
    dialplane::store_conformance_tests!(super::open_postgres);
}

/// Every column of every api_keys row, as text.
const API_KEY_ROW_TEXT: &str = "SELECT CAST(id AS TEXT) || '|' || COALESCE(CAST(business_id AS TEXT), '') \
     || '|' || kind || '|' || key_hash || '|' || prefix FROM api_keys";

async fn assert_plaintext_not_stored(store: Arc<dyn Store>, rows: Vec<String>, plaintext: &str) {
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(!row.contains(plaintext), "plaintext key found in row {row}");
        assert!(
            !row.contains(&plaintext[plaintext.len() - 16..]),
            "key tail stored: {row}"
        );
    }
    assert!(
        rows.iter()
            .any(|r| r.contains(&dialplane::store::secret::hash(plaintext))),
        "the sha256 of the key is what is stored"
    );
    drop(store);
}

#[tokio::test]
async fn sqlite_key_plaintext_is_not_stored() {
    let (url, _dir) = sqlite_url().unwrap();
    let store = store::connect(&url).await.unwrap();
    let t = store.create_tenant("Hash Co").await.unwrap();
    let key = store.create_api_key(Some(t)).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<String> = sqlx::query(API_KEY_ROW_TEXT)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_plaintext_not_stored(store, rows, &key.plaintext).await;
}

#[tokio::test]
async fn postgres_key_plaintext_is_not_stored() {
    let url = pg::fresh_database().await.unwrap();
    let store = store::connect(&url).await.unwrap();
    let t = store.create_tenant("Hash Co").await.unwrap();
    let key = store.create_api_key(Some(t)).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let rows: Vec<String> = sqlx::query(API_KEY_ROW_TEXT)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_plaintext_not_stored(store, rows, &key.plaintext).await;
}

/// The whole suite in sequence on one database: cases must not depend on an
/// empty database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_run_all_on_one_database() {
    let (store, _dir) = open_sqlite().await;
    dialplane::store::conformance::run_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_all_on_one_database() {
    let (store, _) = open_postgres().await;
    dialplane::store::conformance::run_all(store).await;
}
