//! Retention and erasure through the real `dialplane serve` (API and its
//! in-process worker, whose cleaner runs every 100 ms here), on both
//! engines: a campaign runs to the end with the sim dialer, the tenant sets
//! a 0-day retention, the cleaner deletes the run's jobs and attempts while
//! the run keeps its counts; a second campaign, then erasure by id and by
//! phone, after which the phones appear in no column of any table (every
//! row of the database is searched, bytes included), counts still hold, and
//! the audit log says `lead.erased` without the phone.

use std::time::Duration;

use dialplane_tests::serve_process::spawn_serve;
use dialplane_tests::{dialplane_bin, pg, sqlite_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const RUN_WITHIN: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

/// Two leads share a phone: erasing by phone erases both.
const PHONES: [&str; 4] = [
    "+14155550171",
    "+14155550172",
    "+14155550173",
    "+14155550173",
];

/// The database, for what the API does not show: rows gone, text anywhere.
enum Db {
    Pg(sqlx::PgPool),
    Lite(sqlx::SqlitePool),
}

impl Db {
    async fn open(url: &str) -> Db {
        if url.starts_with("postgres") {
            Db::Pg(sqlx::PgPool::connect(url).await.unwrap())
        } else {
            Db::Lite(sqlx::SqlitePool::connect(url).await.unwrap())
        }
    }

    async fn count(&self, sql: &str, id: i64) -> i64 {
        match self {
            Db::Pg(p) => {
                sqlx::query_as::<_, (i64,)>(sql)
                    .bind(id)
                    .fetch_one(p)
                    .await
                    .unwrap()
                    .0
            }
            Db::Lite(p) => {
                sqlx::query_as::<_, (i64,)>(sql)
                    .bind(id)
                    .fetch_one(p)
                    .await
                    .unwrap()
                    .0
            }
        }
    }

    /// The tables whose rows mention `text` (as text, or as bytes: a
    /// `bytea`/BLOB value is searched as hex).
    async fn tables_mentioning(&self, text: &str) -> Vec<String> {
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        let mut found = Vec::new();
        match self {
            Db::Pg(p) => {
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(p)
                .await
                .unwrap();
                for (t,) in tables {
                    // A row as text renders every column, bytea as \x<hex>.
                    let (n,): (i64,) = sqlx::query_as(&format!(
                        "SELECT COUNT(*) FROM \"{t}\" x \
                         WHERE strpos(x::text, $1) > 0 OR strpos(x::text, $2) > 0"
                    ))
                    .bind(text)
                    .bind(&hex)
                    .fetch_one(p)
                    .await
                    .unwrap();
                    if n > 0 {
                        found.push(t);
                    }
                }
            }
            Db::Lite(p) => {
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(p)
                .await
                .unwrap();
                for (t,) in tables {
                    let cols: Vec<(String,)> =
                        sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{t}')"))
                            .fetch_all(p)
                            .await
                            .unwrap();
                    let cond: Vec<String> = cols
                        .iter()
                        .map(|(c,)| {
                            format!(
                                "instr(CAST(\"{c}\" AS TEXT), $1) > 0 OR instr(lower(hex(\"{c}\")), $2) > 0"
                            )
                        })
                        .collect();
                    let (n,): (i64,) = sqlx::query_as(&format!(
                        "SELECT COUNT(*) FROM \"{t}\" WHERE {}",
                        cond.join(" OR ")
                    ))
                    .bind(text)
                    .bind(&hex)
                    .fetch_one(p)
                    .await
                    .unwrap();
                    if n > 0 {
                        found.push(t);
                    }
                }
            }
        }
        found
    }
}

/// A `dialplane serve` process and an HTTP client for it.
struct Serve {
    _child: Child,
    base: String,
    http: reqwest::Client,
}

impl Serve {
    async fn start(url: &str) -> Serve {
        let (child, base) = spawn_serve(url, &["--cleaner-interval", "100ms"]).await;
        Serve {
            _child: child,
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let st = resp.status();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (st, v)
    }

    async fn upload(&self, path: &str, key: &str, wasm: &[u8]) {
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/wasm")
            .body(wasm.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{path}");
    }

    /// Starts a run over `leads` and waits until it is completed: its view.
    async fn campaign(&self, key: &str, leads: &[i64]) -> Value {
        let (st, run) = self
            .call(
                Method::POST,
                "/api/outbound/runs",
                key,
                Some(
                    json!({"lead_ids": leads, "flow": "default-flow", "dialer": "sim-dialer",
                            "settings": {"concurrency": 2, "max_attempts": 1,
                                         "calling_window": {"start": "00:00", "end": "24:00"}}}),
                ),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{run}");
        let path = format!("/api/outbound/runs/{}", run["id"]);
        self.wait(key, &path, |v| v["status"] == "completed").await
    }

    /// Polls `path` until `cond` holds.
    async fn wait(&self, key: &str, path: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let end = tokio::time::Instant::now() + RUN_WITHIN;
        loop {
            let (st, v) = self.call(Method::GET, path, key, None).await;
            assert_eq!(st, StatusCode::OK, "{v}");
            if cond(&v) {
                return v;
            }
            assert!(tokio::time::Instant::now() < end, "{path}: {v}");
            tokio::time::sleep(POLL).await;
        }
    }
}

async fn cli(args: &[&str], name: &str) -> String {
    let out = Command::new(dialplane_bin().unwrap())
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no `{name}:` in {stdout}"))
        .trim()
        .to_string()
}

async fn retention_and_erasure(url: &str) {
    let admin = cli(&["admin-key", "create", "--database-url", url], "admin_key").await;
    let key = cli(
        &["tenant", "create", "Acme", "--database-url", url],
        "api_key",
    )
    .await;
    let other = cli(
        &["tenant", "create", "Other", "--database-url", url],
        "api_key",
    )
    .await;
    let db = Db::open(url).await;
    let s = Serve::start(url).await;
    s.upload(
        "/api/admin/dialers/sim-dialer",
        &admin,
        dialplane::builtin::SIM_DIALER,
    )
    .await;
    s.upload(
        "/api/plugins/flows/default-flow",
        &key,
        dialplane::builtin::DEFAULT_FLOW,
    )
    .await;
    let rows: Vec<Value> = PHONES
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"external_id": format!("R-{i}"), "phone": p, "name": format!("Person {i}"),
                   "timezone": "America/New_York", "attributes": {"email": format!("p{i}@example.com")}})
        })
        .collect();
    let (st, v) = s
        .call(Method::POST, "/api/leads", &key, Some(Value::Array(rows)))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let leads: Vec<i64> = v["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();

    // Retention: bad values are refused naming `days`, changing nothing.
    for bad in [
        json!({"days": 1.5}),
        json!({"days": -1}),
        json!({"days": 3651}),
        json!({}),
    ] {
        let (st, v) = s
            .call(
                Method::PUT,
                "/api/settings/retention",
                &key,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["error"]["field"], "days", "{bad}: {v}");
    }
    let (_, v) = s
        .call(Method::GET, "/api/settings/retention", &key, None)
        .await;
    assert_eq!(v, json!({"days": null}), "the platform default");

    // A finished campaign, then a 0-day retention: the cleaner takes its rows.
    let first = s.campaign(&key, &leads).await;
    let run = first["id"].as_i64().unwrap();
    assert_eq!(first["jobs"]["completed"], 4, "{first}");
    let (st, _) = s
        .call(
            Method::PUT,
            "/api/settings/retention",
            &key,
            Some(json!({"days": 0})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let end = tokio::time::Instant::now() + RUN_WITHIN;
    while db
        .count(
            "SELECT COUNT(*) FROM runs WHERE id = $1 AND purged_at IS NOT NULL",
            run,
        )
        .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < end,
            "the cleaner never purged run {run}"
        );
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM jobs WHERE run_id = $1", run)
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM attempts WHERE run_id = $1", run)
            .await,
        0
    );
    let (_, after) = s
        .call(
            Method::GET,
            &format!("/api/outbound/runs/{run}"),
            &key,
            None,
        )
        .await;
    assert_eq!(after, first, "the run view keeps its counts");
    let (_, jobs) = s
        .call(
            Method::GET,
            &format!("/api/outbound/runs/{run}/jobs"),
            &key,
            None,
        )
        .await;
    assert_eq!(jobs["items"], json!([]));

    // Back to the default (90 days): a second campaign keeps its rows.
    let (st, _) = s
        .call(
            Method::PUT,
            "/api/settings/retention",
            &key,
            Some(json!({"days": null})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let second = s.campaign(&key, &leads).await;
    let run2 = second["id"].as_i64().unwrap();
    assert!(
        db.tables_mentioning(PHONES[0])
            .await
            .contains(&"attempts".to_string())
            || db
                .tables_mentioning(PHONES[0])
                .await
                .contains(&"tenant_store".to_string()),
        "the search finds a phone the host stored"
    );

    // Erasure by id: another tenant's lead is a 404, twice is a 204.
    let path = format!("/api/leads/{}", leads[0]);
    let (st, _) = s.call(Method::DELETE, &path, &other, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        let (st, v) = s.call(Method::DELETE, &path, &key, None).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    }
    // By phone: both leads with it; bad phones are refused naming `phone`.
    let (st, v) = s
        .call(
            Method::POST,
            "/api/leads/erase",
            &key,
            Some(json!({"phone": "4155550173"})),
        )
        .await;
    assert_eq!(
        (st, &v["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("phone")),
        "{v}"
    );
    let (st, v) = s
        .call(
            Method::POST,
            "/api/leads/erase",
            &key,
            Some(json!({"phone": PHONES[2]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"erased": [leads[2], leads[3]]}));
    let (_, v) = s
        .call(
            Method::POST,
            "/api/leads/erase",
            &key,
            Some(json!({"phone": PHONES[2]})),
        )
        .await;
    assert_eq!(v, json!({"erased": []}), "nothing left to erase");

    for phone in [PHONES[0], PHONES[2]] {
        assert_eq!(
            db.tables_mentioning(phone).await,
            Vec::<String>::new(),
            "{phone} is still stored"
        );
    }
    assert!(
        !db.tables_mentioning(PHONES[1]).await.is_empty(),
        "a lead not erased keeps its phone"
    );
    let (_, lead) = s.call(Method::GET, &path, &key, None).await;
    assert_eq!(
        (&lead["phone"], &lead["name"]),
        (&json!(""), &Value::Null),
        "{lead}"
    );
    let (_, after2) = s
        .call(
            Method::GET,
            &format!("/api/outbound/runs/{run2}"),
            &key,
            None,
        )
        .await;
    assert_eq!(
        (&after2["counts"], &after2["jobs"]),
        (&second["counts"], &second["jobs"]),
        "erasure keeps the counts"
    );
    let (st, audit) = s
        .call(Method::GET, "/api/audit?limit=500", &key, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{audit}");
    let erased: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "lead.erased")
        .collect();
    assert_eq!(
        erased.len(),
        3,
        "one event per lead erased (not for the repeat): {audit}"
    );
    assert_eq!(erased[0]["detail"]["lead_id"], leads[0]);
    assert!(!audit.to_string().contains(PHONES[2]), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cleaner_keeps_counts_and_erasure_leaves_no_phone() {
    let url = pg::fresh_database().await.unwrap();
    retention_and_erasure(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cleaner_keeps_counts_and_erasure_leaves_no_phone() {
    let (url, _dir) = sqlite_url().unwrap();
    retention_and_erasure(&url).await;
}
