//! An in-memory [`TenantKv`] for `dialplane plugin test`, the `testing`
//! helpers and tests. Keys are (tenant, namespace, key), exactly like the
//! database-backed store, so isolation behaves the same.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::TenantKv;
use crate::model::TenantId;

type Key = (i64, String, String);

#[derive(Default)]
pub struct MemoryKv {
    entries: Mutex<BTreeMap<Key, Vec<u8>>>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, in key order (for transcripts and assertions).
    pub fn dump(&self) -> Vec<(i64, String, String, Vec<u8>)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((t, n, k), v)| (*t, n.clone(), k.clone(), v.clone()))
            .collect()
    }
}

#[async_trait::async_trait]
impl TenantKv for MemoryKv {
    async fn get(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant.0, namespace.to_string(), key.to_string()))
            .cloned())
    }

    async fn set(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        value: &[u8],
    ) -> anyhow::Result<()> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (tenant.0, namespace.to_string(), key.to_string()),
                value.to_vec(),
            );
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> anyhow::Result<bool> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let k = (tenant.0, namespace.to_string(), key.to_string());
        if entries.get(&k).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        entries.insert(k, value.to_vec());
        Ok(true)
    }

    async fn delete(&self, tenant: TenantId, namespace: &str, key: &str) -> anyhow::Result<()> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(tenant.0, namespace.to_string(), key.to_string()));
        Ok(())
    }
}
