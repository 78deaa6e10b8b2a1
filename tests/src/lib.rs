//! Shared helpers for dialplane end-to-end tests.
