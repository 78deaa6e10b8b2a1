//! Logging through the host's `log` import. Lines reach the host log with
//! tenant, plugin, run and lead attached, and the `plugin test` transcript.

use crate::flow_bindings::dialplane::plugin::log::{Level, log};

pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message.as_ref());
}
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}
