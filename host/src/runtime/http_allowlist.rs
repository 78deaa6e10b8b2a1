//! Outbound HTTP for dialer adapters: `wasi:http` with a `send_request` hook
//! that lets a request through only when its `host:port` is in the adapter's
//! [`PluginScope::http_allow`](super::PluginScope) (taken from its configuration by the
//! host). Anything else is refused with `HTTP-request-denied` and logged.
//!
//! Call flows never get here: their linker has no `wasi:http` at all.

use std::future::Future;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::log_sink::LogSink;
use super::plugin_scope::{ActGate, HttpRefusals};

pub struct HttpAllowlist {
    allow: Vec<String>,
    refused: HttpRefusals,
    act_gate: ActGate,
    logs: LogSink,
}

impl HttpAllowlist {
    pub fn new(
        allow: Vec<String>,
        refused: HttpRefusals,
        act_gate: ActGate,
        logs: LogSink,
    ) -> Self {
        let allow = allow.into_iter().map(|a| a.to_ascii_lowercase()).collect();
        HttpAllowlist {
            allow,
            refused,
            act_gate,
            logs,
        }
    }

    /// `host:port` of a request URI, with the scheme's default port filled in.
    pub fn destination(uri: &http::Uri) -> Option<String> {
        let host = uri.host()?.to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        })?;
        Some(format!("{host}:{port}"))
    }

    /// The `host:port` a dialer's `base_url` setting names (scheme default
    /// port filled in), e.g. `https://api.twilio.com` → `api.twilio.com:443`.
    pub fn from_base_url(base_url: &str) -> Option<String> {
        let uri: http::Uri = base_url.trim().parse().ok()?;
        Self::destination(&uri)
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        Self::destination(uri).is_some_and(|d| self.allow.contains(&d))
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpAllowlist {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        if !self.act_gate.allows() {
            // Not a refused destination: the worker lost its lease while
            // the adapter ran. Nothing is sent.
            self.logs
                .push("warn", "outbound HTTP refused: the run's lease has lapsed");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        if !self.allows(request.uri()) {
            let dest =
                Self::destination(request.uri()).unwrap_or_else(|| request.uri().to_string());
            self.logs.push(
                "error",
                &format!(
                    "outbound HTTP to {dest} refused: not in the adapter's allowlist [{}]",
                    self.allow.join(", ")
                ),
            );
            // Logged once per run by the worker, which halts the run; a
            // line per request here would repeat it for every lead.
            tracing::debug!(destination = %dest, "plugin HTTP request refused by allowlist");
            self.refused.record(&dest);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}
