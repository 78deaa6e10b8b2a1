//! `dialplane tenant create` / `admin-key create`: the printed key resolves to
//! the printed tenant (or the platform); bad input exits non-zero with a
//! precise message.

use dialplane::model::TenantId;
use dialplane::store::{self, Principal};
use dialplane_tests::{dialplane_bin, pg, sqlite_url};

fn field<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

async fn dialplane(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(dialplane_bin().unwrap())
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap()
}

async fn tenant_and_admin_keys(url: &str) {
    let out = dialplane(&["tenant", "create", "Acme Ltd", "--database-url", url]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = TenantId(field(&stdout, "tenant_id").parse().unwrap());
    let key = field(&stdout, "api_key");
    let db = store::connect(url).await.unwrap();
    assert_eq!(db.get_tenant(id).await.unwrap().name, "Acme Ltd");
    assert!(matches!(
        db.resolve_api_key(key).await.unwrap(),
        Principal::Tenant { tenant, .. } if tenant == id
    ));

    let out = dialplane(&["admin-key", "create", "--database-url", url]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let admin = field(&stdout, "admin_key");
    assert!(matches!(
        db.resolve_api_key(admin).await.unwrap(),
        Principal::Admin { .. }
    ));

    let out = dialplane(&["tenant", "create", "  ", "--database-url", url]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid name"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tenant_and_admin_key_create() {
    let (url, _dir) = sqlite_url().unwrap();
    tenant_and_admin_keys(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tenant_and_admin_key_create() {
    tenant_and_admin_keys(&pg::fresh_database().await.unwrap()).await;
}

#[tokio::test]
async fn unsupported_database_url_is_named() {
    let out = dialplane(&["migrate", "--database-url", "mysql://u:pw@h/db"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database-url") && stderr.contains("mysql://u:***@h/db"),
        "{stderr}"
    );
}
