//! [`CallingWindow`]: the local hours during which a lead may be called.
//! Judging a lead against it (time zones, inference from the phone number)
//! is compliance policy and lives in `lifecycle::compliance::calling_window`.

use serde::{Deserialize, Serialize};

/// Minutes in a day: the window's `end_minute` may equal it ("until midnight").
const MINUTES_PER_DAY: u32 = 24 * 60;

/// Local hours during which leads may be called (09:00–20:00).
pub const CALLING_WINDOW_DEFAULT: CallingWindow = CallingWindow {
    start_minute: 9 * 60,
    end_minute: 20 * 60,
};

/// Local hours during which a lead may be called: `[start, end)` in minutes
/// after local midnight. `end = 1440` means "until midnight".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingWindow {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl Default for CallingWindow {
    fn default() -> Self {
        CALLING_WINDOW_DEFAULT
    }
}

impl CallingWindow {
    /// Parses `HH:MM-HH:MM` (end may be `24:00`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("calling_window must look like 09:00-20:00, got {s:?}"))?;
        let w = CallingWindow {
            start_minute: parse_hhmm(a.trim())?,
            end_minute: parse_hhmm(b.trim())?,
        };
        w.validate()?;
        Ok(w)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.start_minute >= self.end_minute || self.end_minute > MINUTES_PER_DAY {
            return Err(format!(
                "calling_window start must be before end within one day, got {}",
                self
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for CallingWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("calling_window time must be HH:MM, got {s:?}"))?;
    let h: u32 = h
        .parse()
        .map_err(|_| format!("calling_window hour must be a number, got {h:?}"))?;
    let m: u32 = m
        .parse()
        .map_err(|_| format!("calling_window minute must be a number, got {m:?}"))?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(format!("calling_window time out of range: {s:?}"));
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_validate() {
        assert_eq!(
            CallingWindow::parse("00:00-24:00").unwrap(),
            CallingWindow {
                start_minute: 0,
                end_minute: 1440
            }
        );
        assert!(CallingWindow::parse("20:00-09:00").is_err());
        assert!(CallingWindow::parse("9-20").is_err());
    }

    #[test]
    fn display_is_what_parse_reads() {
        let w = CallingWindow::default();
        assert_eq!(w.to_string(), "09:00-20:00");
        assert_eq!(CallingWindow::parse(&w.to_string()).unwrap(), w);
    }
}
