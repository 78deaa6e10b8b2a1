//! The `log` host import, in every WIT version: forwards a plugin's lines to
//! its [`LogSink`](super::log_sink::LogSink) (tenant and plugin come from the
//! store, not from the guest).

use super::bindings::{v0_1_0, v0_2_0};
use super::store_data::StoreData;

impl v0_1_0::wit_log::Host for StoreData {
    async fn log(
        &mut self,
        level: v0_1_0::wit_log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        self.logs.push(v0_1_0::level_str(level), &message);
        Ok(())
    }
}

impl v0_2_0::wit_log::Host for StoreData {
    async fn log(
        &mut self,
        level: v0_2_0::wit_log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        self.logs.push(v0_2_0::level_str(level), &message);
        Ok(())
    }
}
