//! The OpenAPI document is generated from `api::openapi::ENDPOINTS`; this
//! checks that table against the real router: every documented method and
//! path is routed (neither the 404 fallback nor 405), and auth matches.

use crate::api_common::Api;
use dialplane::api::openapi::{Auth, ENDPOINTS};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_endpoint_is_routed() {
    let api = Api::sqlite().await;
    for e in ENDPOINTS {
        let path = e
            .path
            .replace("{phone}", "+14155550100")
            .replace("{token}", "unknown-token")
            .replace("{name}", "x")
            .replace("{dialer}", "x")
            .replace("{namespace}", "ns")
            .replace("{key}", "k")
            .replace("{id}", "1")
            .replace("{job_id}", "1");
        let method = Method::from_bytes(e.method.to_uppercase().as_bytes()).unwrap();
        let (st, v) = api.call(method, &path, None, None).await;
        assert_ne!(
            st,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            e.method,
            e.path
        );
        assert_ne!(
            v["error"]["message"], "route not found",
            "{} {} is documented but not routed",
            e.method, e.path
        );
        match e.auth {
            Auth::Tenant | Auth::Admin => {
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{} {}", e.method, e.path)
            }
            Auth::Token => assert_eq!(st, StatusCode::NOT_FOUND, "{} {}: {v}", e.method, e.path),
            Auth::None => assert!(st.is_success(), "{} {}: {st}", e.method, e.path),
        }
    }
    let (_, doc) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ENDPOINTS.len());
}

/// The provider path's answers are in the document: the callback's 403, the
/// dialer-config 400 and the callback token's `callback_url`.
#[test]
fn the_provider_path_is_documented() {
    let doc = dialplane::api::openapi::build();
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
