//! Row-Level Security, the second wall (PostgreSQL): through the API's own
//! pool, a query that forgets the `business_id` filter still sees only the
//! current tenant's rows; writes into another tenant are refused; with no
//! scope at all nothing is visible (fail closed).

use crate::api_common::Api;
use dialplane::model::TenantId;
use dialplane::store::tenant_scope::{DbScope, api_pool, scoped};
use serde_json::json;

/// Every tenant table and its tenant column.
const TABLES: &[(&str, &str)] = &[
    ("businesses", "id"),
    ("api_keys", "business_id"),
    ("leads", "business_id"),
    ("plugins", "business_id"),
    ("tenant_store", "business_id"),
    ("dnc", "business_id"),
    ("audit_log", "business_id"),
    ("dialer_configs", "business_id"),
    ("callback_tokens", "business_id"),
    ("runs", "business_id"),
    ("jobs", "business_id"),
    ("attempts", "business_id"),
];

async fn tenants_visible(pool: &sqlx::PgPool, table: &str, col: &str) -> Vec<Option<i64>> {
    // Deliberately no WHERE business_id = …: the policy must do it.
    let sql = format!("SELECT DISTINCT {col} FROM {table} ORDER BY 1");
    sqlx::query_as::<_, (Option<i64>,)>(&sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .into_iter()
        .map(|r| r.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_without_the_tenant_filter_cannot_read_another_tenant() {
    let mut api = Api::pg().await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.worker(|_| {}).await;
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let t = api.tenant(name).await;
        api.install_default_flow(&t).await;
        let leads = api.import_leads(&t, 3).await;
        let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
        api.wait_run(&t, run, std::time::Duration::from_secs(30), |v| {
            v["status"] == "completed"
        })
        .await;
        api.post("/api/dnc", &t.key, json!({"phones": ["+14155550999"]}))
            .await;
        api.call(
            reqwest::Method::PUT,
            "/api/dialer-config/sim-dialer",
            Some(&t.key),
            Some(json!({"config": {"k": "v"}})),
        )
        .await;
        api.call(
            reqwest::Method::POST,
            "/api/dialer-config/sim-dialer/callback-token",
            Some(&t.key),
            None,
        )
        .await;
        api.db
            .kv_set(t.id.into(), "flow:x", "k", b"v")
            .await
            .unwrap();
        ids.push(t.id);
    }
    let (a, b) = (ids[0], ids[1]);
    let pool = api_pool(&api.url).await.unwrap();

    for (table, col) in TABLES {
        // The owner sees both tenants: the rows exist.
        let all: Vec<(Option<i64>,)> =
            sqlx::query_as(&format!("SELECT DISTINCT {col} FROM {table}"))
                .fetch_all(&scoped_owner(&api).await)
                .await
                .unwrap();
        assert!(
            all.iter().any(|r| r.0 == Some(a)) && all.iter().any(|r| r.0 == Some(b)),
            "{table}: fixture missing"
        );

        let seen = scoped(
            DbScope::Tenant(TenantId(b)),
            tenants_visible(&pool, table, col),
        )
        .await;
        let expected: Vec<Option<i64>> = if *table == "plugins" {
            vec![Some(b), None]
        } else {
            vec![Some(b)]
        };
        let mut seen_sorted = seen.clone();
        seen_sorted.sort();
        let mut exp_sorted = expected.clone();
        exp_sorted.sort();
        assert_eq!(seen_sorted, exp_sorted, "{table}: tenant {b} saw {seen:?}");

        let none = tenants_visible(&pool, table, col).await;
        let expected_none: Vec<Option<i64>> = if *table == "plugins" {
            vec![None]
        } else {
            vec![]
        };
        assert_eq!(
            none, expected_none,
            "{table}: no scope must fail closed, saw {none:?}"
        );
    }

    // A write into another tenant is refused by the policy.
    let err = scoped(DbScope::Tenant(TenantId(b)), async {
        sqlx::query(
            "INSERT INTO leads (business_id, external_id, phone) VALUES ($1, 'x', '+14155550000')",
        )
        .bind(a)
        .execute(&pool)
        .await
    })
    .await
    .expect_err("RLS must refuse");
    assert!(err.to_string().contains("row-level security"), "{err}");
    // And an UPDATE without the filter touches only the tenant's own rows.
    let n = scoped(DbScope::Tenant(TenantId(b)), async {
        sqlx::query("UPDATE leads SET status = 'touched'")
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected()
    })
    .await;
    assert_eq!(n, 3);
    let untouched: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM leads WHERE business_id = $1 AND status = 'touched'")
            .bind(a)
            .fetch_one(&scoped_owner(&api).await)
            .await
            .unwrap();
    assert_eq!(untouched.0, 0);
}

/// A plain pool with the owner's rights (what workers use).
async fn scoped_owner(api: &Api) -> sqlx::PgPool {
    sqlx::PgPool::connect(&api.url).await.unwrap()
}
