//! The dialer adapters this worker uses, by name: the active version of
//! each, prepared once (compiled and world-checked, cached by sha256).
//!
//! Hot swap: when a platform engineer activates another version, the
//! [`super::dialer_watcher`] calls [`DialerDirectory::refresh`], which
//! replaces the entry; every run looks the entry up before each call, so
//! new calls use the new version at once while calls already in flight keep
//! the instance (and version) they started on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::runtime::{PluginHost, PluginKind, PluginMeta, Prepared};
use crate::store::Store;

/// One active adapter version, ready to instantiate.
pub struct ActiveDialer {
    pub name: String,
    pub version: i64,
    pub prepared: Arc<Prepared>,
}

/// What [`DialerDirectory::refresh`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub name: String,
    pub from: i64,
    pub to: i64,
}

pub struct DialerDirectory {
    store: Arc<dyn Store>,
    plugins: Arc<PluginHost>,
    /// std Mutex, not tokio's: nothing awaits while it is held, and the
    /// lookup sits on every call's path.
    entries: Mutex<HashMap<String, Arc<ActiveDialer>>>,
}

impl DialerDirectory {
    pub fn new(store: Arc<dyn Store>, plugins: Arc<PluginHost>) -> Self {
        DialerDirectory {
            store,
            plugins,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The version this worker uses now, if `name` was loaded before.
    pub fn current(&self, name: &str) -> Option<Arc<ActiveDialer>> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The active version of `name`, loaded from the store on first use.
    pub async fn get(&self, name: &str) -> anyhow::Result<Arc<ActiveDialer>> {
        if let Some(d) = self.current(name) {
            return Ok(d);
        }
        let blob = self
            .store
            .get_active_plugin(PluginKind::Dialer, None, name)
            .await
            .map_err(|e| anyhow::anyhow!("dialer {name:?} has no active version: {e}"))?;
        let loaded = self.prepare(name, blob.version.version, &blob.bytes)?;
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            // A refresh may have raced this load; keep what is there.
            .or_insert(loaded)
            .clone())
    }

    /// Re-reads which versions are active (one small query, no bytes) and
    /// swaps every loaded adapter whose active version changed. A name with
    /// no active version any more keeps its last one: a run never loses its
    /// adapter mid-way because of a deactivation.
    pub async fn refresh(&self) -> anyhow::Result<Vec<Swap>> {
        let loaded: HashMap<String, i64> = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.version))
            .collect();
        if loaded.is_empty() {
            return Ok(Vec::new());
        }
        let active = self
            .store
            .active_plugin_versions(PluginKind::Dialer, None)
            .await?;
        let mut swaps = Vec::new();
        for v in active {
            let Some(&from) = loaded.get(&v.name) else {
                continue;
            };
            if from == v.version {
                continue;
            }
            let blob = self
                .store
                .get_plugin_version(PluginKind::Dialer, None, &v.name, v.version)
                .await?;
            let next = self.prepare(&v.name, v.version, &blob.bytes)?;
            self.entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(v.name.clone(), next);
            tracing::info!(dialer = %v.name, from, to = v.version, "dialer adapter hot-swapped");
            swaps.push(Swap {
                name: v.name,
                from,
                to: v.version,
            });
        }
        Ok(swaps)
    }

    fn prepare(&self, name: &str, version: i64, bytes: &[u8]) -> anyhow::Result<Arc<ActiveDialer>> {
        let prepared = self.plugins.prepare(
            PluginMeta {
                kind: PluginKind::Dialer,
                name: name.to_string(),
                version,
            },
            bytes,
        )?;
        Ok(Arc::new(ActiveDialer {
            name: name.to_string(),
            version,
            prepared,
        }))
    }
}
