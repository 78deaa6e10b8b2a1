//! [`ApiError`]: every failure of the HTTP API, mapped to a status code and
//! the one error shape `{"error": {"code", "message", "field"}}` in ONE place.
//!
//! 500s are logged with their cause and answered with a generic message: a
//! database error text can name tables, hosts or another tenant's values.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is wrong; `field` names the part at fault.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 401: no key, an unknown key or a revoked key.
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    /// 403: a tenant key on a platform (admin) endpoint.
    #[error("this endpoint needs a platform (admin) key")]
    Forbidden,
    /// 403: a platform (admin) key on an endpoint that acts for a tenant.
    #[error("this endpoint acts for a tenant: use a tenant key")]
    TenantKeyRequired,
    /// 403: a provider callback the adapter could not authenticate (e.g. a
    /// missing or wrong signature); nothing was applied.
    #[error("{0}")]
    CallbackUnauthenticated(String),
    /// 404: absent, or another tenant's (the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    /// 413: the body is over the configured limit; `setting` names the
    /// flag and variable that raise it.
    #[error(
        "request body is larger than the limit of {}; the server's {setting} raises it",
        byte_size(*limit)
    )]
    PayloadTooLarge { limit: usize, setting: &'static str },
    /// 415: a body type the endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed JSON of the wrong shape (types, unknown fields, ranges).
    #[error("{message}")]
    Unprocessable {
        message: String,
        field: Option<String>,
    },
    /// 503: the database is unreachable.
    #[error("service unavailable")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the detail is only logged.
    #[error("internal error")]
    Internal(String),
}

/// `33554432 bytes (32 MiB)`, `65536 bytes (64 KiB)`, `1000 bytes`.
fn byte_size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{n} bytes ({} MiB)", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{n} bytes ({} KiB)", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The one error shape, `{"error": {code, message, field}}`; `Error` in the
/// OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable, machine-readable (`invalid_path`, `not_found`, ...).
    pub code: &'a str,
    pub message: String,
    /// The parameter, field path or row at fault, when one is.
    pub field: Option<&'a str>,
}

/// The failures every operation behind a key can answer, whatever it does;
/// each operation lists its own 400, 404, 409, 413, 415 and 422.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its OpenAPI responses are used.
pub enum KeyedErrors<'a> {
    /// Missing, unknown or revoked API key.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'a>),
    /// The other kind of key: a tenant key on `/api/admin/...`, an admin
    /// key on an operation that acts for a tenant.
    #[response(status = 403)]
    Forbidden(ErrorBody<'a>),
    /// An unexpected failure (the detail is only logged).
    #[response(status = 500)]
    Internal(ErrorBody<'a>),
    /// The database is unreachable.
    #[response(status = 503)]
    Unavailable(ErrorBody<'a>),
}

impl ApiError {
    pub fn bad_request(
        code: &'static str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: field.map(str::to_string),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden
            | ApiError::TenantKeyRequired
            | ApiError::CallbackUnauthenticated(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::TenantKeyRequired => "tenant_key_required",
            ApiError::CallbackUnauthenticated(_) => "unauthenticated_callback",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unprocessable { .. } => "invalid_value",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadRequest { field, .. }
            | ApiError::Conflict { field, .. }
            | ApiError::Unprocessable { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Invalid { field, reason } => ApiError::Unprocessable {
                message: format!("{field}: {reason}"),
                field: Some(field),
            },
            // The constraint name is ours (schema), not user data: safe to say.
            StoreError::Conflict { constraint } => ApiError::Conflict {
                message: format!("the request conflicts with existing data ({constraint})"),
                field: None,
            },
            StoreError::Unavailable { url, cause } => {
                ApiError::Unavailable(format!("{url}: {cause}"))
            }
            StoreError::Other(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "API request failed"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                field: self.field(),
            },
        };
        (status, Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
