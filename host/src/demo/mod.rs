//! The parts of `dialplane demo` (the command itself is [`crate::cli::demo`]):
//!
//! - [`lead_generator`]: demo leads over every sim-dialer outcome digit and
//!   several IANA time zones chosen for the real time of day, a few on the
//!   do-not-call list.
//! - [`progress`]: a live progress bar on a terminal, plain periodic lines
//!   otherwise (CI logs, pipes).
//! - [`sim_ledger`]: counts the calls the sim dialer really placed, from its
//!   own ledger in the tenant store, independently of the host's bookkeeping.
//! - [`run_report`]: one run's facts for the summary, from the database and
//!   the ledger.
//! - [`summary`]: the closing table, or its JSON (`demo --json`).

pub mod lead_generator;
pub mod progress;
pub mod run_report;
pub mod sim_ledger;
pub mod summary;
