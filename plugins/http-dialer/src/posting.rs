//! Settling a placement whose `POST Calls.json` never answered (the worker
//! died mid-request, a timeout, a 5xx): the ledger says `posting`, and only
//! the provider knows whether a call was created. Twilio has no idempotency
//! key, but it lists calls by number: a call to the same `To` created since
//! the POST began is this attempt's (the host never runs two attempts of one
//! lead at once). One such call → it was placed; none → it never was, and
//! the attempt may be posted again; several → cannot tell.

use dialplane_guest::DialError;
use wasip2::http::types::Method;

use super::{Config, provider_error};

/// Provider clocks differ from ours by this much at most; `date_created`
/// has whole seconds.
pub const CLOCK_SKEW_SECS: i64 = 5;
/// Calls listed per query: far more than one number gets in a few seconds.
const PAGE_SIZE: u32 = 50;

/// The sid of the call to `to` created since `since_unix_ms`, if exactly
/// one exists; `None` if none does.
pub fn find_call(cfg: &Config, to: &str, since_unix_ms: u64) -> Result<Option<String>, DialError> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", to)
        .append_pair("PageSize", &PAGE_SIZE.to_string())
        .finish();
    let resp = cfg
        .request(Method::Get, &format!("{}.json?{query}", cfg.calls_path()), None)
        .map_err(|e| DialError::Transient(e.message))?;
    if !(200..300).contains(&resp.status) {
        return Err(provider_error(&resp));
    }
    let json: serde_json::Value = serde_json::from_slice(&resp.body)
        .map_err(|e| DialError::Transient(format!("call list is not JSON: {e}")))?;
    let since = (since_unix_ms / 1000) as i64 - CLOCK_SKEW_SECS;
    let calls = json["calls"].as_array().cloned().unwrap_or_default();
    let mut found: Vec<String> = Vec::new();
    for c in &calls {
        let created = c["date_created"].as_str().and_then(rfc2822_unix_secs);
        let sid = c["sid"].as_str();
        match (created, sid) {
            (Some(t), Some(sid)) if t >= since => found.push(sid.to_string()),
            (Some(_), Some(_)) => {}
            _ => {
                return Err(DialError::Transient(format!(
                    "call list entry without a sid or a readable date_created: {c}"
                )));
            }
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(DialError::Transient(format!(
            "{n} calls to {to} since the interrupted request; cannot tell which is this attempt's"
        ))),
    }
}

/// `Mon, 30 Nov 2026 19:52:47 +0000` → seconds since the epoch.
pub fn rfc2822_unix_secs(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let first = parts.next()?;
    // The weekday is optional.
    let day = if first.ends_with(',') {
        parts.next()?
    } else {
        first
    };
    let day: i64 = day.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, sec): (i64, i64, i64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next().unwrap_or("0").parse().ok()?,
    );
    let offset = match parts.next() {
        None | Some("GMT" | "UT" | "UTC" | "Z") => 0,
        Some(z) if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let hh: i64 = z[1..3].parse().ok()?;
            let mm: i64 = z[3..5].parse().ok()?;
            let v = hh * 3600 + mm * 60;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twilio_dates() {
        assert_eq!(rfc2822_unix_secs("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(
            rfc2822_unix_secs("Mon, 30 Nov 2026 19:52:47 +0000"),
            Some(1_796_068_367)
        );
        assert_eq!(
            rfc2822_unix_secs("Mon, 30 Nov 2026 20:52:47 +0100"),
            Some(1_796_068_367)
        );
        assert_eq!(rfc2822_unix_secs("29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
        for bad in ["", "Mon, 30 Foo 2026 19:52:47 +0000", "Mon, 30 Nov 2026", "x"] {
            assert_eq!(rfc2822_unix_secs(bad), None, "{bad}");
        }
    }
}
