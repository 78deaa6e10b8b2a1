//! A run's settings. The types live in [`crate::model::settings`], where
//! `store/` can use them without depending on `lifecycle/`; re-exported here
//! so `lifecycle::settings::…` paths keep working.

pub use crate::model::settings::{CancelMode, RunSettings};
