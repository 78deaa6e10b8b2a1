//! One lead-file format: the same files go to `plugin test`'s reader
//! ([`dialplane::leads_file`]) and to `POST /api/leads`. Good files give the
//! same leads (id, phone, name, time zone, attributes) on both; each bad one
//! is refused by both, naming the same field.

use std::path::Path;

use crate::api_common::Api;
use dialplane::leads_file;
use dialplane_tests::fixture;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A file written for the API: `external_id`, `status`, `tags`.
const API_STYLE_JSON: &str = r#"[
  {"external_id": "a-1", "phone": "+14155550127", "name": "Ann", "timezone": "America/New_York",
   "status": "new", "tags": ["vip"], "attributes": {"segment": "gold"}},
  {"external_id": "a-2", "phone": "+442071234560"}
]"#;

const API_STYLE_CSV: &str = "external_id,phone,name,timezone,status,tags,segment\n\
c-1,+14155550127,Ann,America/New_York,new,vip;x,gold\n\
c-2,+442071234560,,,,,\n";

/// Bad one-lead files and the field both must name.
const BAD: &[(&str, &str, &str)] = &[
    (
        "json",
        r#"[{"id": "b", "phone": "+14155550127", "vip": "y"}]"#,
        "vip",
    ),
    ("json", r#"[{"id": "b", "phone": "555-0101"}]"#, "phone"),
    (
        "json",
        r#"[{"id": "b", "phone": "+14155550127", "timezone": "Mars/Base"}]"#,
        "timezone",
    ),
    (
        "json",
        r#"[{"id": "b", "phone": "+14155550127", "tags": "vip"}]"#,
        "tags",
    ),
    (
        "json",
        r#"[{"id": "b", "phone": "+14155550127", "attributes": {"n": 1}}]"#,
        "attributes",
    ),
    ("json", r#"[{"id": "b"}]"#, "phone"),
    ("csv", "id,phone\nb,555-0101\n", "phone"),
    (
        "csv",
        "id,phone,timezone\nb,+14155550127,Mars/Base\n",
        "timezone",
    ),
    ("csv", "id,tel\nb,+14155550127\n", "phone"),
];

fn content_type(ext: &str) -> &'static str {
    if ext == "csv" {
        "text/csv"
    } else {
        "application/json"
    }
}

/// The leads as the API stored them, in the shape `plugin test` reads.
async fn stored(api: &Api, key: &str) -> Vec<Value> {
    let (st, v) = api.get("/api/leads?limit=500", key).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut out: Vec<Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            json!({"id": l["external_id"], "phone": l["phone"], "name": l["name"],
                   "timezone": l["timezone"], "attributes": l["attributes"]})
        })
        .collect();
    out.sort_by_key(|l| l["id"].as_str().unwrap().to_string());
    out
}

fn read(path: &Path) -> Vec<Value> {
    let mut out: Vec<Value> = leads_file::read(path)
        .unwrap_or_else(|e| panic!("plugin test refuses {}: {e}", path.display()))
        .into_iter()
        .map(|l| {
            let attributes: serde_json::Map<String, Value> = l
                .attributes
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            json!({"id": l.id, "phone": l.phone, "name": l.name, "timezone": l.timezone,
                   "attributes": attributes})
        })
        .collect();
    out.sort_by_key(|l| l["id"].as_str().unwrap().to_string());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_test_and_the_api_read_the_same_lead_files() {
    let api = Api::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let api_json = dir.path().join("api-style.json");
    std::fs::write(&api_json, API_STYLE_JSON).unwrap();
    let api_csv = dir.path().join("api-style.csv");
    std::fs::write(&api_csv, API_STYLE_CSV).unwrap();

    for (i, path) in [
        fixture("leads.json"),
        fixture("leads.csv"),
        api_json,
        api_csv,
    ]
    .iter()
    .enumerate()
    {
        let t = api.tenant(&format!("good-{i}")).await;
        let ext = path.extension().unwrap().to_str().unwrap();
        let (st, v) = api
            .raw(
                Method::POST,
                "/api/leads",
                Some(&t.key),
                content_type(ext),
                std::fs::read(path).unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{}: {v}", path.display());
        assert_eq!(v["errors"], json!([]), "{}: {v}", path.display());
        assert_eq!(
            stored(&api, &t.key).await,
            read(path),
            "{}: the API and plugin test read different leads",
            path.display()
        );
    }

    let t = api.tenant("bad").await;
    for (i, (ext, text, field)) in BAD.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.{ext}"));
        std::fs::write(&path, text).unwrap();
        let e = leads_file::read(&path).expect_err(text);
        assert_eq!(
            e.field
                .as_deref()
                .map(|f| f.split(['.', '[']).next().unwrap()),
            Some(*field),
            "plugin test on {text}: {e}"
        );
        let (st, v) = api
            .raw(
                Method::POST,
                "/api/leads",
                Some(&t.key),
                content_type(ext),
                text.as_bytes().to_vec(),
            )
            .await;
        assert!(st.is_client_error(), "API on {text}: {st} {v}");
        let api_field = v["errors"][0]["field"]
            .as_str()
            .or(v["error"]["field"].as_str())
            .unwrap_or_else(|| panic!("API on {text} names no field: {v}"));
        assert_eq!(
            api_field.split(['.', '[']).next(),
            Some(*field),
            "API on {text}: {v}"
        );
    }
    assert_eq!(stored(&api, &t.key).await, Vec::<Value>::new());
}
