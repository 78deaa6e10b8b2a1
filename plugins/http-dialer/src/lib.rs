//! `http-dialer`: places calls through a Twilio-compatible REST Calls API,
//! over `wasi:http/outgoing-handler`. The host lets it reach only the
//! host:port of `base_url`.
//!
//! # Configuration
//!
//! | key               | required | meaning |
//! |-------------------|----------|---------|
//! | `base_url`        | yes      | `http[s]://host[:port][/prefix]`, e.g. `https://api.twilio.com` |
//! | `account_sid`     | yes      | account id; the path segment and the basic-auth user |
//! | `auth_token`      | yes      | basic-auth password |
//! | `from`            | yes      | caller id (`From`) unless the request carries `caller-id` |
//! | `twiml_url`       | yes      | `Url`: what the provider fetches to run the call |
//! | `status_callback` | yes      | `StatusCallback`: where the provider posts call events (dialplane's callback endpoint); without it the end of a call is never learned |
//! | `machine_detection` | no     | passed as `MachineDetection` (e.g. `Enable`) so callbacks carry `AnsweredBy` |
//! | `http_timeout_ms` | no       | connect / first-byte / between-bytes timeout, default 10000 |
//!
//! A missing key is `config("<key> is required")`.
//!
//! # Requests
//!
//! - `place-call`: `POST {base_url}/2010-04-01/Accounts/{account_sid}/Calls.json`,
//!   form `To`, `From`, `Url`, `StatusCallback`, `StatusCallbackEvent`
//!   (`initiated ringing answered completed`), `Timeout`
//!   (`timeout-secs`), HTTP basic auth. A 2xx answer's JSON `sid` is returned
//!   as `pending(sid)` (the end arrives by callback).
//! - `hangup`: `POST .../Calls/{sid}.json` with `Status=completed`.
//! - `lookup`: see *Idempotency* below; `GET .../Calls/{sid}.json`.
//! - `parse-callback`: the form-encoded status callback (`CallSid`,
//!   `CallStatus`, `CallDuration`, `AnsweredBy`, `SipResponseCode`), decoded
//!   by the `twilio-status` crate; a report is attached at terminal states.
//!   The `X-Twilio-Signature` header is not checked here (it signs the full
//!   public URL, which the adapter does not see): the host's callback
//!   endpoint authenticates callbacks.
//!
//! # Errors
//!
//! | provider answer                          | `dial-error` |
//! |------------------------------------------|--------------|
//! | 429                                      | `rate-limited(Retry-After seconds, else 5)` |
//! | other 4xx                                | `rejected("HTTP <status>: <code>: <message>")` |
//! | 5xx, timeout, broken connection          | `transient(…)` |
//! | 2xx without a `sid`                      | `rejected(…)` (never retried: a call may exist) |
//!
//! # Idempotency
//!
//! Twilio has no idempotency key on call creation, so a blind retry after a
//! crash can ring a person twice. The adapter keeps its own ledger in
//! `tenant-store`, key `call/<idempotency-key>`: it writes
//! `{"state":"posting"}` *before* the POST and `{"state":"placed","sid":…}`
//! after a 2xx. A failure that provably placed nothing (4xx, 429, refused
//! connection, DNS) removes the entry; an ambiguous one (5xx, timeout) leaves
//! `posting`. Hence:
//!
//! - `place-call` with a key already `placed` returns `pending(sid)` again
//!   without a request; with a key left `posting`, it refuses
//!   (`rejected`): the earlier attempt may have rung the person.
//! - `lookup(key)`: no entry → `none` (never sent); `posting` →
//!   `transient("… cannot tell")`; `placed` → the provider's call resource:
//!   a report when it has ended, `transient("… still <status>")` otherwise.

mod http;

use dialplane_guest::prelude::*;
use http::{Endpoint, Response};
use wasip2::http::types::Method;

/// Default wait when a 429 has no usable `Retry-After`.
pub const RATE_LIMIT_RETRY_DEFAULT_SECS: u32 = 5;
/// Default HTTP timeouts.
pub const HTTP_TIMEOUT_MS_DEFAULT: u64 = 10_000;

struct Config<'a> {
    endpoint: Endpoint,
    account_sid: &'a str,
    auth_token: &'a str,
    timeout_ms: u64,
}

impl<'a> Config<'a> {
    fn load(props: &'a Properties) -> Result<Self, DialError> {
        let endpoint =
            Endpoint::parse(require_prop(props, "base_url")?).map_err(DialError::Config)?;
        let account_sid = require_prop(props, "account_sid")?;
        if !is_sid(account_sid) {
            return Err(DialError::Config(
                "account_sid must be letters and digits only".into(),
            ));
        }
        let timeout_ms = match prop(props, "http_timeout_ms") {
            None => HTTP_TIMEOUT_MS_DEFAULT,
            Some(v) => v.trim().parse().map_err(|_| {
                DialError::Config(format!("http_timeout_ms must be a number, got {v:?}"))
            })?,
        };
        Ok(Config {
            endpoint,
            account_sid,
            auth_token: require_prop(props, "auth_token")?,
            timeout_ms,
        })
    }

    fn calls_path(&self) -> String {
        format!("/2010-04-01/Accounts/{}/Calls", self.account_sid)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
    ) -> Result<Response, http::TransportError> {
        let headers = [
            (
                "authorization",
                http::basic_auth(self.account_sid, self.auth_token),
            ),
            ("accept", "application/json".to_string()),
        ];
        http::send(
            &self.endpoint,
            method,
            path,
            &headers,
            form,
            self.timeout_ms,
        )
    }
}

/// Provider ids go into URL paths: only letters and digits are accepted.
fn is_sid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn ledger_key(idempotency_key: &str) -> String {
    format!("call/{idempotency_key}")
}

enum Ledger {
    Posting,
    Placed(String),
}

fn read_ledger(key: &str) -> Result<Option<Ledger>, DialError> {
    let Some(bytes) = store::get(&ledger_key(key)) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        DialError::Transient(format!("ledger entry {} is corrupt: {e}", ledger_key(key)))
    })?;
    match (v["state"].as_str(), v["sid"].as_str()) {
        (Some("placed"), Some(sid)) => Ok(Some(Ledger::Placed(sid.to_string()))),
        _ => Ok(Some(Ledger::Posting)),
    }
}

fn write_ledger(key: &str, entry: &Ledger) -> Result<(), DialError> {
    let json = match entry {
        Ledger::Posting => {
            serde_json::json!({ "state": "posting", "at_unix_ms": clock::now_unix_ms() })
        }
        Ledger::Placed(sid) => {
            serde_json::json!({ "state": "placed", "sid": sid, "at_unix_ms": clock::now_unix_ms() })
        }
    };
    store::set(&ledger_key(key), json.to_string()).map_err(|e| {
        DialError::Transient(format!(
            "cannot write ledger entry {}: {e}",
            ledger_key(key)
        ))
    })
}

/// Maps a non-2xx answer onto a dial error.
fn provider_error(resp: &Response) -> DialError {
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let message = json["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(200)
                .collect()
        });
    let detail = match json["code"].as_u64() {
        Some(code) => format!("HTTP {}: {code}: {message}", resp.status),
        None => format!("HTTP {}: {message}", resp.status),
    };
    match resp.status {
        429 => DialError::RateLimited(
            resp.retry_after
                .as_deref()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(RATE_LIMIT_RETRY_DEFAULT_SECS),
        ),
        400..=499 => DialError::Rejected(detail),
        _ => DialError::Transient(detail),
    }
}

pub struct HttpDialer;

impl Dialer for HttpDialer {
    fn place_call(props: &Properties, req: &CallRequest) -> Result<Placement, DialError> {
        let cfg = Config::load(props)?;
        let from = match &req.caller_id {
            Some(id) => id.as_str(),
            None => require_prop(props, "from")?,
        };
        let twiml_url = require_prop(props, "twiml_url")?;
        let status_callback = require_prop(props, "status_callback")?;
        if req.idempotency_key.is_empty() {
            return Err(DialError::Rejected("idempotency-key is empty".into()));
        }
        match read_ledger(&req.idempotency_key)? {
            Some(Ledger::Placed(sid)) => {
                log::warn(format!(
                    "idempotency key {} already placed as {sid}",
                    req.idempotency_key
                ));
                return Ok(Placement::Pending(sid));
            }
            Some(Ledger::Posting) => {
                return Err(DialError::Rejected(format!(
                    "an earlier attempt with idempotency key {} was interrupted mid-request and may have placed the call; not dialing again",
                    req.idempotency_key
                )));
            }
            None => {}
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", &req.to)
            .append_pair("From", from)
            .append_pair("Url", twiml_url)
            .append_pair("StatusCallback", status_callback)
            .append_pair("Timeout", &req.timeout_secs.to_string());
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.append_pair("StatusCallbackEvent", event);
        }
        if let Some(md) = prop(props, "machine_detection") {
            form.append_pair("MachineDetection", md);
        }
        write_ledger(&req.idempotency_key, &Ledger::Posting)?;
        let forget = || store::delete(&ledger_key(&req.idempotency_key));
        let resp = match cfg.request(
            Method::Post,
            &format!("{}.json", cfg.calls_path()),
            Some(form.finish()),
        ) {
            Ok(resp) => resp,
            Err(e) => {
                if e.not_sent {
                    forget();
                }
                log::warn(format!(
                    "POST Calls.json for {}: {}",
                    req.idempotency_key, e.message
                ));
                return Err(DialError::Transient(e.message));
            }
        };
        if !(200..300).contains(&resp.status) {
            let err = provider_error(&resp);
            if resp.status < 500 {
                forget();
            }
            log::warn(format!(
                "POST Calls.json for {}: {err:?}",
                req.idempotency_key
            ));
            return Err(err);
        }
        let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
        let Some(sid) = json["sid"].as_str().filter(|s| is_sid(s)) else {
            return Err(DialError::Rejected(format!(
                "provider answered HTTP {} without a valid call sid; not retrying, a call may exist",
                resp.status
            )));
        };
        if let Err(e) = write_ledger(&req.idempotency_key, &Ledger::Placed(sid.to_string())) {
            // The call is real: report it even though the ledger lags.
            log::error(format!("call {sid} placed but not recorded: {e:?}"));
        }
        log::info(format!(
            "placed {sid} to {} (status {})",
            req.to,
            json["status"].as_str().unwrap_or("?")
        ));
        Ok(Placement::Pending(sid.to_string()))
    }

    fn hangup(props: &Properties, provider_call_id: &str) -> Result<(), DialError> {
        let cfg = Config::load(props)?;
        if !is_sid(provider_call_id) {
            return Err(DialError::Rejected(format!(
                "{provider_call_id:?} is not a call sid"
            )));
        }
        let path = format!("{}/{provider_call_id}.json", cfg.calls_path());
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("Status", "completed")
            .finish();
        match cfg.request(Method::Post, &path, Some(form)) {
            Ok(resp) if (200..300).contains(&resp.status) => {
                log::info(format!("hung up {provider_call_id}"));
                Ok(())
            }
            Ok(resp) => Err(provider_error(&resp)),
            Err(e) => Err(DialError::Transient(e.message)),
        }
    }

    fn lookup(props: &Properties, idempotency_key: &str) -> Result<Option<CallReport>, DialError> {
        let cfg = Config::load(props)?;
        let sid = match read_ledger(idempotency_key)? {
            None => return Ok(None),
            Some(Ledger::Posting) => {
                return Err(DialError::Transient(format!(
                    "the request for {idempotency_key} was interrupted; cannot tell whether a call was placed"
                )));
            }
            Some(Ledger::Placed(sid)) => sid,
        };
        let resp = cfg
            .request(
                Method::Get,
                &format!("{}/{sid}.json", cfg.calls_path()),
                None,
            )
            .map_err(|e| DialError::Transient(e.message))?;
        if !(200..300).contains(&resp.status) {
            return Err(provider_error(&resp));
        }
        let json: serde_json::Value = serde_json::from_slice(&resp.body)
            .map_err(|e| DialError::Transient(format!("call resource {sid} is not JSON: {e}")))?;
        let status = json["status"].as_str().unwrap_or("");
        let duration = json["duration"]
            .as_str()
            .map(str::to_string)
            .or_else(|| json["duration"].as_u64().map(|d| d.to_string()));
        let event = twilio_status::event(
            &sid,
            status,
            duration.as_deref(),
            json["answered_by"].as_str(),
            None,
        )
        .map_err(|e| {
            DialError::Transient(
                e.replace("{status}", "status")
                    .replace("{duration}", "duration"),
            )
        })?;
        match event.report {
            Some(report) => Ok(Some(report)),
            None => Err(DialError::Transient(format!(
                "call {sid} is still {status}"
            ))),
        }
    }

    fn parse_callback(
        _props: &Properties,
        _headers: &Properties,
        body: &[u8],
    ) -> Result<Option<CallEvent>, String> {
        twilio_status::parse(body).map(Some)
    }
}

export_dialer!(HttpDialer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint() {
        let e = Endpoint::parse("http://127.0.0.1:8080/fake/").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path_prefix.as_str()),
            ("127.0.0.1:8080", "/fake")
        );
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://user@host").is_err());
    }

    #[test]
    fn config_names_missing_key() {
        let props: Properties = vec![("base_url".into(), "http://127.0.0.1:1".into())];
        match Config::load(&props) {
            Err(DialError::Config(m)) => assert_eq!(m, "account_sid is required"),
            _ => panic!("expected a config error"),
        }
    }

    #[test]
    fn errors() {
        let resp = |status, retry: Option<&str>, body: &str| Response {
            status,
            retry_after: retry.map(str::to_string),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            provider_error(&resp(429, Some("7"), "")),
            DialError::RateLimited(7)
        );
        assert_eq!(
            provider_error(&resp(429, None, "")),
            DialError::RateLimited(5)
        );
        assert_eq!(
            provider_error(&resp(
                400,
                None,
                r#"{"code":21211,"message":"Invalid 'To'"}"#
            )),
            DialError::Rejected("HTTP 400: 21211: Invalid 'To'".into())
        );
        assert!(matches!(
            provider_error(&resp(503, None, "down")),
            DialError::Transient(_)
        ));
    }
}
