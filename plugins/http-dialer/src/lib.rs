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
//! A missing key is `config("<key> is required")`. `validate-config` checks
//! every key above without any network access (present and non-empty;
//! `base_url` an `http[s]://` URL with a host; `account_sid` letters and
//! digits; `http_timeout_ms` a number) and names the first key at fault, so
//! the host refuses a bad configuration when it is stored.
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
//!   First, the request must carry a valid `X-Twilio-Signature` (see
//!   *Callback signatures*); a body that does not decode is `malformed`.
//!
//! # Callback signatures
//!
//! Twilio signs every callback with the account's auth token: the header
//! `X-Twilio-Signature` is `base64(HMAC-SHA1(key = auth_token, data = url +
//! name₁ + value₁ + name₂ + value₂ …))`, where `url` is the full URL the
//! provider posted to (the host passes it as `callback-request.url`, built
//! from its configured public URL) and the pairs are the POST form fields
//! sorted by name (then value). The adapter recomputes it and compares in
//! constant time; a missing header, one that is not base64, a wrong
//! signature or a configuration without `auth_token` is `unauthenticated`,
//! and the host applies nothing. (Bodies that are not forms, signed by
//! Twilio with a `bodySHA256` query parameter, are not supported.)
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
//!   without a request.
//! - A key left `posting` (with the number and the time the POST began) is
//!   settled through the provider's call list (`GET Calls.json?To=…`, see
//!   `posting.rs`): one call to that number created since then → it is
//!   this attempt's, recorded `placed`; none → nothing was created, the
//!   entry goes and the attempt may be posted again; several → "cannot
//!   tell" (`transient`). `place-call` and `lookup` both settle it first.
//! - `lookup(key)`: no entry → `none` (never sent); `placed` → the
//!   provider's call resource: `finished(report)` when it has ended,
//!   `pending(sid)` while it is under way.

mod http;
mod posting;

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

/// Keys that must be present and non-empty, in the order of the table above.
const REQUIRED_KEYS: [&str; 6] = [
    "base_url",
    "account_sid",
    "auth_token",
    "from",
    "twiml_url",
    "status_callback",
];

/// Every check of `validate-config`, first problem first.
fn validate(props: &Properties) -> Result<(), ConfigProblem> {
    for key in REQUIRED_KEYS {
        if prop(props, key).is_none_or(|v| v.trim().is_empty()) {
            return Err(ConfigProblem::new(key, format!("{key} is required")));
        }
        let value = prop(props, key).unwrap_or_default();
        match key {
            "base_url" => {
                Endpoint::parse(value).map_err(|m| ConfigProblem::new(key, m))?;
            }
            "account_sid" if !is_sid(value) => {
                return Err(ConfigProblem::new(
                    key,
                    "account_sid must be letters and digits only",
                ));
            }
            _ => {}
        }
    }
    if let Some(v) = prop(props, "http_timeout_ms")
        && v.trim().parse::<u64>().is_err()
    {
        return Err(ConfigProblem::new(
            "http_timeout_ms",
            format!("http_timeout_ms must be a number of milliseconds, got {v:?}"),
        ));
    }
    Ok(())
}

/// Checks `X-Twilio-Signature` over the public URL and the sorted form
/// fields (see *Callback signatures*), in constant time.
fn verify_signature(props: &Properties, req: &CallbackRequest) -> Result<(), CallbackError> {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let auth_token = prop(props, "auth_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            CallbackError::Unauthenticated(
                "auth_token is not configured: X-Twilio-Signature cannot be verified".into(),
            )
        })?;
    let header = req.header("x-twilio-signature").ok_or_else(|| {
        CallbackError::Unauthenticated("the X-Twilio-Signature header is missing".into())
    })?;
    let claimed = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| CallbackError::Unauthenticated("X-Twilio-Signature is not base64".into()))?;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .map_err(|e| CallbackError::Unauthenticated(format!("auth_token: {e}")))?;
    mac.update(signed_data(&req.url, &req.body).as_bytes());
    mac.verify_slice(&claimed).map_err(|_| {
        CallbackError::Unauthenticated(
            "X-Twilio-Signature does not match the request (URL, form fields or auth_token differ)"
                .into(),
        )
    })
}

/// What Twilio signs: the URL, then each form field's name and value,
/// sorted by name (then value).
fn signed_data(url: &str, body: &[u8]) -> String {
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    fields.sort();
    let mut data = url.to_string();
    for (name, value) in fields {
        data.push_str(&name);
        data.push_str(&value);
    }
    data
}

fn ledger_key(idempotency_key: &str) -> String {
    format!("call/{idempotency_key}")
}

enum Ledger {
    /// The POST began (to `to`, at `at_unix_ms`) and its answer is unknown.
    Posting { to: Option<String>, at_unix_ms: Option<u64> },
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
        _ => Ok(Some(Ledger::Posting {
            to: v["to"].as_str().map(str::to_string),
            at_unix_ms: v["at_unix_ms"].as_u64(),
        })),
    }
}

fn write_ledger(key: &str, entry: &Ledger) -> Result<(), DialError> {
    let json = match entry {
        Ledger::Posting { to, at_unix_ms } => {
            serde_json::json!({ "state": "posting", "to": to, "at_unix_ms": at_unix_ms })
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

/// Settles a `posting` entry through the provider's call list
/// ([`posting::find_call`]): the call it created (now recorded `placed`),
/// or `None` when it created none (the entry is removed, so the attempt may
/// be posted again). An entry written before it carried `to` cannot be
/// settled: "cannot tell".
fn settle_posting(
    cfg: &Config,
    key: &str,
    to: Option<String>,
    at_unix_ms: Option<u64>,
) -> Result<Option<String>, DialError> {
    let (Some(to), Some(at)) = (to, at_unix_ms) else {
        return Err(DialError::Transient(format!(
            "the request for {key} was interrupted; cannot tell whether a call was placed"
        )));
    };
    match posting::find_call(cfg, &to, at)? {
        Some(sid) => {
            log::info(format!("interrupted request for {key} had placed {sid}"));
            write_ledger(key, &Ledger::Placed(sid.clone()))?;
            Ok(Some(sid))
        }
        None => {
            store::delete(&ledger_key(key));
            Ok(None)
        }
    }
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
    fn validate_config(props: &Properties) -> Result<(), ConfigProblem> {
        validate(props)
    }

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
            Some(Ledger::Posting { to, at_unix_ms }) => {
                // Ask the provider whether the interrupted POST created it.
                if let Some(sid) = settle_posting(&cfg, &req.idempotency_key, to, at_unix_ms)? {
                    return Ok(Placement::Pending(sid));
                }
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
        let posting = Ledger::Posting {
            to: Some(req.to.clone()),
            at_unix_ms: Some(clock::now_unix_ms()),
        };
        write_ledger(&req.idempotency_key, &posting)?;
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

    fn lookup(props: &Properties, idempotency_key: &str) -> Result<Option<Placement>, DialError> {
        let cfg = Config::load(props)?;
        let sid = match read_ledger(idempotency_key)? {
            None => return Ok(None),
            Some(Ledger::Posting { to, at_unix_ms }) => {
                match settle_posting(&cfg, idempotency_key, to, at_unix_ms)? {
                    Some(sid) => sid,
                    None => return Ok(None),
                }
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
            Some(report) => Ok(Some(Placement::Finished(report))),
            // Still under way: the host waits for its callbacks.
            None => Ok(Some(Placement::Pending(sid))),
        }
    }

    fn parse_callback(
        props: &Properties,
        req: &CallbackRequest,
    ) -> Result<Option<CallEvent>, CallbackError> {
        verify_signature(props, req)?;
        twilio_status::parse(&req.body)
            .map(Some)
            .map_err(CallbackError::Malformed)
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

    fn full_config() -> Properties {
        [
            ("base_url", "https://api.twilio.com"),
            ("account_sid", "AC123"),
            ("auth_token", "12345"),
            ("from", "+15550001111"),
            ("twiml_url", "https://example.test/twiml"),
            ("status_callback", "https://dialplane.test/api/callbacks/t"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn without(key: &str) -> Properties {
        full_config()
            .into_iter()
            .filter(|(k, _)| k != key)
            .collect()
    }

    fn with(key: &str, value: &str) -> Properties {
        let mut p = without(key);
        p.push((key.into(), value.into()));
        p
    }

    #[test]
    fn validate_names_the_key() {
        assert_eq!(validate(&full_config()), Ok(()));
        for key in REQUIRED_KEYS {
            assert_eq!(validate(&without(key)).unwrap_err().key, key);
            assert_eq!(validate(&with(key, " ")).unwrap_err().key, key);
        }
        assert_eq!(
            validate(&with("base_url", "ftp://x")).unwrap_err().key,
            "base_url"
        );
        assert_eq!(
            validate(&with("base_url", "https://")).unwrap_err().key,
            "base_url"
        );
        assert_eq!(
            validate(&with("account_sid", "AC/1")).unwrap_err().key,
            "account_sid"
        );
        let slow = with("http_timeout_ms", "soon");
        assert_eq!(validate(&slow).unwrap_err().key, "http_timeout_ms");
        assert_eq!(validate(&with("http_timeout_ms", "2500")), Ok(()));
    }

    /// The example of Twilio's documentation ("Validating requests"):
    /// token 12345, this URL and these fields sign to this value.
    #[test]
    fn signature_matches_twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
        assert_eq!(
            signed_data(url, body),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212"
        );
        let req = |sig: Option<&str>| CallbackRequest {
            url: url.into(),
            headers: sig
                .map(|s| vec![("x-twilio-signature".to_string(), s.to_string())])
                .unwrap_or_default(),
            body: body.to_vec(),
        };
        let cfg = full_config();
        assert_eq!(
            verify_signature(&cfg, &req(Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ="))),
            Ok(())
        );
        for bad in [
            None,
            Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ"),
            Some("AAAA"),
            Some("!!"),
        ] {
            assert!(
                matches!(
                    verify_signature(&cfg, &req(bad)),
                    Err(CallbackError::Unauthenticated(_))
                ),
                "{bad:?}"
            );
        }
        let no_token = without("auth_token");
        assert!(matches!(
            verify_signature(&no_token, &req(Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ="))),
            Err(CallbackError::Unauthenticated(_))
        ));
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
