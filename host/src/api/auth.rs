//! Bearer-key authentication. The principal (tenant or platform admin) comes
//! from the key alone, never from the URL or the body.
//!
//! [`authenticate`] is a middleware on every authenticated route: it resolves
//! the key (platform scope: the lookup spans tenants), refuses tenant keys on
//! `/api/admin/...` (403) and admin keys elsewhere (403: those routes act for
//! a tenant and an admin key has none), then runs the request inside its
//! tenant's database scope. Handlers take [`TenantAuth`] or [`AdminAuth`].
//!
//! Every request looks its key up in the database: there is no cache, so a
//! key revoked through any node is refused by every node from the next
//! request. The lookup records the key's use at most once per
//! [`crate::config::API_KEY_LAST_USED_WRITE_INTERVAL`] (a conditional
//! UPDATE only when the stored time is older), so a request costs no write.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::model::{ApiKeyId, TenantId};
use crate::store::tenant_scope::{DbScope, scoped};
use crate::store::{Principal, StoreError};

/// The tenant a request acts for, and the key that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantAuth {
    pub tenant: TenantId,
    pub key_id: ApiKeyId,
}

/// A platform (admin) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminAuth {
    pub key_id: ApiKeyId,
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = bearer(&req).map(str::to_string) else {
        return ApiError::Unauthorized.into_response();
    };
    let principal = match scoped(DbScope::Platform, state.store.resolve_api_key(&key)).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => return ApiError::Unauthorized.into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let admin_route = req.uri().path().starts_with("/api/admin/");
    match (principal, admin_route) {
        (Principal::Admin { key_id }, true) => {
            req.extensions_mut().insert(AdminAuth { key_id });
            scoped(DbScope::Platform, next.run(req)).await
        }
        (Principal::Tenant { tenant, key_id }, false) => {
            req.extensions_mut().insert(TenantAuth { tenant, key_id });
            scoped(DbScope::Tenant(tenant), next.run(req)).await
        }
        (Principal::Tenant { .. }, true) => ApiError::Forbidden.into_response(),
        (Principal::Admin { .. }, false) => ApiError::TenantKeyRequired.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<TenantAuth>()
            .copied()
            .ok_or(ApiError::Unauthorized)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AdminAuth>()
            .copied()
            .ok_or(ApiError::Forbidden)
    }
}
