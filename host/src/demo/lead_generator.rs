//! Demo leads: spread over every sim-dialer outcome digit (the outcome is the
//! number's last digit, see `plugins/sim-dialer`) and over IANA time zones
//! picked for the *real* time of day, so the demo dials whenever it is run
//! without widening the calling window: most leads live in zones where it is
//! now inside the window, a few in zones where it is not (those are deferred
//! by the platform, and the summary says so), a few are on the DNC list.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::store::LeadInput;

/// Candidate zones, one per UTC offset from −10 to +14 (more or less, with
/// daylight saving): whatever the hour, about half of them are inside a
/// 09:00–20:00 window and the rest outside.
pub const DEMO_ZONES: &[&str] = &[
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
];

/// A zone counts as open only if it stays inside the window this long from
/// now, and as closed only if it stays outside this long: the demo's
/// classification must still hold when the run ends.
pub const ZONE_MARGIN_MINUTES: u32 = 45;

/// One lead in `DNC_EVERY` (offset [`DNC_OFFSET`]) goes on the do-not-call list.
pub const DNC_EVERY: usize = 97;
pub const DNC_OFFSET: usize = 13;
/// One lead in `CLOSED_EVERY` lives in a zone where it is outside the window now.
pub const CLOSED_EVERY: usize = 50;
const CLOSED_OFFSET: usize = 7;

/// A calling window in local minutes of the day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalWindow {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// The demo's zones for one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonePlan {
    /// Inside the window now and for the next [`ZONE_MARGIN_MINUTES`].
    pub open: Vec<&'static str>,
    /// Outside the window now and for the next [`ZONE_MARGIN_MINUTES`].
    pub closed: Vec<&'static str>,
}

/// Sorts [`DEMO_ZONES`] into open and closed at `now` (zones near an edge
/// of the window are left out).
pub fn plan_zones(now: DateTime<Utc>, window: LocalWindow) -> ZonePlan {
    let mut plan = ZonePlan {
        open: Vec::new(),
        closed: Vec::new(),
    };
    for &name in DEMO_ZONES {
        let tz: Tz = name.parse().expect("DEMO_ZONES are valid IANA names");
        let local = now.with_timezone(&tz);
        let minute = local.hour() * 60 + local.minute();
        let inside = |m: u32| {
            let m = m % 1440;
            m >= window.start_minute && m < window.end_minute
        };
        let stays_inside = inside(minute) && inside(minute + ZONE_MARGIN_MINUTES);
        let stays_outside = !inside(minute)
            && (0..=ZONE_MARGIN_MINUTES)
                .step_by(5)
                .all(|d| !inside(minute + d));
        if stays_inside {
            plan.open.push(name);
        } else if stays_outside {
            plan.closed.push(name);
        }
    }
    plan
}

/// A generated batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLeads {
    pub leads: Vec<LeadInput>,
    /// Phones to put on the tenant's do-not-call list.
    pub dnc: Vec<String>,
    /// How many leads are in a closed zone (and not on the DNC list).
    pub in_closed_zones: usize,
}

/// `n` leads with external ids `{prefix}-00001`…; numbers `+1415{i:07}`, so
/// the last digit (the sim outcome) cycles through 0–9. With `with_extras`,
/// one lead in [`CLOSED_EVERY`] goes to a closed zone and one in
/// [`DNC_EVERY`] on the DNC list; otherwise every lead is dialable now.
/// `number_base` keeps the numbers of two batches apart.
pub fn generate(
    prefix: &str,
    n: usize,
    number_base: u64,
    zones: &ZonePlan,
    with_extras: bool,
) -> DemoLeads {
    assert!(!zones.open.is_empty(), "plan_zones always finds open zones");
    let mut out = DemoLeads {
        leads: Vec::with_capacity(n),
        dnc: Vec::new(),
        in_closed_zones: 0,
    };
    for i in 0..n {
        let phone = format!("+1415{:07}", number_base + i as u64);
        let on_dnc = with_extras && i % DNC_EVERY == DNC_OFFSET;
        let closed =
            with_extras && !on_dnc && !zones.closed.is_empty() && i % CLOSED_EVERY == CLOSED_OFFSET;
        let timezone = if closed {
            out.in_closed_zones += 1;
            zones.closed[(i / CLOSED_EVERY) % zones.closed.len()]
        } else {
            // i / 10: each zone gets every outcome digit.
            zones.open[(i / 10) % zones.open.len()]
        };
        if on_dnc {
            out.dnc.push(phone.clone());
        }
        out.leads.push(LeadInput {
            external_id: format!("{prefix}-{:05}", i + 1),
            phone,
            name: Some(format!("Demo lead {}", i + 1)),
            timezone: Some(timezone.to_string()),
            attributes: BTreeMap::from([("source".to_string(), "demo".to_string())]),
            status: None,
            tags: vec!["demo".to_string(), prefix.to_lowercase()],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const WINDOW: LocalWindow = LocalWindow {
        start_minute: 9 * 60,
        end_minute: 20 * 60,
    };

    #[test]
    fn every_hour_of_the_day_has_open_and_closed_zones() {
        for h in 0..24 {
            for m in [0, 20, 40] {
                let now = Utc.with_ymd_and_hms(2026, 1, 15, h, m, 0).unwrap();
                let p = plan_zones(now, WINDOW);
                assert!(p.open.len() >= 4, "{now}: open {:?}", p.open);
                assert!(!p.closed.is_empty(), "{now}: nothing closed");
                let summer = Utc.with_ymd_and_hms(2026, 7, 15, h, m, 0).unwrap();
                assert!(plan_zones(summer, WINDOW).open.len() >= 4, "{summer}");
            }
        }
    }

    #[test]
    fn classification_follows_local_time() {
        // 12:00 UTC in January: London 12:00 (open), Tokyo 21:00 (closed).
        let p = plan_zones(Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap(), WINDOW);
        assert!(p.open.contains(&"Europe/London"));
        assert!(p.closed.contains(&"Asia/Tokyo"));
        // 19:30 London is within the margin of the window's end: neither.
        let p = plan_zones(
            Utc.with_ymd_and_hms(2026, 1, 15, 19, 30, 0).unwrap(),
            WINDOW,
        );
        assert!(!p.open.contains(&"Europe/London") && !p.closed.contains(&"Europe/London"));
    }

    #[test]
    fn leads_are_valid_and_cover_every_outcome_digit_zone_and_the_dnc_list() {
        let p = plan_zones(Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap(), WINDOW);
        let batch = generate("A", 1000, 0, &p, true);
        assert_eq!(batch.leads.len(), 1000);
        let mut digits = [0usize; 10];
        for l in &batch.leads {
            crate::leads_file::validate_phone(&l.phone).unwrap();
            crate::leads_file::validate_timezone(l.timezone.as_deref().unwrap()).unwrap();
            crate::store::check_lead_input(l).unwrap();
            digits[(l.phone.as_bytes()[l.phone.len() - 1] - b'0') as usize] += 1;
        }
        assert!(digits.iter().all(|&d| d == 100), "{digits:?}");
        let zones: std::collections::BTreeSet<_> = batch
            .leads
            .iter()
            .map(|l| l.timezone.clone().unwrap())
            .collect();
        assert!(zones.len() >= p.open.len(), "{zones:?}");
        let dnc = |i: usize| i % DNC_EVERY == DNC_OFFSET;
        assert_eq!(batch.dnc.len(), (0..1000).filter(|&i| dnc(i)).count());
        assert_eq!(
            batch.in_closed_zones,
            (0..1000)
                .filter(|&i| !dnc(i) && i % CLOSED_EVERY == CLOSED_OFFSET)
                .count()
        );
        assert!(batch.dnc.len() >= 10 && batch.in_closed_zones >= 15);
        let ids: std::collections::BTreeSet<_> =
            batch.leads.iter().map(|l| &l.external_id).collect();
        assert_eq!(ids.len(), 1000, "external ids are unique");
    }

    #[test]
    fn a_plain_batch_is_all_dialable_now() {
        let p = plan_zones(Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap(), WINDOW);
        let batch = generate("B", 300, 1000, &p, false);
        assert!(batch.dnc.is_empty() && batch.in_closed_zones == 0);
        assert!(
            batch
                .leads
                .iter()
                .all(|l| p.open.contains(&l.timezone.as_deref().unwrap()))
        );
        assert_eq!(batch.leads[0].phone, "+14150001000");
    }
}
