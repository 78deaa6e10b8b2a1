//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the
//! routes themselves. Every resource router is a `utoipa_axum`
//! [`OpenApiRouter`] whose `routes!(handler, ...)` registers the handler and
//! its `#[utoipa::path]` operation together, so [`super::router`] and
//! [`super::openapi_document`] come from one list; the `api_openapi` test
//! fails on a route added any other way.
//!
//! This module holds what the document has beyond the operations: the info,
//! the security schemes, the tags, and the schemas of bodies no handler type
//! carries (raw uploads, provider callbacks).

use axum::Extension;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ErrorBody;

/// The document's parts that are not operations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "dialplane",
        description = "Outbound call campaigns: leads, runs, call-flow plugins and dialer adapters. Every `/api/...` operation but the callbacks and this document takes `Authorization: Bearer <key>`.",
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "leads", description = "A tenant's leads"),
        (name = "runs", description = "Runs: create, follow, cancel"),
        (name = "legacy", description = "The original system's endpoints, same meaning"),
        (name = "plugins", description = "A tenant's call-flow plugins"),
        (name = "dialer-config", description = "A tenant's dialer configuration (write-only) and callback tokens"),
        (name = "dnc", description = "A tenant's do-not-call list"),
        (name = "tenant-store", description = "What a tenant's plugins stored (read-only)"),
        (name = "audit", description = "A tenant's audit log"),
        (name = "keys", description = "A tenant's own API keys"),
        (name = "settings", description = "A tenant's settings: retention of finished runs"),
        (name = "admin", description = "The platform: dialer adapters, tenants, keys and the audit log (admin key)"),
        (name = "callbacks", description = "Provider status callbacks (the token in the path authenticates)"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
)]
struct ApiDoc;

/// The two bearer keys: a tenant's, and a platform (admin) key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme("tenantKey", bearer("A tenant's API key"));
        components.add_security_scheme("adminKey", bearer("A platform (admin) key"));
    }
}

/// An empty router carrying the document's non-operation parts; the
/// resource routers are merged into it.
pub fn base() -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    OpenApiRouter::with_openapi(doc)
}

/// The document's route and its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// The document as served: `doc` with each inlined copy of a component
/// schema replaced by a `$ref` to it. utoipa inlines the argument of a
/// generic (`Paged<Run>`'s items), which would give clients a second,
/// anonymous `Run` class per listing.
pub fn finish(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::Value;
    let mut value = serde_json::to_value(&doc).expect("an OpenAPI document serializes");
    let components: Vec<(String, Value)> = value["components"]["schemas"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let by_schema = |v: &Value| {
        components
            .iter()
            .find(|(_, schema)| schema == v)
            .map(|(name, _)| name.clone())
    };
    /// Replaces what lies under `v` (and `v` itself unless `top`).
    fn replace(v: &mut Value, top: bool, by_schema: &dyn Fn(&Value) -> Option<String>) {
        if !top && let Some(name) = by_schema(v) {
            *v = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
            return;
        }
        match v {
            Value::Object(m) => m.values_mut().for_each(|c| replace(c, false, by_schema)),
            Value::Array(a) => a.iter_mut().for_each(|c| replace(c, false, by_schema)),
            _ => {}
        }
    }
    if let Some(schemas) = value["components"]["schemas"].as_object_mut() {
        // A component is not replaced by a reference to itself.
        schemas
            .values_mut()
            .for_each(|schema| replace(schema, true, &by_schema));
    }
    replace(&mut value["paths"], true, &by_schema);
    serde_json::from_value(value).expect("the document reads back")
}

/// The rendered document, as [`super::router`] split it from its routes.
#[derive(Clone)]
pub struct Served(Bytes);

impl Served {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Served {
        Served(Bytes::from(
            doc.to_json().expect("an OpenAPI document serializes"),
        ))
    }
}

/// Raw bytes as a request body (a CSV file, a `.wasm` component).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Only its schema is used.
pub struct RawBytes(Vec<u8>);

/// A provider callback's fields, as the provider names them (Twilio:
/// `CallSid`, `CallStatus`, ...); the dialer adapter decodes them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its schema is used.
pub struct CallbackFields(std::collections::BTreeMap<String, String>);

/// What a callback did with the event it carried.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackResult {
    pub result: CallbackOutcome,
}

/// `held`: no call of the tenant has that provider id yet; the event is
/// kept and applied once it has. `no_event`: nothing to apply.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    Applied,
    Ignored,
    Held,
    NoEvent,
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "get_openapi",
    tag = "operations",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
async fn document(Extension(doc): Extension<Served>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], doc.0)
}
