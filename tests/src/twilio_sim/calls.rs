//! A call's life: its timeline of status changes on the scaled clock,
//! hang-ups, and the status callbacks (signed, retried, possibly duplicated
//! or reordered) that report them.

use std::sync::Arc;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::config::{Scenario, TwilioSimConfig};
use super::ledger::{CallbackSent, Hangup};
use super::{Call, Shared};

/// One step of a call's timeline.
enum Step {
    /// Simulated seconds (cut short by a hang-up).
    Wait(u32),
    Emit(&'static str),
}

fn timeline(cfg: &TwilioSimConfig, scenario: Scenario, ring_timeout_secs: u32) -> Vec<Step> {
    use Step::{Emit, Wait};
    let setup = Wait(cfg.setup_secs);
    match scenario {
        Scenario::Completed { .. } => vec![
            setup,
            Emit("initiated"),
            Emit("ringing"),
            Wait(cfg.ring_secs),
            Emit("in-progress"),
            Wait(cfg.talk_secs),
            Emit("completed"),
        ],
        Scenario::Busy => vec![setup, Emit("initiated"), Wait(1), Emit("busy")],
        Scenario::NoAnswer => vec![
            setup,
            Emit("initiated"),
            Emit("ringing"),
            Wait(ring_timeout_secs),
            Emit("no-answer"),
        ],
        Scenario::Failed { .. } => vec![setup, Emit("failed")],
        Scenario::AnsweredUntilHangup => vec![
            setup,
            Emit("initiated"),
            Emit("ringing"),
            Wait(cfg.ring_secs),
            Emit("in-progress"),
            Wait(cfg.max_call_secs),
            Emit("completed"),
        ],
        Scenario::RingsUntilHangup => vec![
            setup,
            Emit("initiated"),
            Emit("ringing"),
            Wait(cfg.max_call_secs),
            Emit("no-answer"),
        ],
    }
}

/// `CallDuration` of a call that ended on its own.
fn natural_duration(cfg: &TwilioSimConfig, scenario: Scenario) -> u32 {
    match scenario {
        Scenario::Completed { .. } => cfg.talk_secs,
        Scenario::AnsweredUntilHangup => cfg.max_call_secs,
        _ => 0,
    }
}

fn is_final(status: &str) -> bool {
    !matches!(status, "queued" | "initiated" | "ringing" | "in-progress")
}

/// The `StatusCallbackEvent` that subscribes to `status`.
fn event_name(status: &str) -> &'static str {
    match status {
        "initiated" => "initiated",
        "ringing" => "ringing",
        "in-progress" => "answered",
        _ => "completed",
    }
}

/// Moves the call to `status` (at a final status: ended, with `duration`).
fn transition(call: &mut Call, status: &'static str, duration: u32) {
    let now = Utc::now();
    call.status = status;
    match status {
        "initiated" => call.start_time = Some(now),
        "in-progress" => call.answered_at = Some(tokio::time::Instant::now()),
        _ => {}
    }
    if is_final(status) {
        call.ended = true;
        call.end_time = Some(now);
        call.duration = Some(duration);
        call.placement.final_status = Some(status.to_string());
    }
}

/// A status callback ready to send.
struct Outbound {
    url: String,
    fields: Vec<(String, String)>,
    status: &'static str,
    sequence: u32,
}

/// The callback for the call's current status, if it has a `StatusCallback`
/// subscribed to this event.
fn outbound(cfg: &TwilioSimConfig, call: &mut Call) -> Option<Outbound> {
    let url = call.placement.status_callback.clone()?;
    let status = call.status;
    if !call.events.iter().any(|e| e == event_name(status)) {
        return None;
    }
    let sequence = call.next_sequence;
    call.next_sequence += 1;
    let p = &call.placement;
    let mut fields: Vec<(String, String)> = [
        ("AccountSid", cfg.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", &p.sid),
        ("CallStatus", status),
        ("Called", &p.to),
        ("Caller", &p.from),
        ("CallbackSource", "call-progress-events"),
        ("Direction", "outbound-api"),
        ("From", &p.from),
        ("To", &p.to),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut add = |k: &str, v: String| fields.push((k.to_string(), v));
    add("SequenceNumber", sequence.to_string());
    add("Timestamp", super::api::rfc2822(Utc::now()));
    if is_final(status) {
        add("CallDuration", call.duration.unwrap_or(0).to_string());
    }
    if p.machine_detection
        && matches!(status, "in-progress" | "completed")
        && let Some(by) = p.scenario.answered_by()
    {
        add("AnsweredBy", by.to_string());
    }
    if let (Scenario::Failed { sip }, "failed") = (p.scenario, status) {
        add("SipResponseCode", sip.to_string());
    }
    Some(Outbound {
        url,
        fields,
        status,
        sequence,
    })
}

/// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, the full
/// callback URL followed by every field's name and value, sorted by name)).
pub fn signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    crate::fake_provider::base64(&mac.finalize().into_bytes())
}

/// Posts one callback, retrying on 5xx or no answer, recording each answer.
async fn deliver(sh: &Shared, idx: usize, ob: &Outbound, duplicate: bool, late: bool) {
    let record = sh.update(|st| {
        let callbacks = &mut st.calls[idx].placement.callbacks;
        callbacks.push(CallbackSent {
            status: ob.status.to_string(),
            sequence_number: ob.sequence,
            duplicate,
            late,
            answers: Vec::new(),
        });
        callbacks.len() - 1
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&ob.fields)
        .finish();
    let sig = signature(&sh.cfg.auth_token, &ob.url, &ob.fields);
    let sid = sh.state.lock().unwrap().calls[idx].placement.sid.clone();
    for attempt in 0..sh.cfg.callback_attempts {
        if attempt > 0 {
            tokio::time::sleep(sh.cfg.callback_retry_delay).await;
        }
        let answer = sh
            .client
            .post(&ob.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", &sig)
            .header(
                "i-twilio-idempotency-token",
                format!("{sid}-{}", ob.sequence),
            )
            .header("user-agent", "TwilioProxy/1.1")
            .body(body.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string());
        let retry = !matches!(answer, Ok(s) if s < 500);
        sh.update(|st| {
            st.calls[idx].placement.callbacks[record]
                .answers
                .push(answer)
        });
        if !retry {
            break;
        }
    }
}

/// Sends `ob` once, or twice for a call chosen for duplicates.
async fn send(sh: &Shared, idx: usize, ob: &Outbound, twice: bool, late: bool) {
    deliver(sh, idx, ob, false, late).await;
    if twice {
        deliver(sh, idx, ob, true, late).await;
    }
}

fn finish(sh: &Shared, idx: usize) {
    sh.update(|st| st.calls[idx].placement.done = true);
}

/// The final callback of a hang-up that has not been sent yet.
fn take_hangup_final(sh: &Shared, idx: usize) -> Option<Option<Outbound>> {
    sh.update(|st| {
        let call = &mut st.calls[idx];
        if !call.hangup_pending {
            return None;
        }
        call.hangup_pending = false;
        Some(outbound(&sh.cfg, call))
    })
}

/// Plays the call out (the task spawned on create).
pub(crate) async fn run(sh: Arc<Shared>, idx: usize) {
    let (steps, twice, out_of_order, wake) = {
        let st = sh.state.lock().unwrap();
        let call = &st.calls[idx];
        let p = &call.placement;
        (
            timeline(&sh.cfg, p.scenario, call.timeout_secs),
            p.duplicates,
            p.out_of_order,
            call.wake.clone(),
        )
    };
    let natural = natural_duration(
        &sh.cfg,
        sh.state.lock().unwrap().calls[idx].placement.scenario,
    );
    let mut held_back = None;
    for step in steps.into_iter().map(Some).chain([None]) {
        if let Some(last) = take_hangup_final(&sh, idx) {
            // After a hang-up: its final callback, once, and nothing else.
            if let Some(ob) = last {
                deliver(&sh, idx, &ob, false, false).await;
            }
            return finish(&sh, idx);
        }
        match step {
            None => break,
            Some(Step::Wait(secs)) => {
                tokio::select! {
                    _ = tokio::time::sleep(sh.cfg.scaled(secs)) => {}
                    _ = wake.notified() => {}
                }
            }
            Some(Step::Emit(status)) => {
                let ob = sh.update(|st| {
                    let call = &mut st.calls[idx];
                    if call.ended {
                        return None; // hung up meanwhile: the loop's top sends it
                    }
                    transition(call, status, natural);
                    outbound(&sh.cfg, call)
                });
                let Some(ob) = ob else { continue };
                if out_of_order && status == "ringing" && held_back.is_none() {
                    held_back = Some(ob);
                    continue;
                }
                send(&sh, idx, &ob, twice, false).await;
            }
        }
    }
    if let Some(ob) = held_back {
        send(&sh, idx, &ob, twice, true).await;
    }
    finish(&sh, idx);
}

/// Ends the call at once and sends its final callback (awaiting the
/// answer): for an early-final call, before the create request is answered.
pub(crate) async fn early_final(sh: &Shared, idx: usize) {
    let (ob, twice) = sh.update(|st| {
        let call = &mut st.calls[idx];
        let scenario = call.placement.scenario;
        transition(
            call,
            scenario.final_status(),
            natural_duration(&sh.cfg, scenario),
        );
        (outbound(&sh.cfg, call), call.placement.duplicates)
    });
    if let Some(ob) = ob {
        send(sh, idx, &ob, twice, false).await;
    }
    finish(sh, idx);
}

/// A modify request: ends a live call (`completed` once answered, else
/// `canceled`) and wakes its task to send the final callback.
pub(crate) fn hang_up(cfg: &TwilioSimConfig, call: &mut Call, requested: &str) -> Hangup {
    let status_before = call.status.to_string();
    let ended_call = !call.ended;
    if ended_call {
        match call.answered_at {
            Some(at) => {
                let secs = at.elapsed().as_secs_f64() / cfg.time_scale.as_secs_f64().max(1e-9);
                transition(call, "completed", secs.ceil() as u32);
            }
            None => transition(call, "canceled", 0),
        }
        call.hangup_pending = true;
        call.wake.notify_one();
    }
    let hangup = Hangup {
        sid: call.placement.sid.clone(),
        requested: requested.to_string(),
        at: Utc::now(),
        status_before,
        ended_call,
    };
    call.placement.hangups.push(hangup.clone());
    hangup
}
