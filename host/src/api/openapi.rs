//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from
//! [`ENDPOINTS`], the table of every route this API serves. The table is
//! checked against the real router by the `api_openapi` test (each entry
//! must be routed, so the document cannot drift from the code).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(document))
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Tenant,
    Admin,
    /// The callback token in the path.
    Token,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    /// Content type of the request body, if it takes one.
    pub body: Option<&'static str>,
    /// Status of success.
    pub ok: u16,
    /// The schema (in `components.schemas`) of the success body, if documented.
    pub returns: Option<&'static str>,
    /// Error statuses worth telling a client apart, with what they mean
    /// (every endpoint may also answer the generic `default` error).
    pub errors: &'static [(u16, &'static str)],
}

impl Endpoint {
    const fn returning(mut self, schema: &'static str) -> Self {
        self.returns = Some(schema);
        self
    }

    const fn failing(mut self, errors: &'static [(u16, &'static str)]) -> Self {
        self.errors = errors;
        self
    }
}

const fn ep(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    body: Option<&'static str>,
    ok: u16,
    summary: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        auth,
        body,
        ok,
        returns: None,
        errors: &[],
    }
}

const JSON: Option<&str> = Some("application/json");
const WASM: Option<&str> = Some("application/wasm");

/// Every route of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    ep(
        "get",
        "/healthz",
        Auth::None,
        None,
        200,
        "The process answers",
    ),
    ep(
        "get",
        "/readyz",
        Auth::None,
        None,
        200,
        "Database reachable and migrations current",
    ),
    ep(
        "get",
        "/metrics",
        Auth::None,
        None,
        200,
        "Prometheus metrics",
    ),
    ep(
        "get",
        "/api/openapi.json",
        Auth::None,
        None,
        200,
        "This document",
    ),
    ep(
        "post",
        "/api/leads",
        Auth::Tenant,
        Some("application/json or text/csv"),
        200,
        "Import leads (upsert by external id); bad rows reported one by one",
    ),
    ep(
        "get",
        "/api/leads",
        Auth::Tenant,
        None,
        200,
        "List leads (paged; ?tag= ?status=)",
    ),
    ep(
        "get",
        "/api/leads/{id}",
        Auth::Tenant,
        None,
        200,
        "One lead",
    ),
    ep(
        "post",
        "/api/outbound/runs",
        Auth::Tenant,
        JSON,
        201,
        "Create a run",
    ),
    ep(
        "get",
        "/api/outbound/runs",
        Auth::Tenant,
        None,
        200,
        "List runs (paged)",
    ),
    ep(
        "get",
        "/api/outbound/runs/{id}",
        Auth::Tenant,
        None,
        200,
        "A run: status, cursor, total, counts, last call placed at",
    ),
    ep(
        "get",
        "/api/outbound/runs/{id}/jobs",
        Auth::Tenant,
        None,
        200,
        "A run's jobs (paged), each with its last note and its attempts: outcome, compliance record, the flow's note, lead status and tags",
    ),
    ep(
        "post",
        "/api/outbound/runs/{id}/cancel",
        Auth::Tenant,
        JSON,
        200,
        "Cancel a run; returns once no further call can start",
    ),
    ep(
        "get",
        "/api/outbound/runs/{id}/events",
        Auth::Tenant,
        None,
        200,
        "Server-sent events: progress and state changes",
    ),
    ep(
        "post",
        "/api/outbound/stop-queue",
        Auth::Tenant,
        JSON,
        200,
        "Original endpoint: cancel the run {\"run_id\": N}",
    ),
    ep(
        "post",
        "/api/outbound_calls/jobs/{job_id}/cancel",
        Auth::Tenant,
        None,
        200,
        "Original endpoint: cancel one queued job",
    ),
    ep(
        "get",
        "/api/plugins/flows",
        Auth::Tenant,
        None,
        200,
        "The tenant's flow plugins (newest version of each)",
    ),
    ep(
        "put",
        "/api/plugins/flows/{name}",
        Auth::Tenant,
        WASM,
        201,
        "Upload a flow component (validated before it is stored)",
    ),
    ep(
        "get",
        "/api/plugins/flows/{name}",
        Auth::Tenant,
        None,
        200,
        "Versions of a flow",
    ),
    ep(
        "post",
        "/api/plugins/flows/{name}/activate",
        Auth::Tenant,
        JSON,
        200,
        "Activate a version {\"version\": N}",
    ),
    ep(
        "post",
        "/api/plugins/flows/{name}/rollback",
        Auth::Tenant,
        None,
        200,
        "Activate the previous version",
    ),
    ep(
        "get",
        "/api/admin/dialers",
        Auth::Admin,
        None,
        200,
        "Dialer adapters (newest version of each)",
    ),
    ep(
        "put",
        "/api/admin/dialers/{name}",
        Auth::Admin,
        WASM,
        201,
        "Upload a dialer adapter component",
    ),
    ep(
        "get",
        "/api/admin/dialers/{name}",
        Auth::Admin,
        None,
        200,
        "Versions of a dialer adapter",
    ),
    ep(
        "post",
        "/api/admin/dialers/{name}/activate",
        Auth::Admin,
        JSON,
        200,
        "Activate (hot-swap) a version on every worker",
    ),
    ep(
        "post",
        "/api/admin/dialers/{name}/rollback",
        Auth::Admin,
        None,
        200,
        "Activate the previous version",
    ),
    ep(
        "get",
        "/api/admin/audit",
        Auth::Admin,
        None,
        200,
        "The platform's audit log (paged)",
    ),
    ep(
        "get",
        "/api/dialer-config",
        Auth::Tenant,
        None,
        200,
        "Which dialers are configured (never the values)",
    ),
    ep(
        "put",
        "/api/dialer-config/{dialer}",
        Auth::Tenant,
        JSON,
        204,
        "Set a dialer configuration (write-only), checked first by the active adapter's validate-config",
    )
    .failing(&[(
        400,
        "`invalid_dialer_config`: the adapter refused the configuration; `field` is `config.<key>`. Nothing is stored",
    )]),
    ep(
        "post",
        "/api/dialer-config/{dialer}/callback-token",
        Auth::Tenant,
        None,
        201,
        "Create a provider callback token (shown once) and the full callback URL to give the provider",
    )
    .returning("CallbackToken"),
    ep(
        "get",
        "/api/dnc",
        Auth::Tenant,
        None,
        200,
        "The do-not-call list (paged)",
    ),
    ep(
        "post",
        "/api/dnc",
        Auth::Tenant,
        JSON,
        200,
        "Add phones {\"phones\": [...]}",
    ),
    ep(
        "get",
        "/api/dnc/{phone}",
        Auth::Tenant,
        None,
        200,
        "Is a phone listed",
    ),
    ep(
        "delete",
        "/api/dnc/{phone}",
        Auth::Tenant,
        None,
        204,
        "Remove a phone",
    ),
    ep(
        "get",
        "/api/tenant-store",
        Auth::Tenant,
        None,
        200,
        "The plugins' tenant-store entries (read-only, paged)",
    ),
    ep(
        "get",
        "/api/tenant-store/{namespace}/{key}",
        Auth::Tenant,
        None,
        200,
        "One tenant-store entry",
    ),
    ep(
        "post",
        "/api/callbacks/{token}",
        Auth::Token,
        Some("as the provider sends it"),
        200,
        "Provider status callback, authenticated by the adapter (e.g. X-Twilio-Signature over the public URL)",
    )
    .returning("CallbackResult")
    .failing(&[
        (400, "`invalid_callback`: the adapter could not decode the request"),
        (
            403,
            "`unauthenticated_callback`: missing or wrong signature; nothing applied, a security event recorded",
        ),
        (404, "unknown token"),
    ]),
    ep(
        "get",
        "/api/audit",
        Auth::Tenant,
        None,
        200,
        "The tenant's audit log (paged)",
    ),
];

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The OpenAPI document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
        let mut op = json!({
            "summary": e.summary,
            "parameters": path_params(e.path),
            "responses": {
                e.ok.to_string(): {"description": "success"},
                "default": {"description": "error", "content": error},
            },
        });
        if let Some(schema) = e.returns {
            op["responses"][e.ok.to_string()]["content"] = json!({"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        for (status, meaning) in e.errors {
            op["responses"][status.to_string()] = json!({"description": meaning, "content": error});
        }
        match e.auth {
            Auth::Tenant => op["security"] = json!([{"tenantKey": []}]),
            Auth::Admin => op["security"] = json!([{"adminKey": []}]),
            Auth::None | Auth::Token => op["security"] = json!([]),
        }
        if let Some(ct) = e.body {
            op["requestBody"] = json!({"content": {ct: {}}});
        }
        let item = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        item[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "dialplane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "tenantKey": {"type": "http", "scheme": "bearer", "description": "A tenant's API key"},
                "adminKey": {"type": "http", "scheme": "bearer", "description": "A platform (admin) key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}},
                },
                "CallbackToken": {
                    "type": "object",
                    "required": ["dialer", "token", "path", "callback_url"],
                    "properties": {
                        "dialer": {"type": "string"},
                        "token": {"type": "string", "description": "Shown once; stored hashed"},
                        "path": {"type": "string", "description": "/api/callbacks/{token}"},
                        "callback_url": {"type": "string", "description": "The public URL (serve --public-url) + path: what to give the provider, and what it signs"},
                    },
                },
                "CallbackResult": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {"result": {"enum": ["applied", "ignored", "held", "no_event"]}},
                },
            },
        },
    })
}

async fn document() -> Json<Value> {
    Json(build())
}
