//! The live dashboard: one static page (`dashboard/index.html`, its scripts
//! `app.js`, `events.js`, `runs.js`, `run.js`, `job.js`, and `style.css`)
//! compiled into the binary, so `dialplane serve` needs no files
//! on disk and the browser fetches nothing from the network.
//!
//! The page talks to the JSON API with the tenant's key in the
//! `Authorization` header (kept in sessionStorage), and follows live progress
//! by streaming `GET /api/outbound/runs/{id}/events` through `fetch`, which,
//! unlike `EventSource`, can send that header: keys never appear in URLs.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const STYLE_CSS: &str = include_str!("dashboard/style.css");

/// The page's scripts, in load order (`defer`): `app.js` is the core (API
/// calls, routing, login, the confirmation dialog, formats), then one file
/// per view and the live event stream.
const SCRIPTS: &[(&str, &str)] = &[
    ("/dashboard/app.js", include_str!("dashboard/app.js")),
    ("/dashboard/events.js", include_str!("dashboard/events.js")),
    ("/dashboard/runs.js", include_str!("dashboard/runs.js")),
    ("/dashboard/run.js", include_str!("dashboard/run.js")),
    ("/dashboard/job.js", include_str!("dashboard/job.js")),
];

/// Only our own scripts, styles and API: an injected string can neither run
/// script nor send the key elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Path of the page.
pub const INDEX_PATH: &str = "/";
/// Path of the core script.
pub const APP_JS_PATH: &str = "/dashboard/app.js";
/// Path of the stylesheet.
pub const STYLE_CSS_PATH: &str = "/dashboard/style.css";

/// Serves the page at `/` and its assets under `/dashboard/`. Public: the
/// page holds no data; every API call it makes is authenticated.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new()
        .route(
            INDEX_PATH,
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            STYLE_CSS_PATH,
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        );
    for &(path, body) in SCRIPTS {
        r = r.route(
            path,
            get(move || async move { asset("text/javascript; charset=utf-8", body) }),
        );
    }
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Always revalidate: after an upgrade the page must match the API.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get_path(path: &str) -> Response {
        router::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn serves_the_page_and_its_assets_with_types_and_csp() {
        for (path, ty, needle) in [
            ("/", "text/html", "id=\"login-form\""),
            (APP_JS_PATH, "text/javascript", "Authorization"),
            (STYLE_CSS_PATH, "text/css", ".bar"),
        ] {
            let res = get_path(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let h = res.headers();
            assert!(
                h[header::CONTENT_TYPE].to_str().unwrap().starts_with(ty),
                "{path}"
            );
            assert!(h.contains_key(header::CONTENT_SECURITY_POLICY), "{path}");
            let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap();
            assert!(String::from_utf8_lossy(&body).contains(needle), "{path}");
        }
    }

    #[tokio::test]
    async fn page_references_only_local_assets() {
        for text in [INDEX_HTML, STYLE_CSS]
            .into_iter()
            .chain(SCRIPTS.iter().map(|s| s.1))
        {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
        assert!(INDEX_HTML.contains(STYLE_CSS_PATH));
        for (path, _) in SCRIPTS {
            assert!(
                INDEX_HTML.contains(path),
                "{path} is not loaded by the page"
            );
            assert_eq!(get_path(path).await.status(), StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn unknown_asset_is_404() {
        assert_eq!(
            get_path("/dashboard/nope.js").await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
