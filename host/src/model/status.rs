//! The state machines of runs, jobs and calls, each defined once. The names
//! are what the database stores and the API shows; `store/` maps the text
//! columns to these enums (a bad value there is a corrupt row).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A status name that is not one of the enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    /// Which enum was asked, e.g. `run status`.
    pub kind: &'static str,
    pub name: String,
}

/// Gives a status enum `ALL`, a `const fn as_str`, `FromStr` and `Display`
/// from one variant/name table, so the names cannot drift between them.
macro_rules! named_variants {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in state-machine order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name stored in SQL and shown by the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(UnknownName { kind: $kind, name: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Run states: `queued → running → completed | cancelled | failed`, and
/// `running → paused → queued` (pause, then resume). `paused` is not a
/// stored value: the database keeps a paused run as `queued` with
/// `pause_requested` (migration 0010 says why) and the run columns read it
/// back as `paused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Paused,
    Completed,
    Cancelled,
    Failed,
}

named_variants!(RunStatus, "run status", {
    Queued => "queued",
    Running => "running",
    Paused => "paused",
    Completed => "completed",
    Cancelled => "cancelled",
    Failed => "failed",
});

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Cancelled | RunStatus::Failed
        )
    }
}

/// Job states: `queued → dialing → completed | failed | skipped | cancelled | interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Dialing,
    Completed,
    Failed,
    Skipped,
    Cancelled,
    Interrupted,
}

named_variants!(JobStatus, "job status", {
    Queued => "queued",
    Dialing => "dialing",
    Completed => "completed",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
    Interrupted => "interrupted",
});

/// Progress of one call at the provider (`attempts.call_state`; the WIT
/// `call-state`); ordered, only moves forward: a late `ringing` after
/// `answered` is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    Queued,
    Ringing,
    Answered,
    Ended,
}

named_variants!(CallState, "call state", {
    Queued => "queued",
    Ringing => "ringing",
    Answered => "answered",
    Ended => "ended",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` and `from_str` invert each other, and serde writes the same
    /// name (the API's JSON and the SQL text agree).
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy + fmt::Debug + PartialEq + FromStr<Err = UnknownName> + Serialize,
    {
        for &v in all {
            let name = as_str(v);
            assert_eq!(name.parse::<T>(), Ok(v), "{name}");
            assert_eq!(serde_json::to_value(v).unwrap(), name, "{v:?}");
        }
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        round_trips(RunStatus::ALL, RunStatus::as_str);
        round_trips(JobStatus::ALL, JobStatus::as_str);
        round_trips(CallState::ALL, CallState::as_str);
        assert_eq!(RunStatus::ALL.len(), 6);
        assert_eq!(JobStatus::ALL.len(), 7);
        assert_eq!(CallState::ALL.len(), 4);
    }

    #[test]
    fn unknown_names_are_refused_with_the_kind() {
        let err = "suspended".parse::<RunStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown run status \"suspended\"");
        assert!("Queued".parse::<JobStatus>().is_err());
        assert!("".parse::<CallState>().is_err());
    }

    #[test]
    fn call_state_order_is_the_state_machine() {
        assert!(CallState::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn terminal_runs() {
        let terminal: Vec<_> = RunStatus::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                &RunStatus::Completed,
                &RunStatus::Cancelled,
                &RunStatus::Failed
            ]
        );
    }
}
