//! [`StoreError`]: what can go wrong in the store, in terms the API can map
//! to a status code (NotFound → 404, Conflict/Invalid → 4xx, Unavailable → 503).

/// An error of a [`crate::store::Store`] method.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist *for this tenant*. Rows of other tenants are
    /// NotFound too: existence never leaks across tenants.
    #[error("not found")]
    NotFound,
    /// A database constraint rejected the write (unique, foreign key, check).
    #[error("conflict with constraint {constraint}")]
    Conflict { constraint: String },
    /// A value the store refuses before touching the database.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The database cannot be reached. `url` never contains the password.
    #[error("database {url} is unavailable: {cause}")]
    Unavailable { url: String, cause: String },
    /// Anything else (a bug, a corrupt row, a failed migration).
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// Maps a driver error. `url` (already redacted) names the database in
    /// [`StoreError::Unavailable`].
    pub fn from_sqlx(e: sqlx::Error, url: &str) -> Self {
        use sqlx::error::ErrorKind;
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation
                | ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation => StoreError::Conflict {
                    // Postgres names the constraint; SQLite only says it in the message.
                    constraint: db
                        .constraint()
                        .map(str::to_string)
                        .unwrap_or_else(|| db.message().to_string()),
                },
                // Class 22 (data exception: a NUL in text 22021, in JSON
                // 22P05, a number out of range...): the value is at fault,
                // not the database. The API checks text first; this keeps
                // anything it missed a 4xx. The message may quote the value:
                // only the code is kept.
                _ if db.code().is_some_and(|c| c.starts_with("22")) => StoreError::Invalid {
                    field: "value".into(),
                    reason: format!(
                        "the database cannot store this value (SQLSTATE {})",
                        db.code().unwrap_or_default()
                    ),
                },
                _ if is_unavailable_code(db.code().as_deref()) => StoreError::Unavailable {
                    url: url.to_string(),
                    cause: db.message().to_string(),
                },
                _ => StoreError::Other(db.to_string()),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable {
                url: url.to_string(),
                cause: e.to_string(),
            },
            other => StoreError::Other(other.to_string()),
        }
    }

    /// True when retrying later may succeed (the database went away).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Postgres: admin shutdown / cannot connect now / database starting up
/// (class 57P and 08); SQLite: cannot open the file (14).
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(c) => c.starts_with("57P") || c.starts_with("08") || c == "14",
        None => false,
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; a
/// `password=` query parameter is masked too.
pub fn redact_url(url: &str) -> String {
    let redacted = redact_userinfo(url);
    match redacted.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => redacted,
    }
}

fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(
            redact_url("postgres://u:p%40ss@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://x.db?mode=rwc"),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(redact_url("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=pw"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
    }
}
