//! Example components built from `plugins/` by `build.rs` and embedded in the
//! binary, so `dialplane demo` and `plugin test --dialer sim` need no files.
//! (Filled in by the plugins work: one `pub const NAME: &[u8]` per component.)
