//! The `tenant-store` host import. The tenant and namespace come from the
//! store's [`PluginScope`](super::PluginScope); the guest only names a key, so the same key
//! names used by two tenants are two different entries.

use super::bindings::v0_1_0::wit_tenant_store;
use super::store_data::StoreData;

/// Longest key accepted (bytes), as documented in `wit/tenant-store.wit`.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value accepted (bytes), as documented in `wit/tenant-store.wit`.
pub const MAX_VALUE_BYTES: usize = 64 << 10;

impl StoreData {
    /// A storage failure is the host's fault, not the plugin's: remember it so
    /// the resulting trap is reported as `PluginFailure::Host`.
    fn kv_failed(&mut self, op: &str, e: anyhow::Error) -> wasmtime::Error {
        let msg = format!("tenant-store {op} failed: {e:#}");
        self.host_error = Some(msg.clone());
        wasmtime::Error::msg(msg)
    }
}

impl wit_tenant_store::Host for StoreData {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(None);
        }
        let s = &self.scope;
        match s.kv.get(s.tenant, &s.kv_namespace, &key).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.kv_failed("get", e)),
        }
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(Err(format!(
                "key is {} bytes, the limit is {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(format!(
                "value is {} bytes, the limit is {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let s = &self.scope;
        match s.kv.set(s.tenant, &s.kv_namespace, &key, &value).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Err(self.kv_failed("set", e)),
        }
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(());
        }
        let s = &self.scope;
        match s.kv.delete(s.tenant, &s.kv_namespace, &key).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.kv_failed("delete", e)),
        }
    }
}
