//! On-disk cache of compiled components (`.cwasm`), shared by `serve`,
//! `worker` and `plugin check|test`: a restarted host loads a component in
//! milliseconds instead of compiling it again (tens of ms for Rust, tens of
//! seconds for a componentize-js or componentize-py plugin).
//!
//! Files are named `<sha256>-<engine>.cwasm`: the sha256 of the component's
//! bytes, and a hash of everything compiled code depends on
//! (`Engine::precompile_compatibility_hash`: the wasmtime version, the
//! target and every compilation setting), hashed with sha256 so the name is
//! stable across Rust toolchains. After an upgrade or a config change the
//! old files are simply not found and components recompile.
//!
//! Loading a `.cwasm` runs native code produced by whoever wrote it, hence:
//! the directory is created private (0700) and is used only if it belongs to
//! the user running the host and nobody else can write to it; an entry is
//! loaded only if it has the same owner and nobody else can write to it;
//! entries are written to a temp file and renamed into place, never
//! modified in place. A file that fails to load (corrupt, truncated, from
//! another engine) is removed and the component recompiled.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Permission bits that let someone other than the owner write.
const WRITABLE_BY_OTHERS: u32 = 0o022;

pub struct DiskCache {
    dir: PathBuf,
    owner: u32,
    engine_key: String,
    hits: AtomicU64,
}

/// A [`Hasher`] feeding sha256, so the engine key does not depend on std's
/// unspecified `DefaultHasher`.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("read through finalize")
    }
}

/// The engine part of the file names.
fn engine_key(engine: &Engine) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(&h.0.finalize()[..8])
}

impl DiskCache {
    /// Opens (creating it private) the cache in `dir`; refuses a directory
    /// another user owns or others can write to.
    pub fn new(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        let shown = dir.display();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot create the component cache {shown}: {e}"))?;
        let meta = std::fs::metadata(dir)
            .map_err(|e| anyhow::anyhow!("cannot read the component cache {shown}: {e}"))?;
        // Our uid, without a libc call: the owner of a file we just created.
        let probe = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| anyhow::anyhow!("cannot write to the component cache {shown}: {e}"))?;
        let me = probe.as_file().metadata()?.uid();
        if meta.uid() != me || meta.mode() & WRITABLE_BY_OTHERS != 0 {
            anyhow::bail!(
                "the component cache {shown} must belong to this user (uid {me}) and be writable by it alone"
            );
        }
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            owner: me,
            engine_key: engine_key(engine),
            hits: AtomicU64::new(0),
        })
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(format!("{sha}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `sha`, if a valid file is on disk.
    pub fn load(&self, engine: &Engine, sha: &str) -> Option<Component> {
        let path = self.path(sha);
        let meta = std::fs::metadata(&path).ok()?;
        if meta.uid() != self.owner || meta.mode() & WRITABLE_BY_OTHERS != 0 {
            tracing::warn!(path = %path.display(), "ignoring a compiled component this host did not write");
            return None;
        }
        // Read into memory, not `Component::deserialize_file`: that one maps
        // the file, and a file truncated or rewritten in place while mapped
        // (by a person, a tool, or a test) kills the whole host with SIGBUS;
        // a read costs a copy of tens of milliseconds for the largest
        // components, once per process.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: deserializing runs the file's machine code. That is sound
        // here because only this host writes in this directory (private and
        // ours, checked in `new`; the file's owner and mode checked above),
        // always whole, through a temp file renamed into place. wasmtime
        // still checks the header (its version, this engine's settings) and
        // refuses a file from another engine or one that does not parse.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                tracing::info!(path = %path.display(), "compiled component loaded from the cache");
                Some(c)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "recompiling an unusable cached component: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes `component` for `sha` (atomically: temp file + rename). A
    /// failure only costs a recompilation later, so it is logged, not raised.
    pub fn store(&self, sha: &str, component: &Component) {
        let path = self.path(sha);
        let result = component
            .serialize()
            .map_err(anyhow::Error::from)
            .and_then(|bytes| {
                // Created 0600 in the same directory, so the rename is atomic.
                let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
                std::io::Write::write_all(&mut tmp, &bytes)?;
                tmp.persist(&path)?;
                Ok(())
            });
        match result {
            Ok(()) => {
                tracing::info!(path = %path.display(), "compiled component written to the cache")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot write compiled component: {e:#}")
            }
        }
    }

    /// Components loaded from disk instead of compiled.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
