//! The `log` host import: forwards a plugin's lines to its [`LogSink`]
//! (tenant and plugin come from the store, not from the guest).

use super::bindings::v0_1_0::{level_str, wit_log};
use super::store_data::StoreData;

impl wit_log::Host for StoreData {
    async fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        self.logs.push(level_str(level), &message);
        Ok(())
    }
}
