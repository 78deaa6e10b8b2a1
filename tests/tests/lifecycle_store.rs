//! The run store's conformance cases (`dialplane::store::conformance_runs`)
//! on both engines: SQLite in a temp file and real PostgreSQL (throwaway
//! cluster or `DATABASE_URL`), one fresh database per test.

use std::sync::Arc;

use dialplane::store::{self, Store};
use dialplane_tests::{pg, sqlite_url};

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
    dialplane::run_store_conformance_tests!(super::open_sqlite);
}

mod postgres {
    dialplane::run_store_conformance_tests!(super::open_postgres);
}
