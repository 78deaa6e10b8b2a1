//! Typed ids, so a run id, a lease generation, a tenant id and a key id can
//! no longer be swapped silently where all were bare `i64`.
//!
//! Each is `#[serde(transparent)]` (the API's JSON keeps plain numbers) and
//! `#[sqlx(transparent)]` (binds and decodes as `i64`/`BIGINT` on both
//! PostgreSQL and SQLite).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares one `i64` id newtype with its conversions and `Display`.
macro_rules! i64_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The raw value, for SQL and for code not yet typed.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                $name(raw)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

i64_id!(
    /// A tenant (`businesses.id`; the schema's `business_id` columns).
    TenantId
);
i64_id!(
    /// An API key, a tenant's or the platform's (`api_keys.id`).
    ApiKeyId
);
i64_id!(
    /// A run (`runs.id`).
    RunId
);
i64_id!(
    /// A job: one lead within one run (`jobs.id`).
    JobId
);
i64_id!(
    /// A lead in a tenant's lead list (`leads.id`).
    LeadId
);
i64_id!(
    /// A run's lease generation: bumped on every claim, so a worker whose
    /// lease moved on writes nothing (`runs.lease_generation`).
    LeaseGeneration
);

/// A worker process's id (`runs.owner_worker`, `attempts.worker_id`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct WorkerId(pub String);

impl WorkerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for WorkerId {
    fn from(raw: String) -> Self {
        WorkerId(raw)
    }
}

impl From<&str> for WorkerId {
    fn from(raw: &str) -> Self {
        WorkerId(raw.to_string())
    }
}

impl From<WorkerId> for String {
    fn from(id: WorkerId) -> String {
        id.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Decode, Encode, Postgres, Sqlite};

    /// Compile-time proof the ids bind and decode on both engines.
    fn binds_on<DB: sqlx::Database, T>()
    where
        T: sqlx::Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    {
    }

    #[test]
    fn ids_are_sql_types_on_both_engines() {
        binds_on::<Postgres, TenantId>();
        binds_on::<Postgres, ApiKeyId>();
        binds_on::<Postgres, RunId>();
        binds_on::<Postgres, JobId>();
        binds_on::<Postgres, LeadId>();
        binds_on::<Postgres, LeaseGeneration>();
        binds_on::<Postgres, WorkerId>();
        binds_on::<Sqlite, TenantId>();
        binds_on::<Sqlite, ApiKeyId>();
        binds_on::<Sqlite, RunId>();
        binds_on::<Sqlite, JobId>();
        binds_on::<Sqlite, LeadId>();
        binds_on::<Sqlite, LeaseGeneration>();
        binds_on::<Sqlite, WorkerId>();
    }

    #[tokio::test]
    async fn ids_round_trip_through_sqlite() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let run: RunId = sqlx::query_scalar("SELECT ?")
            .bind(RunId(42))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(run, RunId(42));
        let generation: LeaseGeneration = sqlx::query_scalar("SELECT ? + 1")
            .bind(LeaseGeneration(6))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(generation, LeaseGeneration(7));
        let worker: WorkerId = sqlx::query_scalar("SELECT ?")
            .bind(WorkerId::from("w-1"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(worker.as_str(), "w-1");
    }

    #[test]
    fn ids_are_plain_json_numbers() {
        assert_eq!(serde_json::to_string(&RunId(7)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&TenantId(1)).unwrap(), "1");
        assert_eq!(serde_json::to_string(&JobId(-3)).unwrap(), "-3");
        assert_eq!(serde_json::to_string(&LeadId(9)).unwrap(), "9");
        assert_eq!(serde_json::to_string(&LeaseGeneration(2)).unwrap(), "2");
        assert_eq!(serde_json::from_str::<RunId>("7").unwrap(), RunId(7));
        assert!(serde_json::from_str::<RunId>("\"7\"").is_err());
        assert_eq!(
            serde_json::to_string(&WorkerId::from("w-1")).unwrap(),
            "\"w-1\""
        );
    }

    #[test]
    fn ids_display_and_convert_as_the_number() {
        assert_eq!(RunId(12).to_string(), "12");
        assert_eq!(i64::from(LeaseGeneration::from(5)), 5);
        assert_eq!(TenantId::from(3).get(), 3);
    }
}
