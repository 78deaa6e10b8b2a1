//! The HTTP API (axum routers per resource) and the dashboard page.

pub mod dashboard;
