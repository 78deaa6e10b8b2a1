//! The REST routes of the Calls API, under `/2010-04-01/Accounts/{sid}`:
//! `POST Calls.json` (create, with the injected faults), `GET Calls.json`
//! (list, newest first, `?To=` / `?Status=`), `GET Calls/{sid}.json`
//! (fetch), `POST Calls/{sid}.json` (modify: `Status=completed|canceled`
//! hangs up). Every route takes HTTP basic auth `AccountSid:AuthToken`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::config::DEFAULT_RING_TIMEOUT_SECS;
use super::ledger::Placement;
use super::{Call, Shared, calls};

type Sim = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            get(list).post(create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{call}",
            get(fetch).post(modify),
        )
        .fallback(|| async { not_found() })
        .with_state(shared)
}

/// Twilio's date format (RFC 2822, `+0000`).
pub(crate) fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// Twilio's JSON error body.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
}

/// Basic auth with the configured credentials, and the path's account.
// The error is the 401 answer itself, returned as is by the handlers.
#[allow(clippy::result_large_err)]
fn authorize(sh: &Shared, headers: &HeaderMap, account: &str) -> Result<(), Response> {
    let expected = format!(
        "Basic {}",
        crate::fake_provider::base64(
            format!("{}:{}", sh.cfg.account_sid, sh.cfg.auth_token).as_bytes()
        )
    );
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        sh.update(|st| st.counters.unauthorized += 1);
        let mut resp = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Twilio API\"".parse().unwrap(),
        );
        return Err(resp);
    }
    if account != sh.cfg.account_sid {
        return Err(not_found());
    }
    Ok(())
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The call resource, as Twilio's JSON.
fn resource(account: &str, call: &Call) -> Value {
    let p = &call.placement;
    let uri = format!("/2010-04-01/Accounts/{account}/Calls/{}.json", p.sid);
    let answered_by = call
        .answered_at
        .and(p.machine_detection.then_some(()))
        .and(p.scenario.answered_by());
    json!({
        "sid": p.sid,
        "account_sid": account,
        "to": p.to,
        "to_formatted": p.to,
        "from": p.from,
        "from_formatted": p.from,
        "status": call.status,
        "direction": "outbound-api",
        "answered_by": answered_by,
        "duration": call.duration.map(|d| d.to_string()),
        "start_time": call.start_time.map(rfc2822),
        "end_time": call.end_time.map(rfc2822),
        "date_created": rfc2822(p.created_at),
        "date_updated": rfc2822(call.end_time.or(call.start_time).unwrap_or(p.created_at)),
        "api_version": "2010-04-01",
        "price": null,
        "price_unit": "USD",
        "parent_call_sid": null,
        "caller_name": null,
        "uri": uri,
        "subresource_uris": {},
    })
}

/// What the seed decides for one create request.
struct Draw {
    key: String,
    fault: f64,
    slow: Option<Duration>,
}

fn draw(sh: &Shared, to: &str) -> Draw {
    let n = sh.update(|st| {
        st.counters.create_requests += 1;
        let n = st.attempts.entry(to.to_string()).or_default();
        *n += 1;
        *n
    });
    let cfg = &sh.cfg;
    let key = format!("{to}#{n}");
    let slow = (cfg.roll(&key, "slow") < cfg.slow_fraction).then(|| {
        let (min, max) = cfg.slow_answer;
        min + max
            .saturating_sub(min)
            .mul_f64(cfg.roll(&key, "slow-delay"))
    });
    Draw {
        fault: cfg.roll(&key, "fault"),
        key,
        slow,
    }
}

async fn create(
    Path(account): Path<String>,
    sim: Sim,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sh = sim.0;
    if let Err(resp) = authorize(&sh, &headers, &account) {
        return resp;
    }
    let form = form(&body);
    let (Some(to), Some(from)) = (field(&form, "To"), field(&form, "From")) else {
        return error(
            StatusCode::BAD_REQUEST,
            21201,
            "No 'To' or 'From' number is specified",
        );
    };
    if field(&form, "Url").is_none() && field(&form, "Twiml").is_none() {
        return error(StatusCode::BAD_REQUEST, 21205, "Url parameter is required");
    }
    let draw = draw(&sh, to);
    let cfg = &sh.cfg;
    let answer = if draw.fault < cfg.rate_limit_fraction {
        sh.update(|st| st.counters.rate_limited += 1);
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, cfg.retry_after_secs.into());
        resp
    } else if draw.fault < cfg.rate_limit_fraction + cfg.server_error_fraction {
        sh.update(|st| st.counters.server_errors_before_place += 1);
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        )
    } else {
        place(&sh, &account, &draw.key, &form, &headers, to, from).await
    };
    if let Some(delay) = draw.slow {
        sh.update(|st| st.counters.slow_answers += 1);
        tokio::time::sleep(delay).await;
    }
    answer
}

/// Places the call: records it, starts (or, early-final, ends) it, answers.
async fn place(
    sh: &Arc<Shared>,
    account: &str,
    key: &str,
    form: &[(String, String)],
    headers: &HeaderMap,
    to: &str,
    from: &str,
) -> Response {
    let cfg = &sh.cfg;
    let sid = format!(
        "CA{:016x}{:016x}",
        cfg.hash(key, "sid-high"),
        cfg.hash(key, "sid-low")
    );
    let early_final = cfg.roll(key, "early-final") < cfg.early_final_fraction;
    let fail_after = cfg.roll(key, "fault-after") < cfg.server_error_after_place_fraction;
    let events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
        .collect();
    let hint = ["idempotency-key", "i-twilio-idempotency-token"]
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok())
        .map(str::to_string);
    let call = Call {
        placement: Placement {
            sid: sid.clone(),
            to: to.to_string(),
            from: from.to_string(),
            idempotency_hint: hint,
            created_at: Utc::now(),
            scenario: cfg.scenario_for(to),
            status_callback: field(form, "StatusCallback").map(str::to_string),
            machine_detection: field(form, "MachineDetection").is_some(),
            duplicates: cfg.roll(key, "duplicates") < cfg.duplicate_fraction,
            out_of_order: !early_final && cfg.roll(key, "out-of-order") < cfg.out_of_order_fraction,
            early_final,
            create_answer: if fail_after { 500 } else { 201 },
            final_status: None,
            hangups: Vec::new(),
            callbacks: Vec::new(),
            done: false,
        },
        status: "queued",
        answered_at: None,
        start_time: None,
        end_time: None,
        duration: None,
        ended: false,
        hangup_pending: false,
        timeout_secs: field(form, "Timeout")
            .and_then(|t| t.parse().ok())
            .unwrap_or(DEFAULT_RING_TIMEOUT_SECS),
        // Twilio's default: only the final event.
        events: if events.is_empty() {
            vec!["completed".into()]
        } else {
            events
        },
        next_sequence: 0,
        wake: Arc::new(Notify::new()),
    };
    let answer = resource(account, &call);
    let idx = sh.update(|st| {
        st.counters.placed += 1;
        if fail_after {
            st.counters.server_errors_after_place += 1;
        }
        st.calls.push(call);
        st.index.insert(sid, st.calls.len() - 1);
        st.calls.len() - 1
    });
    if early_final {
        // A task of its own: the provider delivers the callback even if
        // the client that created the call goes away (a killed worker);
        // the create answer still waits for it.
        let sh2 = sh.clone();
        let task = tokio::spawn(async move { calls::early_final(&sh2, idx).await });
        sh.update(|st| st.tasks.push(task.abort_handle()));
        let _ = task.await;
    } else {
        let task = tokio::spawn(calls::run(sh.clone(), idx));
        sh.update(|st| st.tasks.push(task.abort_handle()));
    }
    if fail_after {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        );
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// `{call}` is `<sid>.json`.
fn call_index(sh: &Shared, call: &str) -> Option<usize> {
    let sid = call.strip_suffix(".json")?;
    sh.state.lock().unwrap().index.get(sid).copied()
}

async fn fetch(
    Path((account, call)): Path<(String, String)>,
    sim: Sim,
    headers: HeaderMap,
) -> Response {
    let sh = sim.0;
    if let Err(resp) = authorize(&sh, &headers, &account) {
        return resp;
    }
    let Some(idx) = call_index(&sh, &call) else {
        return not_found();
    };
    let body = resource(&account, &sh.state.lock().unwrap().calls[idx]);
    axum::Json(body).into_response()
}

async fn modify(
    Path((account, call)): Path<(String, String)>,
    sim: Sim,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sh = sim.0;
    if let Err(resp) = authorize(&sh, &headers, &account) {
        return resp;
    }
    let Some(idx) = call_index(&sh, &call) else {
        return not_found();
    };
    let form = form(&body);
    let requested = field(&form, "Status");
    if let Some(status) = requested
        && !matches!(status, "completed" | "canceled")
    {
        return error(
            StatusCode::BAD_REQUEST,
            21218,
            &format!("Invalid Status {status:?}: use completed or canceled"),
        );
    }
    let body = sh.update(|st| {
        st.counters.hangup_requests += u32::from(requested.is_some());
        let call = &mut st.calls[idx];
        if let Some(status) = requested {
            calls::hang_up(&sh.cfg, call, status);
        }
        resource(&account, call)
    });
    axum::Json(body).into_response()
}

async fn list(
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    sim: Sim,
    headers: HeaderMap,
) -> Response {
    let sh = sim.0;
    if let Err(resp) = authorize(&sh, &headers, &account) {
        return resp;
    }
    let st = sh.state.lock().unwrap();
    let calls: Vec<Value> = st
        .calls
        .iter()
        .rev()
        .filter(|c| query.get("To").is_none_or(|to| &c.placement.to == to))
        .filter(|c| query.get("Status").is_none_or(|s| c.status == s))
        .map(|c| resource(&account, c))
        .collect();
    let uri = format!("/2010-04-01/Accounts/{account}/Calls.json");
    axum::Json(json!({
        "calls": calls,
        "page": 0,
        "page_size": calls.len().max(50),
        "start": 0,
        "end": calls.len().saturating_sub(1),
        "uri": uri,
        "first_page_uri": uri,
        "next_page_uri": null,
        "previous_page_uri": null,
    }))
    .into_response()
}
