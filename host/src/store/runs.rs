//! [`RunStore`]: runs, jobs, attempts and workers (the run lifecycle).
//! Filled by the lifecycle work; both drivers implement it in `*/runs.rs`.

use async_trait::async_trait;

#[async_trait]
pub trait RunStore {}
