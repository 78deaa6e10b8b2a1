//! [`TimedPool`]: a sqlx pool that times every connection it hands out, so
//! `/metrics` can say how long requests waited for the database
//! (`dialplane_db_pool_acquire_duration_seconds`). sqlx 0.8 keeps no such
//! figure, and the drivers acquire implicitly in every query
//! (`.fetch_one(&self.pool)`), so the wrapper is an [`Executor`] itself:
//! the drivers' queries stay as they are and none can skip the clock.
//!
//! Each wait is reported to the [`WaitObserver`]s added with
//! [`PoolProbe::observe_waits`], failed acquires (timeouts) included: a
//! request that gave up waited too. A probe holds the pool weakly, so
//! watching a pool never keeps its connections open after the store is gone.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::pool::{MaybePoolConnection, PoolConnection, PoolOptions};
use sqlx::{Database, Describe, Either, Error, Execute, Executor, Pool, Transaction};

use super::PoolStatus;

/// Called with each acquire's wait.
pub type WaitObserver = Box<dyn Fn(Duration) + Send + Sync>;

/// A pool's occupancy and waits, as `/metrics` reads them (object safe, so
/// a store hands one out without naming its engine).
pub trait PoolProbe: Send + Sync {
    /// Open, idle and maximum connections right now; `None` once every
    /// handle of the pool is dropped.
    fn status(&self) -> Option<PoolStatus>;
    /// Reports every later acquire's wait to `observer` as well.
    fn observe_waits(&self, observer: WaitObserver);
}

/// A [`Pool`] whose acquires are timed. Cloning shares the pool and its
/// observers, as cloning a [`Pool`] does.
pub struct TimedPool<DB: Database> {
    shared: Arc<Shared<DB>>,
}

struct Shared<DB: Database> {
    pool: Pool<DB>,
    /// std `RwLock`, not tokio's: nothing awaits while it is held, and an
    /// acquire only reads it.
    observers: RwLock<Vec<WaitObserver>>,
}

impl<DB: Database> Clone for TimedPool<DB> {
    fn clone(&self) -> Self {
        TimedPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<DB: Database> std::fmt::Debug for TimedPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedPool")
            .field("pool", &self.shared.pool)
            .finish()
    }
}

impl<DB: Database> From<Pool<DB>> for TimedPool<DB> {
    fn from(pool: Pool<DB>) -> Self {
        TimedPool {
            shared: Arc::new(Shared {
                pool,
                observers: RwLock::default(),
            }),
        }
    }
}

impl<DB: Database> TimedPool<DB> {
    /// The untimed pool, for what needs sqlx's own type (migrations,
    /// `PgListener`).
    pub fn inner(&self) -> &Pool<DB> {
        &self.shared.pool
    }

    /// A weak handle for `/metrics`.
    pub fn probe(&self) -> Arc<dyn PoolProbe> {
        Arc::new(Arc::downgrade(&self.shared))
    }

    /// A connection, its wait reported.
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, Error> {
        let started = Instant::now();
        let conn = self.inner().acquire().await;
        self.report(started.elapsed());
        conn
    }

    /// A transaction on a timed acquire (what [`Pool::begin`] does).
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, Error> {
        let conn = self.acquire().await?;
        Transaction::begin(MaybePoolConnection::PoolConnection(conn), None).await
    }

    /// [`TimedPool::begin`] with `statement` in place of `BEGIN` (SQLite's
    /// `BEGIN IMMEDIATE`).
    pub async fn begin_with(
        &self,
        statement: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Result<Transaction<'static, DB>, Error> {
        let conn = self.acquire().await?;
        Transaction::begin(
            MaybePoolConnection::PoolConnection(conn),
            Some(statement.into()),
        )
        .await
    }

    pub fn size(&self) -> u32 {
        self.inner().size()
    }

    pub fn num_idle(&self) -> usize {
        self.inner().num_idle()
    }

    pub fn options(&self) -> &PoolOptions<DB> {
        self.inner().options()
    }

    pub async fn close(&self) {
        self.inner().close().await
    }

    fn report(&self, waited: Duration) {
        // A poisoned lock means an observer panicked: skip, never fail a query.
        if let Ok(observers) = self.shared.observers.read() {
            for observe in observers.iter() {
                observe(waited);
            }
        }
    }
}

impl<DB: Database> PoolProbe for Weak<Shared<DB>> {
    fn status(&self) -> Option<PoolStatus> {
        let shared = self.upgrade()?;
        let pool = &shared.pool;
        Some(PoolStatus {
            size: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        })
    }

    fn observe_waits(&self, observer: WaitObserver) {
        if let Some(shared) = self.upgrade()
            && let Ok(mut observers) = shared.observers.write()
        {
            observers.push(observer);
        }
    }
}

/// sqlx's own `impl Executor for &Pool`, with [`TimedPool::acquire`] in
/// place of the pool's.
impl<'p, DB: Database> Executor<'p> for &'_ TimedPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let pool = self.clone();
        Box::pin(sqlx_core::try_stream! {
            let mut conn = pool.acquire().await?;
            let mut s = conn.fetch_many(query);
            while let Some(v) = s.try_next().await? {
                r#yield!(v);
            }
            Ok(())
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>> {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>> {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use futures::FutureExt;
    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    async fn one_connection_pool() -> TimedPool<sqlx::Sqlite> {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
            .into()
    }

    /// Every way the drivers reach a connection is timed: a query through
    /// the pool as executor (one-row, all-rows, execute), a transaction.
    #[tokio::test]
    async fn every_acquire_is_reported() {
        let pool = one_connection_pool().await;
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        pool.probe().observe_waits(Box::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let (one,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
        assert_eq!(one, 1);
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT 2 UNION ALL SELECT 3")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, vec![(2,), (3,)]);
        sqlx::query("SELECT 4").execute(&pool).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SELECT 5").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 4);
        let probe = pool.probe();
        assert_eq!(probe.status().map(|s| s.max), Some(1));
        drop(pool);
        assert_eq!(probe.status(), None, "the probe does not keep the pool");
    }

    /// A request that finds every connection taken reports a wait at least
    /// as long as it was kept waiting.
    #[tokio::test]
    async fn a_blocked_acquire_reports_its_wait() {
        let pool = one_connection_pool().await;
        let waits = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&waits);
        pool.probe()
            .observe_waits(Box::new(move |d| into.lock().unwrap().push(d)));
        let held = pool.acquire().await.unwrap();
        let waiter = pool.acquire();
        futures::pin_mut!(waiter);
        assert!(
            (&mut waiter).now_or_never().is_none(),
            "the only connection is held"
        );
        let blocked_from = Instant::now();
        // Let the runtime run before the release, so the wait is not empty.
        tokio::task::yield_now().await;
        let kept_waiting = blocked_from.elapsed();
        drop(held);
        let _conn = waiter.await.unwrap();
        let waits = waits.lock().unwrap();
        assert_eq!(waits.len(), 2, "{waits:?}");
        assert!(waits[1] >= kept_waiting, "{waits:?} < {kept_waiting:?}");
    }
}
