//! The domain's value types: ids, statuses, settings and the records that
//! every layer passes around. A leaf: it imports nothing from the rest of
//! the crate, so `store/`, `runtime/` and `config` can use these types
//! without depending on `lifecycle/` or `api/`.
//!
//! Module map:
//!
//! - [`ids`]: `TenantId`, `RunId`, `JobId`, `LeadId`, `LeaseGeneration` and
//!   `WorkerId` newtypes; plain numbers/strings in JSON and SQL.
//! - [`lease`]: [`Lease`], the run + generation + worker a fenced write presents.
//! - [`status`]: [`RunStatus`], [`JobStatus`] and [`CallState`], each with
//!   its stored names defined once.

pub mod ids;
pub mod lease;
pub mod status;

pub use ids::{JobId, LeadId, LeaseGeneration, RunId, TenantId, WorkerId};
pub use lease::Lease;
pub use status::{CallState, JobStatus, RunStatus, UnknownName};
