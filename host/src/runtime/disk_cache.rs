//! Optional on-disk cache of compiled components (`.cwasm`), so a restarted
//! host loads a component in well under a millisecond instead of compiling
//! it again (tens of ms for Rust, seconds for componentize-js plugins).
//!
//! Files are named `<sha256>-<engine>.cwasm`, where `<engine>` hashes the
//! wasmtime version and every compilation setting
//! (`Engine::precompile_compatibility_hash`): after an upgrade or a config
//! change the old files are simply not found and components recompile.
//!
//! Loading a `.cwasm` runs native code produced by whoever wrote it, so the
//! directory must be writable by the host only (it is never exposed to
//! tenants). A file that fails to load is ignored and rewritten.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

pub struct DiskCache {
    dir: PathBuf,
    engine_key: String,
    hits: AtomicU64,
}

impl DiskCache {
    pub fn new(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create the component cache {}: {e}", dir.display())
        })?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", h.finish()),
            hits: AtomicU64::new(0),
        })
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(format!("{sha}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `sha`, if a valid file is on disk.
    pub fn load(&self, engine: &Engine, sha: &str) -> Option<Component> {
        let path = self.path(sha);
        // Read into memory rather than mmap: a file truncated or rewritten
        // in place later must not fault the running host (SIGBUS).
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the directory is private to the host (see the module
        // docs) and the file name binds it to this exact engine config;
        // wasmtime still checks the header and refuses incompatible files.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(c)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compiled component: {e}");
                None
            }
        }
    }

    /// Writes `component` for `sha` (atomically: temp file + rename). A
    /// failure only costs a recompilation later, so it is logged, not raised.
    pub fn store(&self, sha: &str, component: &Component) {
        let path = self.path(sha);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let result = component
            .serialize()
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(std::fs::write(&tmp, bytes)?))
            .and_then(|()| Ok(std::fs::rename(&tmp, &path)?));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), "cannot write compiled component: {e:#}");
        }
    }

    /// Components loaded from disk instead of compiled.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
