//! The OpenAPI document is generated from the routes (`utoipa_axum`: each
//! resource router registers a handler and its operation together). These
//! tests check it against the real server: every documented operation is
//! routed with the auth it says, no route is missing from it, every
//! operation is complete (operationId, tag, typed parameters, a 2xx schema,
//! real media types), and a real validator accepts it. The client generated
//! from it is tested in `openapi_client`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::api_common::Api;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The methods an operation may have.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// A documented path with its parameters filled in with values that reach
/// the handler (the auth layer answers before any of them is looked up).
fn concrete(path: &str) -> String {
    path.replace("{phone}", "+14155550100")
        .replace("{token}", "unknown-token")
        .replace("{name}", "x")
        .replace("{dialer}", "x")
        .replace("{namespace}", "ns")
        .replace("{key}", "k")
        .replace("{id}", "1")
        .replace("{job_id}", "1")
}

/// `(method, path, operation)` of every operation in `doc`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            assert!(
                METHODS.contains(&method.as_str()),
                "{path}: `{method}` is not an operation"
            );
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// The one security scheme an operation names, if any.
fn scheme(op: &Value) -> Option<String> {
    let reqs = op["security"].as_array()?;
    let names: Vec<&String> = reqs
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|r| r.keys())
        .collect();
    assert!(names.len() <= 1, "{op}: one scheme at most");
    names.first().map(|s| s.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_with_its_auth() {
    let api = Api::sqlite().await;
    let (st, doc) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        doc,
        serde_json::to_value(dialplane::api::openapi_document()).unwrap(),
        "the served document is the one built from the routes"
    );
    let ops = operations(&doc);
    for (method, path, op) in &ops {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (st, v) = api.call(m, &concrete(path), None, None).await;
        assert_ne!(st, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(
            v["error"]["message"], "route not found",
            "{method} {path} is documented but not routed"
        );
        match scheme(op).as_deref() {
            Some("tenantKey" | "adminKey") => {
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{method} {path}")
            }
            Some(other) => panic!("{method} {path}: unknown scheme {other}"),
            // The callback's token is its credential: an unknown one is 404.
            None if path.contains("{token}") => {
                assert_eq!(st, StatusCode::NOT_FOUND, "{method} {path}: {v}")
            }
            None => assert!(st.is_success(), "{method} {path}: {st}"),
        }
    }
    // No method is routed on a documented path without being documented
    // (with the path's key: the auth layer answers before the 405).
    let tenant = api.tenant("acme").await.key;
    let admin = api.admin_key().await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let key = if path.starts_with("/api/admin/") {
            &admin
        } else {
            &tenant
        };
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (st, v) = api.call(m, &concrete(path), Some(key), None).await;
            assert_eq!(
                st,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is routed but not documented: {v}"
            );
        }
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The handlers of every `routes!(...)` in `source`'s code (not comments).
fn routes_handlers(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|l| format!("{}\n", l.split("//").next().unwrap()))
        .collect();
    code.split("routes!(")
        .skip(1)
        .flat_map(|rest| {
            let list = &rest[..rest.find(')').expect("routes!( closes")];
            list.split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A route added with axum's own `.route(...)` (or a nested router) would be
/// served but missing from the document: only `routes!` registers both. The
/// dashboard's static page is the one plain axum router (it is not API).
/// The document's operations are exactly the handlers listed in `routes!`.
#[test]
fn no_route_bypasses_the_document() {
    let api_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/src");
    let mut files = Vec::new();
    rust_files(&api_dir, &mut files);
    let mut handlers = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(&api_dir).unwrap().display().to_string();
        handlers.extend(
            routes_handlers(&source)
                .into_iter()
                .map(|h| format!("{name}: {h}")),
        );
        // Not the API: the dashboard's static page, and a worker's own
        // `/metrics` listener (no API there).
        if name == "api/dashboard.rs" || name == "api/node_metrics.rs" {
            continue;
        }
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for bypass in [
                ".route(",
                ".route_service(",
                ".nest(",
                ".nest_service(",
                "axum::routing::",
            ] {
                assert!(
                    !code.contains(bypass),
                    "host/src/{name}:{}: `{}` adds a route the OpenAPI document does not \
                     list; register it with `routes!` and `#[utoipa::path]`",
                    n + 1,
                    line.trim()
                );
            }
        }
    }
    let doc = serde_json::to_value(dialplane::api::openapi_document()).unwrap();
    let documented = operations(&doc).len();
    let unique: BTreeSet<&String> = handlers.iter().collect();
    assert_eq!(
        unique.len(),
        handlers.len(),
        "a handler routed twice: {handlers:?}"
    );
    assert_eq!(
        documented,
        handlers.len(),
        "operations in the document vs handlers in routes!: {handlers:?}"
    );
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// A media type: `type/subtype`, optionally `; param=value`, no prose.
fn is_media_type(s: &str) -> bool {
    let (essence, params) = s.split_once(';').unwrap_or((s, ""));
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok_essence = essence
        .split_once('/')
        .is_some_and(|(t, sub)| token(t) && token(sub));
    let ok_params = params.is_empty()
        || params.split(';').all(|p| {
            p.trim()
                .split_once('=')
                .is_some_and(|(k, v)| token(k) && token(v))
        });
    ok_essence && ok_params
}

#[test]
fn every_operation_is_complete() {
    let doc = serde_json::to_value(dialplane::api::openapi_document()).unwrap();
    let ops = operations(&doc);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut ids = BTreeMap::new();
    for (method, path, op) in &ops {
        let at = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: operationId"));
        if let Some(other) = ids.insert(id.to_string(), at.clone()) {
            panic!("operationId {id} twice: {other} and {at}");
        }
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{at}: tags"
        );
        let responses = op["responses"].as_object().expect("responses");
        let ok: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(s, _)| s.starts_with('2'))
            .collect();
        assert_eq!(ok.len(), 1, "{at}: one success status");
        let (status, response) = ok[0];
        if status == "204" {
            assert!(response.get("content").is_none(), "{at}: 204 has no body");
        } else {
            let content = response["content"].as_object().expect("2xx content");
            assert!(!content.is_empty(), "{at}: 2xx content");
            for (media, body) in content {
                assert!(body["schema"].is_object(), "{at}: {media} has a schema");
            }
        }
        // A failure has the error shape, or (a lead import where no row
        // could be stored) the success's own report.
        let ok_ref = &ok[0].1["content"]["application/json"]["schema"]["$ref"];
        for (status, response) in responses {
            if !status.starts_with('2') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert!(
                    schema == "#/components/schemas/Error" || schema == ok_ref,
                    "{at} {status}: the error shape, not {schema}"
                );
            }
        }
        if scheme(op).is_some() {
            for status in ["401", "403", "500", "503"] {
                assert!(responses.contains_key(status), "{at}: {status}");
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(in_path, declared, "{at}: path parameters");
        for p in &params {
            let name = p["name"].as_str().unwrap();
            let ty = &p["schema"]["type"];
            assert!(
                ty.is_string() || ty.is_array(),
                "{at}: {name} is typed: {p}"
            );
            if p["in"] == "path" {
                assert_eq!(p["required"], true, "{at}: {name} required");
                if name == "id" || name.ends_with("_id") {
                    assert_eq!(
                        (ty.as_str(), p["schema"]["format"].as_str()),
                        (Some("integer"), Some("int64")),
                        "{at}: {name}"
                    );
                }
            }
        }
        // A paged listing takes the paging parameters.
        let ok_schema = ok[0].1["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default();
        let paged_by_cursor = ok_schema.starts_with("#/components/schemas/Paged")
            && params.iter().any(|p| p["name"] == "cursor");
        if id.starts_with("list_") && params.iter().any(|p| p["in"] == "query") {
            assert!(paged_by_cursor, "{at}: paged by cursor");
            let limit = params.iter().find(|p| p["name"] == "limit").expect("limit");
            let ty = &limit["schema"]["type"];
            assert!(
                ty == "integer" || ty.as_array().is_some_and(|t| t.contains(&"integer".into())),
                "{at}: {limit}"
            );
            assert_eq!(
                limit["schema"]["maximum"],
                dialplane::config::API_PAGE_LIMIT_MAX,
                "{at}: {limit}"
            );
        }
        if let Some(body) = op.get("requestBody") {
            for (media, content) in body["content"].as_object().expect("body content") {
                assert!(is_media_type(media), "{at}: `{media}` is not a media type");
                assert!(content["schema"].is_object(), "{at}: {media} schema");
            }
        }
        for response in responses.values() {
            for media in response["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|c| c.0)
            {
                assert!(is_media_type(media), "{at}: `{media}` is not a media type");
            }
        }
    }
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    for r in all_refs {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(schemas.contains_key(name), "{r} resolves");
    }
    let media = |method: &str, path: &str, body: bool| -> BTreeSet<String> {
        let op = &doc["paths"][path][method];
        let content = if body {
            &op["requestBody"]["content"]
        } else {
            &op["responses"]["200"]["content"]
        };
        content.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        media("post", "/api/leads", true),
        BTreeSet::from(["application/json".into(), "text/csv".into()])
    );
    assert_eq!(
        media("put", "/api/plugins/flows/{name}", true),
        BTreeSet::from(["application/wasm".into()])
    );
    assert_eq!(
        media("put", "/api/admin/dialers/{name}", true),
        BTreeSet::from(["application/wasm".into()])
    );
    assert_eq!(
        media("post", "/api/callbacks/{token}", true),
        BTreeSet::from([
            "application/json".into(),
            "application/x-www-form-urlencoded".into()
        ])
    );
    assert_eq!(
        media("get", "/api/outbound/runs/{id}/events", false),
        BTreeSet::from(["text/event-stream".into()])
    );
    for component in ["Error", "Run", "Lead", "Job", "CreateRun", "RunSettings"] {
        assert!(schemas.contains_key(component), "{component}");
    }
}

/// The provider path's answers are in the document: the callback's 403, the
/// dialer-config 400 and the callback token's `callback_url`.
#[test]
fn the_provider_path_is_documented() {
    let doc = serde_json::to_value(dialplane::api::openapi_document()).unwrap();
    let callback = &doc["paths"]["/api/callbacks/{token}"]["post"]["responses"];
    assert!(
        callback["403"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("unauthenticated_callback")),
        "{callback}"
    );
    assert!(callback["400"].is_object(), "{callback}");
    let config = &doc["paths"]["/api/dialer-config/{dialer}"]["put"]["responses"];
    assert!(
        config["400"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("config.<key>")),
        "{config}"
    );
    let token =
        &doc["paths"]["/api/dialer-config/{dialer}/callback-token"]["post"]["responses"]["201"];
    assert_eq!(
        token["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CallbackToken"
    );
    let schema = &doc["components"]["schemas"]["CallbackToken"];
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&"callback_url".into()),
        "{schema}"
    );
}

/// `openapi-spec-validator` (pinned, see `dialplane_tests::openapi_tools`)
/// accepts the served document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_validates() {
    let api = Api::sqlite().await;
    let res = api
        .http
        .get(format!("{}/api/openapi.json", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let python = dialplane_tests::openapi_tools::venv_python();
    let out = tokio::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
