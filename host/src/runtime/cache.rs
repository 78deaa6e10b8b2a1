//! Compiled components, cached by the sha256 of their bytes, and their
//! world-checked `InstancePre`s, cached by (sha256, kind).
//!
//! Compiling a Rust component takes tens of milliseconds (seconds for a
//! componentize-js one); creating an instance from a cached `*Pre` takes
//! microseconds. Entries live as long as the host: plugin versions are few
//! and immutable.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PluginKind;
use super::validate::Pre;

#[derive(Default)]
pub struct ComponentCache {
    components: Mutex<HashMap<String, Component>>,
    pres: Mutex<HashMap<(String, PluginKind), Pre>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ComponentCache {
    pub fn component(&self, sha: &str) -> Option<Component> {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha)
            .cloned()
    }

    pub fn put_component(&self, sha: &str, c: Component) {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha.to_string(), c);
    }

    pub fn pre(&self, sha: &str, kind: PluginKind) -> Option<Pre> {
        self.pres
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(sha.to_string(), kind))
            .cloned()
    }

    pub fn put_pre(&self, sha: &str, kind: PluginKind, pre: Pre) {
        self.pres
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((sha.to_string(), kind), pre);
    }

    /// Number of distinct compiled components.
    pub fn compiled_count(&self) -> usize {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}
