//! Wall-clock helpers over WASI's clock (the only clock a plugin has).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from `wasi:clocks/wall-clock`.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Today's UTC date as `YYYY-MM-DD`.
pub fn utc_date() -> String {
    date_of_unix_ms(now_unix_ms())
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp in milliseconds.
pub fn date_of_unix_ms(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-since-epoch → (year, month, day) algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_of_unix_ms(0), "1970-01-01");
        assert_eq!(date_of_unix_ms(951_782_400_000), "2000-02-29");
        assert_eq!(date_of_unix_ms(1_767_225_599_000), "2025-12-31");
    }
}
