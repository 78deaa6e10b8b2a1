//! Generated bindings, one module per WIT package version.
//!
//! Only this folder knows the bindgen-generated types; everything else in the
//! host speaks [`crate::runtime::types`]. A new WIT version adds a sibling
//! module with its own conversions and leaves the rest of the host untouched.

pub mod v0_1_0;
