//! [`super::super::ApiRunPause`] and [`super::super::WorkerRunPause`],
//! written once for both engines. Each driver's `runs` module instantiates
//! [`impl_run_pause!`] and supplies what differs:
//! - `write_tx()`: the transaction every request runs in. PostgreSQL: a
//!   plain `BEGIN`, and the run row is read `FOR UPDATE`; SQLite:
//!   `BEGIN IMMEDIATE`, the database's one write lock. Either way a pause,
//!   a resume, a claim and a park never interleave on one run.
//! - `notify_owner(run)`: tells the run's owner to read its flags, after
//!   the commit (PostgreSQL `NOTIFY`; SQLite's in-process channel).
//! - `NOW_MS` and `LEASE_STATE_COLUMNS`, the engine's clock and lease-state
//!   columns (resolved where the macro is invoked).

/// Implements the pause traits for `$store` (`postgres` or `sqlite`).
macro_rules! impl_run_pause {
    ($store:ty, $engine:ident) => {
        use $crate::store::portable::pg_cast;

        #[async_trait::async_trait]
        impl $crate::store::run_pause::ApiRunPause for $store {
            async fn request_pause(
                &self,
                tenant: $crate::model::TenantId,
                run: $crate::model::RunId,
            ) -> $crate::store::StoreResult<$crate::store::runs::RunStatus> {
                use $crate::store::runs::RunStatus;
                let mut tx = self.write_tx().await?;
                let row: Option<(String, bool, bool, bool)> = sqlx::query_as(&format!(
                    // Unowned: never claimed, or the owner is gone (released,
                    // lease expired) with no call left `dialing`: no live
                    // owner can dial.
                    "SELECT status, cancel_requested, pause_requested, \
                         status = 'queued' OR ((owner_worker IS NULL OR lock_ts IS NULL \
                             OR lock_ts < {NOW_MS} - lease_ttl_ms) \
                             AND NOT EXISTS (SELECT 1 FROM jobs \
                                 WHERE run_id = runs.id AND {open}status = 'dialing')) \
                     FROM runs WHERE business_id = $1 AND id = $2{lock}",
                    open = pg_cast!($engine, "open AND "),
                    lock = pg_cast!($engine, " FOR UPDATE"),
                ))
                .bind(tenant)
                .bind(run)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                let Some((status, cancel, pause, unowned)) = row else {
                    return Err($crate::store::StoreError::NotFound);
                };
                let status = $crate::store::run_pause::refuse_pause(run, &status, cancel)?;
                if status == RunStatus::Queued && pause {
                    return Ok(RunStatus::Paused);
                }
                let now = if unowned {
                    // Parked at once; the bump fences a stalled former owner.
                    sqlx::query(&format!(
                        "UPDATE runs SET pause_requested = TRUE, status = 'queued', \
                             paused_at = {NOW_MS}, owner_worker = NULL, lock_ts = NULL, \
                             lease_generation = lease_generation \
                                 + CASE WHEN status = 'running' THEN 1 ELSE 0 END \
                         WHERE id = $1"
                    ))
                    .bind(run)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    RunStatus::Paused
                } else {
                    sqlx::query("UPDATE runs SET pause_requested = TRUE WHERE id = $1")
                        .bind(run)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    RunStatus::Running
                };
                tx.commit().await.map_err(|e| self.err(e))?;
                if now == RunStatus::Running {
                    self.notify_owner(run).await?;
                }
                Ok(now)
            }

            async fn pause_settled(
                &self,
                tenant: $crate::model::TenantId,
                run: $crate::model::RunId,
            ) -> $crate::store::StoreResult<bool> {
                let row: Option<(bool,)> = sqlx::query_as(&format!(
                    "SELECT status <> 'running' OR NOT pause_requested \
                         OR owner_worker IS NULL OR lock_ts IS NULL \
                         OR COALESCE(pause_acked_generation = lease_generation, FALSE) \
                         OR lock_ts < {NOW_MS} - lease_ttl_ms \
                     FROM runs WHERE business_id = $1 AND id = $2"
                ))
                .bind(tenant)
                .bind(run)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
                Ok(row.map(|r| r.0).unwrap_or(true))
            }

            async fn request_resume(
                &self,
                tenant: $crate::model::TenantId,
                run: $crate::model::RunId,
            ) -> $crate::store::StoreResult<$crate::store::runs::RunStatus> {
                let mut tx = self.write_tx().await?;
                let row: Option<(String, bool)> = sqlx::query_as(&format!(
                    "SELECT status, pause_requested FROM runs \
                     WHERE business_id = $1 AND id = $2{lock}",
                    lock = pg_cast!($engine, " FOR UPDATE"),
                ))
                .bind(tenant)
                .bind(run)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                let Some((status, pause)) = row else {
                    return Err($crate::store::StoreError::NotFound);
                };
                let status = $crate::store::run_pause::refuse_resume(run, &status, pause)?;
                sqlx::query(
                    "UPDATE runs SET pause_requested = FALSE, pause_acked_generation = NULL, \
                         paused_at = NULL WHERE id = $1",
                )
                .bind(run)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                tx.commit().await.map_err(|e| self.err(e))?;
                if status == $crate::store::runs::RunStatus::Running {
                    self.notify_owner(run).await?;
                }
                Ok(status)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::run_pause::WorkerRunPause for $store {
            async fn ack_pause(
                &self,
                lease: &$crate::model::Lease,
            ) -> $crate::store::StoreResult<$crate::store::runs::Fenced> {
                let mut tx = self.write_tx().await?;
                let n = sqlx::query(
                    "UPDATE runs SET pause_acked_generation = CASE WHEN pause_requested \
                         THEN lease_generation ELSE pause_acked_generation END \
                     WHERE id = $1 AND lease_generation = $2 AND status = 'running'",
                )
                .bind(lease.run)
                .bind(lease.generation)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected();
                tx.commit().await.map_err(|e| self.err(e))?;
                Ok(if n == 1 {
                    $crate::store::runs::Fenced::Done
                } else {
                    $crate::store::runs::Fenced::LeaseLost
                })
            }

            async fn park_run(
                &self,
                lease: &$crate::model::Lease,
            ) -> $crate::store::StoreResult<$crate::store::run_pause::Parked> {
                use $crate::store::run_pause::Parked;
                let mut tx = self.write_tx().await?;
                let row: Option<(bool, bool, bool)> = sqlx::query_as(&format!(
                    "SELECT pause_requested, cancel_requested, \
                         EXISTS (SELECT 1 FROM jobs \
                             WHERE run_id = runs.id AND {open}status = 'dialing') \
                     FROM runs WHERE id = $1 AND lease_generation = $2 \
                         AND status = 'running'{lock}",
                    open = pg_cast!($engine, "open AND "),
                    lock = pg_cast!($engine, " FOR UPDATE"),
                ))
                .bind(lease.run)
                .bind(lease.generation)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                let parked = match row {
                    None => Parked::LeaseLost,
                    Some((pause, cancel, _)) if !pause || cancel => Parked::NotRequested,
                    Some((_, _, true)) => Parked::Busy,
                    Some(_) => {
                        sqlx::query(&format!(
                            "UPDATE runs SET status = 'queued', paused_at = {NOW_MS}, \
                                 owner_worker = NULL, lock_ts = NULL, \
                                 lease_generation = lease_generation + 1 WHERE id = $1"
                        ))
                        .bind(lease.run)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                        Parked::Parked
                    }
                };
                tx.commit().await.map_err(|e| self.err(e))?;
                Ok(parked)
            }

            async fn lease_state(
                &self,
                lease: &$crate::model::Lease,
            ) -> $crate::store::StoreResult<Option<$crate::store::runs::LeaseState>> {
                let row: Option<$crate::store::runs::LeaseStateRow> = sqlx::query_as(&format!(
                    "SELECT {LEASE_STATE_COLUMNS} FROM runs \
                     WHERE id = $1 AND lease_generation = $2 AND status = 'running'"
                ))
                .bind(lease.run)
                .bind(lease.generation)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
                Ok(row.map($crate::store::runs::LeaseState::from))
            }
        }
    };
}
pub(crate) use impl_run_pause;
