//! API keys and tenants, end to end: `/api/keys` and `/api/admin/{keys,tenants}`
//! over real HTTP on both engines (list, create, rotate, revoke; the last
//! active key; another tenant's key is 404; unique tenant names are 409
//! naming `name`; audit events); a revoked key answers 401 on every node
//! within a second (two `dialplane serve` processes on one PostgreSQL
//! database; one on SQLite); and the `tenant` / `admin-key` commands with
//! `--json` and in text.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::api_common::{Api, error_code};
use dialplane_tests::serve_process::spawn_serve;
use dialplane_tests::{dialplane_bin, pg, sqlite_url};

/// The contract: a revoked key is refused everywhere within this.
const REVOKED_EVERYWHERE_WITHIN: Duration = Duration::from_secs(1);

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect()
}

fn active(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["revoked_at"].is_null())
        .map(|k| k["id"].as_i64().unwrap())
        .collect()
}

async fn audit_actions(api: &Api, key: &str, path: &str) -> Vec<String> {
    let (st, v) = api.get(path, key).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

async fn tenant_manages_its_own_keys(api: Api) {
    let t = api.tenant("acme").await;
    let other = api.tenant("other").await;

    let (st, list) = api.get("/api/keys", &t.key).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let first = &list["items"][0];
    let first_id = first["id"].as_i64().unwrap();
    assert!(t.key.starts_with(first["prefix"].as_str().unwrap()));
    assert!(
        !first["last_used_at"].is_null(),
        "the listing request itself used the key: {first}"
    );
    let text = list.to_string();
    assert!(
        !text.contains(&t.key) && !text.contains("hash"),
        "no secret listed: {text}"
    );

    // Create: the plaintext once, with its label; it works at once.
    let (st, made) = api.post("/api/keys", &t.key, json!({"label": "ci"})).await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    let ci = made["api_key"].as_str().unwrap().to_string();
    let ci_id = made["id"].as_i64().unwrap();
    assert_eq!(made["label"], "ci");
    assert_eq!(api.get("/api/keys", &ci).await.0, StatusCode::OK);
    let (st, v) = api.post("/api/keys", &t.key, json!({"label": ""})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "label");
    let (st, v) = api.post("/api/keys", &t.key, json!({"lable": "x"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Another tenant's key is 404 to every operation, and stays usable.
    for (m, path) in [
        (Method::DELETE, format!("/api/keys/{ci_id}")),
        (Method::POST, format!("/api/keys/{ci_id}/rotate")),
    ] {
        let (st, v) = api.call(m, &path, Some(&other.key), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    assert_eq!(api.get("/api/keys", &ci).await.0, StatusCode::OK);
    let (st, v) = api
        .call(Method::DELETE, "/api/keys/abc", Some(&t.key), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "id");

    // Rotate: a new key, same label; the old one is refused at once.
    let (st, rotated) = api
        .call(
            Method::POST,
            &format!("/api/keys/{ci_id}/rotate"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rotated}");
    assert_eq!(rotated["label"], "ci");
    assert_eq!(rotated["replaces"], ci_id);
    let ci2 = rotated["api_key"].as_str().unwrap().to_string();
    let ci2_id = rotated["id"].as_i64().unwrap();
    assert_eq!(api.get("/api/keys", &ci).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/api/keys", &ci2).await.0, StatusCode::OK);
    let (st, v) = api
        .call(
            Method::POST,
            &format!("/api/keys/{ci_id}/rotate"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::CONFLICT, "conflict".into())
    );

    // Revoke the key in use: allowed while another is active.
    let (st, v) = api
        .call(
            Method::DELETE,
            &format!("/api/keys/{first_id}"),
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(
        api.get("/api/keys", &t.key).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The last active key cannot go: the tenant would be locked out.
    let (st, v) = api
        .call(
            Method::DELETE,
            &format!("/api/keys/{ci2_id}"),
            Some(&ci2),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["field"], "id");
    let (_, list) = api.get("/api/keys", &ci2).await;
    assert_eq!(active(&list), vec![ci2_id]);
    assert_eq!(ids(&list), vec![first_id, ci_id, ci2_id]);

    let actions = audit_actions(&api, &ci2, "/api/audit").await;
    for a in ["api_key.created", "api_key.rotated", "api_key.revoked"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

async fn operator_manages_tenants_and_keys(api: Api) {
    let admin = api.admin_key().await;
    let (st, made) = api
        .post(
            "/api/admin/tenants",
            &admin,
            json!({"name": " Acme Plumbing "}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    assert_eq!(made["tenant"]["name"], "Acme Plumbing");
    let tid = made["tenant"]["id"].as_i64().unwrap();
    let tkey = made["api_key"]["api_key"].as_str().unwrap().to_string();
    let tkey_id = made["api_key"]["id"].as_i64().unwrap();
    assert_eq!(api.get("/api/keys", &tkey).await.0, StatusCode::OK);
    // The same name in another case: 409 naming `name`, nothing written.
    let (st, v) = api
        .post(
            "/api/admin/tenants",
            &admin,
            json!({"name": "ACME plumbing"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["field"], "name");
    let (st, v) = api
        .post("/api/admin/tenants", &admin, json!({"name": ""}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "name");
    let (_, tenants) = api.get("/api/admin/tenants", &admin).await;
    let named: Vec<&Value> = tenants["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("acme plumbing")
        })
        .collect();
    assert_eq!(named.len(), 1, "{tenants}");
    // A tenant key cannot reach these routes.
    let (st, _) = api.get("/api/admin/tenants", &tkey).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // A rescue: a new key for the tenant, and even its last key revoked.
    let keys_path = format!("/api/admin/tenants/{tid}/keys");
    let (st, rescue) = api
        .post(&keys_path, &admin, json!({"label": "rescue"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rescue}");
    let rescue_key = rescue["api_key"].as_str().unwrap().to_string();
    let rescue_id = rescue["id"].as_i64().unwrap();
    for id in [tkey_id, rescue_id] {
        let (st, v) = api
            .call(
                Method::DELETE,
                &format!("{keys_path}/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    }
    assert_eq!(
        api.get("/api/keys", &rescue_key).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = api.get(&keys_path, &admin).await;
    assert!(active(&list).is_empty(), "{list}");
    let (st, v) = api
        .call(
            Method::POST,
            &format!("{keys_path}/{rescue_id}/rotate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, _) = api.get("/api/admin/tenants/999999/keys", &admin).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = api
        .post("/api/admin/tenants/999999/keys", &admin, json!({}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Another tenant's key id under this tenant's path: 404.
    let other = api.tenant("other").await;
    let (_, other_keys) = api.get("/api/keys", &other.key).await;
    let other_key_id = ids(&other_keys)[0];
    let (st, _) = api
        .call(
            Method::DELETE,
            &format!("{keys_path}/{other_key_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/keys", &other.key).await.0, StatusCode::OK);
    // The tenant sees in its own log what the operator did.
    let (st, fresh) = api.post(&keys_path, &admin, json!({})).await;
    assert_eq!(st, StatusCode::CREATED);
    let fresh = fresh["api_key"].as_str().unwrap();
    let actions = audit_actions(&api, fresh, "/api/audit").await;
    for a in ["tenant.created", "api_key.created", "api_key.revoked"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }

    // The platform's own keys: rotate, revoke, not the last one.
    let (st, made) = api
        .post("/api/admin/keys", &admin, json!({"label": "ops"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    let ops_id = made["id"].as_i64().unwrap();
    let (st, rotated) = api
        .call(
            Method::POST,
            &format!("/api/admin/keys/{ops_id}/rotate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rotated}");
    assert_eq!(rotated["label"], "ops");
    let ops2 = rotated["api_key"].as_str().unwrap().to_string();
    let (_, list) = api.get("/api/admin/keys", &ops2).await;
    let admin_id = *ids(&list).first().unwrap();
    let (st, _) = api
        .call(
            Method::DELETE,
            &format!("/api/admin/keys/{admin_id}"),
            Some(&ops2),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/admin/keys", &admin).await.0,
        StatusCode::UNAUTHORIZED
    );
    let last = rotated["id"].as_i64().unwrap();
    let (st, v) = api
        .call(
            Method::DELETE,
            &format!("/api/admin/keys/{last}"),
            Some(&ops2),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    // A tenant's key id is not an admin key.
    let (st, _) = api
        .call(
            Method::DELETE,
            &format!("/api/admin/keys/{other_key_id}"),
            Some(&ops2),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let actions = audit_actions(&api, &ops2, "/api/admin/audit").await;
    for a in [
        "tenant.created",
        "admin_key.created",
        "admin_key.rotated",
        "admin_key.revoked",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_keys_on_postgres() {
    tenant_manages_its_own_keys(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_keys_on_sqlite() {
    tenant_manages_its_own_keys(Api::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_tenants_and_keys_on_postgres() {
    operator_manages_tenants_and_keys(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_tenants_and_keys_on_sqlite() {
    operator_manages_tenants_and_keys(Api::sqlite().await).await;
}

/// `dialplane serve` (API only) on a free port, and its base URL.
async fn serve(url: &str) -> (Child, String) {
    spawn_serve(url, &["--no-workers"]).await
}

async fn status(
    http: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    key: &str,
) -> StatusCode {
    http.request(method, format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

/// Revokes a key through the first node; every node refuses it within
/// [`REVOKED_EVERYWHERE_WITHIN`]. Returns the slowest node's time.
async fn revoked_everywhere(url: &str, nodes: usize) -> Duration {
    let cli = |args: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--json".into(), "--database-url".into(), url.into()]);
        a
    };
    let made: Value =
        serde_json::from_slice(&dialplane_ok(&cli(&["tenant", "create", "Revocation Co"])).await)
            .unwrap();
    let tid = made["tenant"]["id"].to_string();
    let keep = made["api_key"]["api_key"].as_str().unwrap().to_string();
    let doomed: Value = serde_json::from_slice(
        &dialplane_ok(&cli(&["tenant", "key", "create", "--tenant", &tid])).await,
    )
    .unwrap();
    let doomed_key = doomed["api_key"].as_str().unwrap().to_string();
    let doomed_id = doomed["id"].as_i64().unwrap();

    let mut servers = Vec::new();
    for _ in 0..nodes {
        servers.push(serve(url).await);
    }
    let http = reqwest::Client::new();
    for (_, base) in &servers {
        assert_eq!(
            status(&http, base, Method::GET, "/api/keys", &doomed_key).await,
            StatusCode::OK
        );
    }
    let revoked_at = Instant::now();
    assert_eq!(
        status(
            &http,
            &servers[0].1,
            Method::DELETE,
            &format!("/api/keys/{doomed_id}"),
            &keep
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let mut slowest = Duration::ZERO;
    for (_, base) in &servers {
        loop {
            let st = status(&http, base, Method::GET, "/api/keys", &doomed_key).await;
            if st == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(st, StatusCode::OK);
            assert!(
                revoked_at.elapsed() < REVOKED_EVERYWHERE_WITHIN,
                "{base} still accepts the revoked key after {:?}",
                revoked_at.elapsed()
            );
        }
        slowest = slowest.max(revoked_at.elapsed());
        // The other key still works there.
        assert_eq!(
            status(&http, base, Method::GET, "/api/keys", &keep).await,
            StatusCode::OK
        );
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_is_refused_by_every_postgres_node_within_a_second() {
    let url = pg::fresh_database().await.unwrap();
    let t = revoked_everywhere(&url, 2).await;
    eprintln!("revoked key refused by both nodes after {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_is_refused_by_a_sqlite_node_within_a_second() {
    let (url, _dir) = sqlite_url().unwrap();
    revoked_everywhere(&url, 1).await;
}

async fn dialplane(args: &[String]) -> std::process::Output {
    Command::new(dialplane_bin().unwrap())
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap()
}

/// Runs the binary, which must succeed; its stdout.
async fn dialplane_ok(args: &[String]) -> Vec<u8> {
    let out = dialplane(args).await;
    assert!(
        out.status.success(),
        "dialplane {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Exactly one JSON document on stdout.
async fn json_of(args: &[&str], url: &str) -> Value {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.extend(["--json".into(), "--database-url".into(), url.into()]);
    let stdout = dialplane_ok(&a).await;
    serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not one JSON document ({e}): {}",
            String::from_utf8_lossy(&stdout)
        )
    })
}

async fn cli_manages_tenants_and_keys(url: &str) {
    let made = json_of(&["tenant", "create", "Cli Co"], url).await;
    let tid = made["tenant"]["id"].as_i64().unwrap().to_string();
    assert_eq!(made["tenant"]["name"], "Cli Co");
    assert!(
        made["api_key"]["api_key"]
            .as_str()
            .unwrap()
            .starts_with("dp_key_")
    );

    // A duplicate name is a clear error naming the field; nothing written.
    let dup = dialplane(&[
        "tenant".into(),
        "create".into(),
        "cli co ".into(),
        "--database-url".into(),
        url.into(),
    ])
    .await;
    assert!(!dup.status.success());
    let stderr = String::from_utf8_lossy(&dup.stderr);
    assert!(
        stderr.contains("name: a tenant named \"cli co\" exists"),
        "{stderr}"
    );
    let tenants = json_of(&["tenant", "list"], url).await;
    assert_eq!(tenants["items"].as_array().unwrap().len(), 1, "{tenants}");

    let ci = json_of(
        &["tenant", "key", "create", "--tenant", &tid, "--label", "ci"],
        url,
    )
    .await;
    assert_eq!(ci["label"], "ci");
    let ci_id = ci["id"].as_i64().unwrap().to_string();
    let rotated = json_of(&["tenant", "key", "rotate", "--tenant", &tid, &ci_id], url).await;
    assert_eq!(rotated["replaces"].to_string(), ci_id);
    assert_eq!(rotated["label"], "ci");
    let revoked = json_of(&["tenant", "key", "revoke", "--tenant", &tid, &ci_id], url).await;
    assert_eq!(
        revoked,
        json!({"id": ci_id.parse::<i64>().unwrap(), "revoked": true})
    );
    let keys = json_of(&["tenant", "key", "list", "--tenant", &tid], url).await;
    let text = keys.to_string();
    assert_eq!(keys["items"].as_array().unwrap().len(), 3, "{keys}");
    assert!(
        !text.contains(rotated["api_key"].as_str().unwrap()),
        "no secret in a list"
    );
    assert_eq!(active(&keys).len(), 2);
    // A key of another tenant, or of no tenant: errors naming the field.
    let out = dialplane(&[
        "tenant".into(),
        "key".into(),
        "list".into(),
        "--tenant".into(),
        "999999".into(),
        "--database-url".into(),
        url.into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tenant: no tenant 999999"));

    // Text mode keeps its `name: value` lines.
    let out = dialplane_ok(&[
        "admin-key".into(),
        "create".into(),
        "--label".into(),
        "ops".into(),
        "--database-url".into(),
        url.into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("admin_key: dp_admin_")),
        "{stdout}"
    );
    let admins = json_of(&["admin-key", "list"], url).await;
    assert_eq!(admins["items"][0]["label"], "ops");
    let admin_id = admins["items"][0]["id"].as_i64().unwrap().to_string();
    let rotated = json_of(&["admin-key", "rotate", &admin_id], url).await;
    assert!(
        rotated["api_key"]
            .as_str()
            .unwrap()
            .starts_with("dp_admin_")
    );
    // The operator may revoke the platform's last key (the CLI can mint another).
    let last = rotated["id"].as_i64().unwrap().to_string();
    json_of(&["admin-key", "revoke", &last], url).await;
    let admins = json_of(&["admin-key", "list"], url).await;
    assert!(active(&admins).is_empty(), "{admins}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tenants_and_keys_on_sqlite() {
    let (url, _dir) = sqlite_url().unwrap();
    cli_manages_tenants_and_keys(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tenants_and_keys_on_postgres() {
    cli_manages_tenants_and_keys(&pg::fresh_database().await.unwrap()).await;
}
