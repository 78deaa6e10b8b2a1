//! `?limit=&cursor=` paging (documented in `/api/openapi.json`): limit 1..=500 (default
//! 50), an opaque cursor (the last id seen), `{"items", "next_cursor"}`.

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::config::{API_PAGE_LIMIT_DEFAULT, API_PAGE_LIMIT_MAX};
use crate::store::Page;

/// Raw query parameters; parsed by hand so that absurd values get a precise
/// 400. The OpenAPI document types them as the values they must parse to.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1..=500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageReq {
    pub after: Option<i64>,
    pub limit: u32,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageReq, ApiError> {
        let limit = match &self.limit {
            None => API_PAGE_LIMIT_DEFAULT,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=API_PAGE_LIMIT_MAX).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_paging",
                        Some("limit"),
                        format!("limit must be an integer 1..={API_PAGE_LIMIT_MAX}"),
                    ));
                }
            },
        };
        let after = match &self.cursor {
            None => None,
            Some(s) => Some(decode_cursor(s).ok_or_else(|| {
                ApiError::bad_request("invalid_paging", Some("cursor"), "not a cursor of this API")
            })?),
        };
        Ok(PageReq { after, limit })
    }
}

impl PageReq {
    /// One more row than asked, to know whether a next page exists.
    pub fn store_page(&self) -> Page {
        Page {
            after: self.after,
            limit: self.limit + 1,
        }
    }
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Cuts `rows` (fetched with [`PageReq::store_page`]) to the page and sets the cursor.
pub fn paged<R, T>(
    req: PageReq,
    mut rows: Vec<R>,
    id: impl Fn(&R) -> i64,
    view: impl Fn(R) -> T,
) -> Paged<T> {
    let more = rows.len() > req.limit as usize;
    rows.truncate(req.limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(id(r)))
    } else {
        None
    };
    Paged {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}

/// Cursors are `c` + the id in hex: opaque to clients, cheap to check.
pub fn encode_cursor(id: i64) -> String {
    format!("c{id:x}")
}

pub fn decode_cursor(s: &str) -> Option<i64> {
    let hex = s.strip_prefix('c')?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().filter(|v| *v >= 0)
}
