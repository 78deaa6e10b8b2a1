//! The domain's value types: ids, statuses, settings and the records that
//! every layer passes around. A leaf: it imports nothing from the rest of
//! the crate, so `store/`, `runtime/` and `config` can use these types
//! without depending on `lifecycle/` or `api/` (the `layering` test holds
//! them to that).
//!
//! Module map:
//!
//! - [`ids`]: `TenantId`, `ApiKeyId`, `RunId`, `JobId`, `LeadId`,
//!   `LeaseGeneration` and `WorkerId` newtypes; plain numbers/strings in JSON and SQL.
//! - [`lease`]: [`Lease`], the run + generation + worker a fenced write presents.
//! - [`status`]: [`RunStatus`], [`JobStatus`] and [`CallState`], each with
//!   its stored names defined once.
//! - [`settings`]: [`RunSettings`], [`CancelMode`] and the per-run defaults.
//! - [`calling_window`]: [`CallingWindow`], the local hours a lead may be called.
//! - [`lead`]: [`Lead`] and [`Properties`] (the WIT `lead` record).
//! - [`call_report`]: [`CallReport`] and [`Outcome`] (how a call ended).
//! - [`call_event`]: [`CallEvent`], one provider event about a call.
//! - `layering` (tests only): fails naming file and line when `store/`,
//!   `runtime/`, `config.rs` or `model/` reach into `lifecycle/` or `api/`.

pub mod call_event;
pub mod call_report;
pub mod calling_window;
pub mod ids;
#[cfg(test)]
mod layering;
pub mod lead;
pub mod lease;
pub mod settings;
pub mod status;

pub use call_event::CallEvent;
pub use call_report::{AnsweredBy, CallReport, Outcome};
pub use calling_window::CallingWindow;
pub use ids::{ApiKeyId, JobId, LeadId, LeaseGeneration, RunId, TenantId, WorkerId};
pub use lead::{Lead, Properties};
pub use lease::Lease;
pub use settings::{CancelMode, RunSettings};
pub use status::{CallState, JobStatus, RunStatus, UnknownName};
