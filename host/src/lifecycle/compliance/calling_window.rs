//! The calling window, judged in the lead's local time. A plugin cannot
//! widen it: the plan step (`lifecycle::steps::plan`) asks this module after the flow's `plan`.
//!
//! A lead whose time zone is unknown is dialed only if its phone number's
//! country code maps to exactly one time zone; otherwise it is not dialed
//! (calling someone at 03:00 because we guessed wrong is the failure this
//! guards against).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The window itself is a value type in `model`; re-exported so
/// `compliance::calling_window::CallingWindow` keeps working.
pub use crate::model::CallingWindow;

/// The verdict, with what it was based on (recorded on the attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowVerdict {
    /// Inside the window.
    Open { tz: String, local: String },
    /// Outside: try again at `until` (the next opening).
    Closed {
        tz: String,
        local: String,
        until: DateTime<Utc>,
    },
    /// No time zone known or inferable: never dial.
    UnknownTimezone { reason: String },
}

/// Where the lead is, as far as we can tell.
pub fn lead_timezone(timezone: Option<&str>, phone: &str) -> Result<Tz, String> {
    match timezone.map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| format!("time zone {name:?} is not an IANA zone")),
        None => infer_from_phone(phone).ok_or_else(|| {
            format!("no time zone given and country code of {phone} does not map to exactly one")
        }),
    }
}

/// Country calling codes that cover exactly one IANA zone. Codes of
/// multi-zone countries (+1, +7, +61, +55, +52, +34 with the Canaries, …)
/// are deliberately absent.
const SINGLE_ZONE_CODES: &[(&str, &str)] = &[
    ("+44", "Europe/London"),
    ("+33", "Europe/Paris"),
    ("+49", "Europe/Berlin"),
    ("+39", "Europe/Rome"),
    ("+31", "Europe/Amsterdam"),
    ("+32", "Europe/Brussels"),
    ("+41", "Europe/Zurich"),
    ("+43", "Europe/Vienna"),
    ("+45", "Europe/Copenhagen"),
    ("+46", "Europe/Stockholm"),
    ("+47", "Europe/Oslo"),
    ("+48", "Europe/Warsaw"),
    ("+353", "Europe/Dublin"),
    ("+358", "Europe/Helsinki"),
    ("+420", "Europe/Prague"),
    ("+36", "Europe/Budapest"),
    ("+30", "Europe/Athens"),
    ("+81", "Asia/Tokyo"),
    ("+82", "Asia/Seoul"),
    ("+65", "Asia/Singapore"),
    ("+91", "Asia/Kolkata"),
    ("+86", "Asia/Shanghai"),
];

fn infer_from_phone(phone: &str) -> Option<Tz> {
    // Longest prefix wins (+353 before +35x…); codes are prefix-free in E.164.
    SINGLE_ZONE_CODES
        .iter()
        .filter(|(code, _)| phone.starts_with(code))
        .max_by_key(|(code, _)| code.len())
        .and_then(|(_, tz)| tz.parse().ok())
}

/// Is `now` inside `window` for a lead in `timezone` (or inferred from `phone`)?
pub fn check(
    window: CallingWindow,
    timezone: Option<&str>,
    phone: &str,
    now: DateTime<Utc>,
) -> WindowVerdict {
    let tz = match lead_timezone(timezone, phone) {
        Ok(tz) => tz,
        Err(reason) => return WindowVerdict::UnknownTimezone { reason },
    };
    let local = now.with_timezone(&tz);
    let local_str = local.format("%Y-%m-%d %H:%M %Z").to_string();
    let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
    if minute >= window.start_minute && minute < window.end_minute {
        return WindowVerdict::Open {
            tz: tz.name().to_string(),
            local: local_str,
        };
    }
    let start = NaiveTime::from_hms_opt(window.start_minute / 60, window.start_minute % 60, 0)
        .unwrap_or(NaiveTime::MIN);
    let today = local.date_naive();
    let day = if minute < window.start_minute {
        today
    } else {
        today + Duration::days(1)
    };
    // `earliest()` handles a DST gap at the opening time by taking the
    // first valid instant after it.
    let until = (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&day.and_time(start + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + Duration::hours(1));
    WindowVerdict::Closed {
        tz: tz.name().to_string(),
        local: local_str,
        until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn open_inside_window_in_lead_time() {
        // 14:00 UTC = 09:00 in New York (EST, UTC-5) in January.
        let v = check(
            CallingWindow::default(),
            Some("America/New_York"),
            "+12125550100",
            at("2026-01-15T14:00:00Z"),
        );
        assert!(matches!(v, WindowVerdict::Open { ref tz, .. } if tz == "America/New_York"));
    }

    #[test]
    fn closed_defers_to_next_local_opening() {
        // 03:00 in New York → next opening 09:00 same day = 14:00 UTC.
        let v = check(
            CallingWindow::default(),
            Some("America/New_York"),
            "+12125550100",
            at("2026-01-15T08:00:00Z"),
        );
        assert_eq!(
            v,
            WindowVerdict::Closed {
                tz: "America/New_York".into(),
                local: "2026-01-15 03:00 EST".into(),
                until: at("2026-01-15T14:00:00Z"),
            }
        );
        // 21:00 in New York → tomorrow 09:00.
        let v = check(
            CallingWindow::default(),
            Some("America/New_York"),
            "+12125550100",
            at("2026-01-16T02:00:00Z"),
        );
        assert!(
            matches!(v, WindowVerdict::Closed { until, .. } if until == at("2026-01-16T14:00:00Z"))
        );
    }

    #[test]
    fn unknown_timezone_is_not_dialed_unless_unambiguous() {
        let v = check(CallingWindow::default(), None, "+12125550100", Utc::now());
        assert!(matches!(v, WindowVerdict::UnknownTimezone { .. }));
        let v = check(
            CallingWindow::default(),
            None,
            "+442071234567",
            at("2026-01-15T12:00:00Z"),
        );
        assert!(matches!(v, WindowVerdict::Open { ref tz, .. } if tz == "Europe/London"));
        let v = check(
            CallingWindow::default(),
            Some("Mars/Olympus"),
            "+442071234567",
            Utc::now(),
        );
        assert!(matches!(v, WindowVerdict::UnknownTimezone { .. }));
    }
}
