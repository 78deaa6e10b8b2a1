//! `GET /api/audit`: the tenant's audit log (runs created and cancelled and
//! by which key, plugin uploads and activations, security events); and the
//! helpers every router uses to write to it.
//!
//! A cross-tenant access is answered 404 by the router; [`not_found`] then
//! writes a security event to the owner's log and to the platform's log, in
//! platform scope (the intruder's scope may not write the owner's log). A
//! provider callback that fails authentication is one too
//! ([`callback_security_event`]).

use axum::Json;
use axum::extract::State;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use serde::Serialize;

use super::AppState;
use super::auth::TenantAuth;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::{PageQuery, Paged, paged};
use super::params::ApiQuery;
use super::views::rfc3339_dt;
use crate::model::{ApiKeyId, TenantId};
use crate::store::platform_reads::Resource;
use crate::store::tenant_scope::{DbScope, scoped};
use crate::store::{AuditEntry, AuditRecord, Page};

/// The audit logs' routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(list_platform))
}

#[utoipa::path(
    get,
    path = "/api/admin/audit",
    operation_id = "list_platform_audit",
    tag = "admin",
    summary = "The platform's audit log (paged)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of entries", body = Paged<AuditJson>),
        (status = 400, description = "Bad paging parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn list_platform(
    State(s): State<AppState>,
    _a: super::auth::AdminAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<AuditJson>>> {
    let req = q.parse()?;
    let rows = platform_log(&s, req.store_page()).await?;
    Ok(Json(paged(req, rows, |r| r.id, AuditJson::from)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct AuditJson {
    pub id: i64,
    pub action: String,
    #[schema(value_type = Option<i64>)]
    pub actor_key_id: Option<ApiKeyId>,
    pub security: bool,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: String,
}

impl From<AuditRecord> for AuditJson {
    fn from(a: AuditRecord) -> Self {
        AuditJson {
            id: a.id,
            action: a.action,
            actor_key_id: a.actor_key_id,
            security: a.security,
            detail: a.detail,
            at: rfc3339_dt(&a.at),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/audit",
    operation_id = "list_audit",
    tag = "audit",
    summary = "The tenant's audit log (paged)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of entries", body = Paged<AuditJson>),
        (status = 400, description = "Bad paging parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<AuditJson>>> {
    let req = q.parse()?;
    let rows = s.store.list_audit(Some(t.tenant), req.store_page()).await?;
    Ok(Json(paged(req, rows, |r| r.id, AuditJson::from)))
}

/// Appends an action of tenant `t` to its own log.
pub async fn record(
    s: &AppState,
    t: &TenantAuth,
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    s.store
        .append_audit(&AuditEntry {
            tenant: Some(t.tenant),
            actor_key_id: Some(t.key_id),
            action: action.to_string(),
            detail,
            security: false,
        })
        .await?;
    Ok(())
}

/// Appends a platform action (admin key) to the platform's log.
pub async fn record_platform(
    s: &AppState,
    key_id: ApiKeyId,
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    s.store
        .append_audit(&AuditEntry {
            tenant: None,
            actor_key_id: Some(key_id),
            action: action.to_string(),
            detail,
            security: false,
        })
        .await?;
    Ok(())
}

/// Writes the security event of `t` reaching for `owner`'s resource.
pub async fn security_event(
    s: &AppState,
    t: &TenantAuth,
    owner: TenantId,
    resource: &str,
    id: &str,
    endpoint: &str,
) -> ApiResult<()> {
    let detail = serde_json::json!({
        "kind": "cross_tenant_access",
        "resource": resource,
        "id": id,
        "endpoint": endpoint,
        "by_business_id": t.tenant.0,
        "by_key_id": t.key_id,
    });
    tracing::warn!(
        by = t.tenant.0,
        owner = owner.get(),
        resource,
        id,
        "cross-tenant access refused"
    );
    // The key belongs to the intruder's tenant; it is named in `detail`, not
    // as the actor of the owner's log.
    append_security_event(s, owner, "security.cross_tenant_access", detail).await
}

/// Writes the security event of a provider callback for `owner`'s `dialer`
/// that the adapter could not authenticate (`reason` is the adapter's).
/// The callback token is not written: it is a secret.
pub async fn callback_security_event(
    s: &AppState,
    owner: TenantId,
    dialer: &str,
    reason: &str,
) -> ApiResult<()> {
    tracing::warn!(
        owner = owner.get(),
        dialer,
        reason,
        "unauthenticated provider callback refused"
    );
    let detail = serde_json::json!({
        "kind": "unauthenticated_callback",
        "dialer": dialer,
        "reason": reason,
        "endpoint": "POST /api/callbacks/{token}",
    });
    append_security_event(s, owner, "security.unauthenticated_callback", detail).await
}

/// Counts a security event and appends it, with no actor, to `owner`'s log
/// and to the platform's, in platform scope (the scope of the request may
/// not write the platform's log).
async fn append_security_event(
    s: &AppState,
    owner: TenantId,
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    s.metrics.security_event();
    scoped(DbScope::Platform, async {
        for log in [Some(owner), None] {
            s.store
                .append_audit(&AuditEntry {
                    tenant: log,
                    actor_key_id: None,
                    action: action.to_string(),
                    detail: detail.clone(),
                    security: true,
                })
                .await?;
        }
        Ok(())
    })
    .await
}

/// What a request named (in its path or its body) that turned out not to
/// be the tenant's.
pub enum Reference {
    /// A row by id (`/runs/{id}`, `lead_ids[i]`).
    Row(Resource, i64),
    /// A flow by name.
    Flow(String),
}

/// A request named something that is not `t`'s, and the answer (404, or
/// the 422 of a body) is the one for something nobody owns: if another
/// tenant owns it, records the security event. Spawned, off the response
/// path, so a cross-tenant id and a nonexistent one cost the same work
/// before the answer (no timing tell).
pub async fn audit_reference(s: &AppState, t: &TenantAuth, r: Reference, endpoint: &str) {
    let Ok(queued) = Arc::clone(&s.audit_queue).acquire_owned().await else {
        return; // closed: never, the state owns it
    };
    let (s, t, endpoint) = (s.clone(), *t, endpoint.to_string());
    tokio::spawn(async move {
        let _queued = queued;
        let Ok(_slot) = Arc::clone(&s.audit_slots).acquire_owned().await else {
            return;
        };
        let found = match &r {
            Reference::Row(resource, id) => s
                .platform
                .owner_of(*resource, *id)
                .await
                .map(|o| o.into_iter().filter(|o| *o != t.tenant).collect::<Vec<_>>()),
            Reference::Flow(name) => s.platform.flow_owners(name, t.tenant).await,
        };
        let owners = match found {
            Ok(owners) => owners,
            Err(e) => {
                tracing::error!(error = %e, "cannot look up a resource owner");
                return;
            }
        };
        let (resource, id) = match &r {
            Reference::Row(resource, id) => (resource.as_str(), id.to_string()),
            Reference::Flow(name) => ("flow", name.clone()),
        };
        for owner in owners {
            if let Err(e) = security_event(&s, &t, owner, resource, &id, &endpoint).await {
                tracing::error!(error = %e, "cannot record a security event");
            }
        }
    });
}

/// The 404 for `resource` `id` asked by `t`, the same whoever owns it; the
/// security event, if another tenant does, is written off the response
/// path ([`audit_reference`]).
pub async fn not_found(
    s: &AppState,
    t: &TenantAuth,
    resource: Resource,
    id: i64,
    endpoint: &str,
) -> ApiError {
    audit_reference(s, t, Reference::Row(resource, id), endpoint).await;
    ApiError::NotFound(resource.as_str())
}

/// Maps a store error for `resource` `id`: NotFound → [`not_found`].
pub async fn or_not_found<T>(
    s: &AppState,
    t: &TenantAuth,
    resource: Resource,
    id: i64,
    endpoint: &str,
    r: Result<T, crate::store::StoreError>,
) -> ApiResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(crate::store::StoreError::NotFound) => {
            Err(not_found(s, t, resource, id, endpoint).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Page of the platform's log (admin).
pub async fn platform_log(s: &AppState, page: Page) -> ApiResult<Vec<AuditRecord>> {
    Ok(s.store.list_audit(None, page).await?)
}
