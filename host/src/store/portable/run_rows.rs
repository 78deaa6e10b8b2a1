//! The run store's row mappers for both drivers: runs, jobs, attempts and
//! the leads joined to a worker's jobs, read the same way on both engines
//! (see [`super`]). Only the statements stay per engine (`*/runs/`).

use crate::model::CallState;

/// Declares, in a driver's `runs` module, the column lists and the mappers
/// from that driver's row type `$row` (`$engine` is `postgres` or `sqlite`):
/// `RUN_COLUMNS` → `run_from_row`, `JOB_COLUMNS` → `job_from_row`, `ATTEMPT_COLUMNS` → `attempt_from_row`,
/// and for the worker's reads `job_work_from_row`, `dialing_job_from_row`
/// and `lead_from_row` (lead columns `external_id, phone, name, timezone,
/// attributes`). JSON columns are read as text: PostgreSQL casts them in
/// the column lists.
macro_rules! impl_run_rows {
    ($row:ty, $engine:ident) => {
        const RUN_COLUMNS: &str = concat!(
            // A parked run is stored `queued` with `pause_requested` (migration 0010).
            "id, business_id, \
             CASE WHEN status = 'queued' AND pause_requested THEN 'paused' ELSE status END AS status, \
             flow_plugin_id, dialer, settings",
            $crate::store::portable::pg_cast!($engine, "::text AS settings"),
            ", total_leads, cursor_position, cancel_requested, cancel_mode, pause_requested, \
             paused_at, owner_worker, lease_generation, last_call_placed_at, failure, created_at, \
             started_at, finished_at"
        );

        const JOB_COLUMNS: &str =
            "id, run_id, lead_id, position, status, attempt, not_before, outcome, reason";

        const ATTEMPT_COLUMNS: &str = concat!(
            "id, run_id, job_id, lead_id, attempt, placed, idempotency_key, decision, compliance",
            $crate::store::portable::pg_cast!($engine, "::text AS compliance"),
            ", worker_id, lease_generation, provider_call_id, call_state, outcome, note, \
             decided_at, placed_at, ended_at, dialer_version, lead_status, lead_tags",
            $crate::store::portable::pg_cast!($engine, "::text AS lead_tags")
        );

        /// `jobs.attempt` and `attempts.attempt` are `INTEGER` (32 bits on
        /// PostgreSQL; SQLite decodes them as `i32` too).
        fn attempt_of(row: &$row) -> i32 {
            use sqlx::Row;
            row.get::<i32, _>("attempt")
        }

        fn run_from_row(row: &$row) -> $crate::store::StoreResult<$crate::store::runs::RunView> {
            use sqlx::Row;
            let settings: String = row.get("settings");
            Ok($crate::store::runs::RunView {
                id: row.get("id"),
                tenant: row.get("business_id"),
                status: $crate::store::runs::RunStatus::parse(row.get::<&str, _>("status"))?,
                flow_plugin_id: row.get("flow_plugin_id"),
                dialer: row.get("dialer"),
                settings: serde_json::from_str(&settings).map_err(|e| {
                    $crate::store::StoreError::Other(format!("corrupt runs.settings: {e}"))
                })?,
                total_leads: row.get("total_leads"),
                cursor_position: row.get("cursor_position"),
                cancel_requested: row.get("cancel_requested"),
                cancel_mode: row
                    .get::<Option<&str>, _>("cancel_mode")
                    .and_then($crate::model::CancelMode::parse),
                pause_requested: row.get("pause_requested"),
                paused_at: row.get("paused_at"),
                owner_worker: row.get("owner_worker"),
                lease_generation: row.get("lease_generation"),
                last_call_placed_at: row.get("last_call_placed_at"),
                failure: row.get("failure"),
                created_at: row.get("created_at"),
                started_at: row.get("started_at"),
                finished_at: row.get("finished_at"),
                counts: $crate::store::runs::JobCounts::default(),
            })
        }

        fn job_from_row(row: &$row) -> $crate::store::runs::JobView {
            use sqlx::Row;
            $crate::store::runs::JobView {
                id: row.get("id"),
                run_id: row.get("run_id"),
                lead_id: row.get("lead_id"),
                position: row.get("position"),
                status: row.get("status"),
                attempt: i64::from(attempt_of(row)),
                not_before: row.get("not_before"),
                outcome: row.get("outcome"),
                reason: row.get("reason"),
            }
        }

        fn attempt_from_row(row: &$row) -> $crate::store::runs::AttemptView {
            use sqlx::Row;
            $crate::store::runs::AttemptView {
                id: row.get("id"),
                run_id: row.get("run_id"),
                job_id: row.get("job_id"),
                lead_id: row.get("lead_id"),
                attempt: i64::from(attempt_of(row)),
                placed: row.get("placed"),
                idempotency_key: row.get("idempotency_key"),
                decision: row.get("decision"),
                compliance: row.get("compliance"),
                worker_id: row.get("worker_id"),
                lease_generation: row.get("lease_generation"),
                provider_call_id: row.get("provider_call_id"),
                call_state: row.get("call_state"),
                outcome: row.get("outcome"),
                note: row.get("note"),
                lead_status: row.get("lead_status"),
                lead_tags: $crate::store::runs::tags_from_json(row.get("lead_tags")),
                decided_at: row.get("decided_at"),
                placed_at: row.get("placed_at"),
                ended_at: row.get("ended_at"),
                dialer_version: row.get("dialer_version"),
            }
        }

        /// Lead columns (`l.`) → [`crate::runtime::Lead`]; attributes are a
        /// JSON object of strings.
        fn lead_from_row(row: &$row) -> $crate::runtime::Lead {
            use sqlx::Row;
            let attrs: String = row.get("attributes");
            $crate::runtime::Lead {
                id: row.get("external_id"),
                phone: row.get("phone"),
                name: row.get("name"),
                timezone: row.get("timezone"),
                attributes: $crate::store::runs::attributes_from_json(&attrs),
            }
        }

        /// A queued job with its lead, DNC flag (`dnc`) and recent
        /// attempts (`n24`).
        fn job_work_from_row(row: &$row) -> $crate::store::runs::JobWork {
            use sqlx::Row;
            $crate::store::runs::JobWork {
                job_id: row.get("id"),
                lead_id: row.get("lead_id"),
                attempt: attempt_of(row) as u32,
                dnc_listed: row.get("dnc"),
                attempts_24h: row.get::<i64, _>("n24") as u32,
                lead: lead_from_row(row),
            }
        }

        /// A job of `run` left `dialing`, with its lead and its attempt's
        /// call state and report (`report`, JSON text) if any.
        fn dialing_job_from_row(
            row: &$row,
            run: $crate::model::RunId,
        ) -> $crate::store::runs::DialingJob {
            use sqlx::Row;
            let job_id: $crate::model::JobId = row.get("id");
            let attempt = attempt_of(row) as u32;
            $crate::store::runs::DialingJob {
                job_id,
                lead_id: row.get("lead_id"),
                attempt,
                idempotency_key: $crate::store::runs::idempotency_key(run, job_id, attempt),
                provider_call_id: row.get("provider_call_id"),
                call_deadline: row.get("call_deadline"),
                call_state: row.get("call_state"),
                report: row
                    .get::<Option<String>, _>("report")
                    .and_then(|s| serde_json::from_str::<$crate::runtime::CallReport>(&s).ok()),
                lead: lead_from_row(row),
            }
        }
    };
}
pub(crate) use impl_run_rows;

/// `attempts.call_state` in the order a call moves through it: SQL compares
/// it with the stored state's rank so a late event never moves it back.
pub(crate) fn call_state_rank(s: CallState) -> i32 {
    match s {
        CallState::Queued => 0,
        CallState::Ringing => 1,
        CallState::Answered => 2,
        CallState::Ended => 3,
    }
}
