//! The `tenant-store` host import, in every WIT version (one implementation,
//! one thin `Host` impl per version). The tenant and namespace come from the
//! store's [`PluginScope`](super::PluginScope); the guest only names a key, so the same key
//! names used by two tenants are two different entries.

use super::bindings::{v0_1_0, v0_2_0};
use super::store_data::StoreData;

/// Longest key accepted (bytes), as documented in `wit/tenant-store.wit`.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value accepted (bytes), as documented in `wit/tenant-store.wit`.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Why a write is refused when the scope's act gate is closed.
const LEASE_LAPSED: &str = "refused: this worker's lease on the run has lapsed";

impl StoreData {
    /// A storage failure is the host's fault, not the plugin's: remember it so
    /// the resulting trap is reported as `PluginFailure::Host`.
    fn kv_failed(&mut self, op: &str, e: anyhow::Error) -> wasmtime::Error {
        let msg = format!("tenant-store {op} failed: {e:#}");
        self.host_error = Some(msg.clone());
        wasmtime::Error::msg(msg)
    }
}

impl StoreData {
    async fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(None);
        }
        let s = &self.scope;
        match s.kv.get(s.tenant, &s.kv_namespace, &key).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.kv_failed("get", e)),
        }
    }

    async fn kv_set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), String>> {
        if let Some(refused) = self.kv_write_refused(&key, &value) {
            return Ok(Err(refused));
        }
        let s = &self.scope;
        match s.kv.set(s.tenant, &s.kv_namespace, &key, &value).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Err(self.kv_failed("set", e)),
        }
    }

    /// Why a write of `key` (and `value`) is refused before it reaches the
    /// store: a size limit, or a lapsed lease.
    fn kv_write_refused(&self, key: &str, value: &[u8]) -> Option<String> {
        if key.len() > MAX_KEY_BYTES {
            return Some(format!(
                "key is {} bytes, the limit is {MAX_KEY_BYTES}",
                key.len()
            ));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Some(format!(
                "value is {} bytes, the limit is {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
        (!self.scope.act_gate.allows()).then(|| LEASE_LAPSED.to_string())
    }

    async fn kv_increment(
        &mut self,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, String>> {
        if let Some(refused) = self.kv_write_refused(&key, b"") {
            return Ok(Err(refused));
        }
        let s = &self.scope;
        match s.kv.increment(s.tenant, &s.kv_namespace, &key, delta).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.kv_failed("increment", e)),
        }
    }

    async fn kv_compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, String>> {
        if let Some(refused) = self.kv_write_refused(&key, &value) {
            return Ok(Err(refused));
        }
        let s = &self.scope;
        let swapped =
            s.kv.compare_and_swap(s.tenant, &s.kv_namespace, &key, expected.as_deref(), &value)
                .await;
        match swapped {
            Ok(done) => Ok(Ok(done)),
            Err(e) => Err(self.kv_failed("compare-and-swap", e)),
        }
    }

    async fn kv_delete(&mut self, key: String) -> wasmtime::Result<()> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(());
        }
        let s = &self.scope;
        if !s.act_gate.allows() {
            return Err(self.kv_failed("delete", anyhow::anyhow!(LEASE_LAPSED)));
        }
        match s.kv.delete(s.tenant, &s.kv_namespace, &key).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.kv_failed("delete", e)),
        }
    }
}

/// The same implementation behind each version's `tenant-store` interface;
/// `atomic` adds what 0.2.0 added (`increment`, `compare-and-swap`).
macro_rules! tenant_store_host {
    ($wit:path $(, $atomic:ident)?) => {
        impl $wit for StoreData {
            async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
                self.kv_get(key).await
            }
            async fn set(
                &mut self,
                key: String,
                value: Vec<u8>,
            ) -> wasmtime::Result<Result<(), String>> {
                self.kv_set(key, value).await
            }
            async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
                self.kv_delete(key).await
            }
            $(tenant_store_host!(@$atomic);)?
        }
    };
    (@atomic) => {
        async fn increment(
            &mut self,
            key: String,
            delta: i64,
        ) -> wasmtime::Result<Result<i64, String>> {
            self.kv_increment(key, delta).await
        }
        async fn compare_and_swap(
            &mut self,
            key: String,
            expected: Option<Vec<u8>>,
            value: Vec<u8>,
        ) -> wasmtime::Result<Result<bool, String>> {
            self.kv_compare_and_swap(key, expected, value).await
        }
    };
}

tenant_store_host!(v0_1_0::wit_tenant_store::Host);
tenant_store_host!(v0_2_0::wit_tenant_store::Host, atomic);
