//! The wasmtime host for call flows and dialer adapters.
//!
//! CONTRACT (other modules compile against these names; the runtime may grow,
//! but these signatures stay):
//!
//! - [`PluginHost`]: one per process. Owns the engine, the linkers and the
//!   component cache keyed by sha256.
//! - [`PluginHost::prepare`]: validate a component against the world of its
//!   kind on the real linker and cache it. A mismatch is a
//!   [`PluginFailure::WrongWorld`] naming the import/export.
//! - [`PluginHost::flow`] / [`PluginHost::dialer`]: a fresh instance in its own
//!   store, bound to one tenant ([`PluginScope`]). An instance may be reused for
//!   many calls of the same tenant and plugin, never across tenants; after any
//!   error it is poisoned and every further call fails with
//!   [`PluginFailure::Poisoned`].
//!
//! Module map:
//! - `engine`: the process's one wasmtime engine and its epoch ticker.
//! - `cache`, `disk_cache`: compiled components by sha256, in memory and
//!   optionally on disk (by sha256 and engine configuration, shared by every
//!   command of the CLI).
//! - `validate`: is this a component of the right world (on the real linker).
//! - [`bindings`]: generated bindings, one module per WIT version.
//! - [`types`]: the host-side mirror of the WIT types.
//! - `instance`, `store_data`: what every instance holds (its store, its
//!   tenant scope, its limits).
//! - `flow_instance`, `dialer_instance`: [`FlowInstance`] and
//!   [`DialerInstance`], the export calls under those limits, whatever the
//!   component's WIT version.
//! - `plugin_scope`: [`PluginMeta`] and [`PluginScope`], what an instance is
//!   bound to.
//! - `plugin_error`: [`PluginError`] and [`PluginFailure`].
//! - `limits`, `output_check`, `failure`: the memory cap, bounds on what a
//!   plugin returns, and what a failed call becomes.
//! - `host_log`, `log_sink`, `stdio_capture`: a plugin's log lines and stdio.
//! - `plugin_log_budget`, `phone_mask`: how many of those lines reach the
//!   logs (per scope, per second), and phone numbers masked in them.
//! - `host_tenant_store`: the `tenant-store` import, bound to the scope's tenant.
//! - `http_allowlist`: `wasi:http` for dialers, only to allowed hosts.
//! - [`memory_kv`]: an in-memory tenant store for `plugin test`.
//! - [`custom_section`]: appends a custom section (versions that differ only
//!   by bytes, for hot-swap tests).
//! - [`bench`](mod@bench): the `bench plugin` measurement.

pub mod bench;
pub mod bindings;
mod cache;
pub mod custom_section;
mod dialer_instance;
mod disk_cache;
mod engine;
mod failure;
mod flow_instance;
mod host_log;
mod host_tenant_store;
mod http_allowlist;
mod instance;
mod limits;
mod log_sink;
pub mod memory_kv;
mod output_check;
mod phone_mask;
mod plugin_error;
mod plugin_log_budget;
mod plugin_scope;
mod stdio_capture;
mod store_data;
pub mod types;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

pub use cache::sha256_hex;
pub use http_allowlist::HttpAllowlist;
pub use memory_kv::MemoryKv;
pub use phone_mask::mask_phone_numbers;
pub use plugin_error::{PluginError, PluginFailure};
pub use plugin_log_budget::PluginLogBudget;
pub use plugin_scope::{ActGate, HttpRefusals, PluginMeta, PluginScope};
pub use types::*;
pub use validate::{ComponentInfo, export_names, world_name};

pub use bindings::WitVersion;
pub use dialer_instance::DialerInstance;
pub use flow_instance::FlowInstance;
use instance::Core;
use store_data::StoreData;
use validate::Pre;

use crate::model::TenantId;

/// Per-call limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock deadline of one call-flow export call (epoch interruption +
    /// tokio timeout).
    pub deadline: Duration,
    /// Wall-clock deadline of one dialer-adapter export call: adapters wait
    /// on a provider's HTTP API, which takes seconds, not milliseconds.
    pub dialer_deadline: Duration,
    /// Cap on the sum of all linear memories and tables of one instance.
    pub memory_bytes: usize,
    /// Fuel per call, for deterministic tests; `None` disables fuel.
    pub fuel: Option<u64>,
    /// Cap on any string/list a plugin returns (bytes).
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// The `PLUGIN_*_DEFAULT` values of [`crate::config`], no fuel.
    fn default() -> Self {
        Limits {
            deadline: crate::config::PLUGIN_DEADLINE_DEFAULT,
            dialer_deadline: crate::config::DIALER_DEADLINE_DEFAULT,
            memory_bytes: crate::config::PLUGIN_MEMORY_DEFAULT,
            fuel: None,
            max_output_bytes: crate::config::PLUGIN_MAX_OUTPUT_DEFAULT,
        }
    }
}

/// Host-wide knobs that are not per-call limits.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Period of the epoch ticker (deadline granularity).
    pub epoch_tick: Duration,
    /// Time the tokio timeout allows beyond the deadline (stops a hung host call).
    pub timeout_grace: Duration,
    /// Pooling-allocator slots (instances alive at once); 0 = on-demand allocation.
    pub pool_instances: u32,
    /// Fixed wall clock, monotonic clock and random bytes in every store, so
    /// that `plugin test` transcripts are byte-identical run after run.
    pub deterministic: bool,
    /// Directory for compiled components (`<sha256>-<engine>.cwasm`), reused
    /// across restarts; `None` compiles in memory only. Must belong to the
    /// host's user and be writable by it alone (loading a file runs its
    /// native code); one that is not is ignored with a warning.
    pub compiled_cache_dir: Option<std::path::PathBuf>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            epoch_tick: crate::config::PLUGIN_EPOCH_TICK_DEFAULT,
            timeout_grace: crate::config::PLUGIN_TIMEOUT_GRACE_DEFAULT,
            pool_instances: crate::config::PLUGIN_POOL_INSTANCES_DEFAULT,
            deterministic: false,
            compiled_cache_dir: None,
        }
    }
}

/// Backing storage of the `tenant-store` import. The runtime passes the tenant
/// from the [`PluginScope`], never from the guest.
#[async_trait::async_trait]
pub trait TenantKv: Send + Sync + 'static {
    async fn get(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>>;
    async fn set(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        value: &[u8],
    ) -> anyhow::Result<()>;
    async fn delete(&self, tenant: TenantId, namespace: &str, key: &str) -> anyhow::Result<()>;
    /// Stores `value` only if the stored value is still `expected` (`None`:
    /// only if absent), atomically with respect to every other writer of the
    /// entry (any worker, any process); `Ok(false)` when it was not.
    async fn compare_and_swap(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> anyhow::Result<bool>;
    /// Adds `delta` to the decimal counter under `key` (missing = 0) and
    /// returns the new value: a read and a [`compare_and_swap`] retried
    /// until no other writer came between them, so no increment is lost.
    /// `Ok(Err(..))` is the guest's problem (not a number, overflow).
    ///
    /// [`compare_and_swap`]: TenantKv::compare_and_swap
    async fn increment(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        delta: i64,
    ) -> anyhow::Result<Result<i64, String>> {
        for _ in 0..KV_INCREMENT_ATTEMPTS_MAX {
            let old = self.get(tenant, namespace, key).await?;
            let current = match &old {
                None => 0,
                Some(v) => match std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) => n,
                    None => {
                        return Ok(Err(format!(
                            "the value under `{key}` is not a decimal s64 counter"
                        )));
                    }
                },
            };
            let Some(new) = current.checked_add(delta) else {
                return Ok(Err(format!("`{key}`: {current} + {delta} overflows s64")));
            };
            let text = new.to_string();
            if self
                .compare_and_swap(tenant, namespace, key, old.as_deref(), text.as_bytes())
                .await?
            {
                return Ok(Ok(new));
            }
        }
        anyhow::bail!(
            "`{key}` changed under {KV_INCREMENT_ATTEMPTS_MAX} increments in a row (contention)"
        )
    }
}

/// Tries of one [`TenantKv::increment`] before it reports contention: each
/// lost try means another writer's increment succeeded, so the system as a
/// whole always progresses; this only bounds one caller's wait.
pub const KV_INCREMENT_ATTEMPTS_MAX: usize = 1_000;

/// A line a plugin logged (or wrote to stdout/stderr) during a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// A validated, compiled component, ready to instantiate cheaply.
pub struct Prepared {
    pub meta: PluginMeta,
    pub sha256: String,
    /// Import and export names of the component (what `plugin check` prints).
    pub info: ComponentInfo,
    pre: Pre,
}

impl Prepared {
    /// The WIT version the component was built against.
    pub fn wit_version(&self) -> WitVersion {
        self.pre.version()
    }

    /// The world it implements, e.g. `dialplane:plugin/call-flow@0.2.0`.
    pub fn world(&self) -> &'static str {
        self.wit_version().world(self.meta.kind)
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("meta", &self.meta)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// The process's wasmtime host.
pub struct PluginHost {
    engine: wasmtime::Engine,
    limits: Limits,
    opts: HostOptions,
    flow_linker: Linker<StoreData>,
    dialer_linker: Linker<StoreData>,
    cache: cache::ComponentCache,
    disk: Option<disk_cache::DiskCache>,
    ticker: engine::EpochTicker,
    /// Told how long each compilation took (the process's metrics; the
    /// runtime does not know them: it is below lifecycle and api).
    compile_observer: std::sync::OnceLock<CompileObserver>,
}

/// See [`PluginHost::observe_compiles`].
pub type CompileObserver = Box<dyn Fn(std::time::Duration) + Send + Sync>;

impl PluginHost {
    /// A host with [`HostOptions::default`].
    pub fn new(limits: Limits) -> anyhow::Result<Self> {
        Self::with_options(limits, HostOptions::default())
    }

    pub fn with_options(limits: Limits, opts: HostOptions) -> anyhow::Result<Self> {
        let engine = engine::build(&limits, &opts)?;
        let ticker = engine::EpochTicker::start(&engine, opts.epoch_tick)?;
        let flow_linker = Self::linker(&engine, false)?;
        let dialer_linker = Self::linker(&engine, true)?;
        // A cache that cannot be used costs compile time, not correctness.
        let disk = opts.compiled_cache_dir.as_ref().and_then(|dir| {
            disk_cache::DiskCache::new(dir, &engine)
                .inspect_err(|e| tracing::warn!("compiling without a disk cache: {e:#}"))
                .ok()
        });
        Ok(PluginHost {
            engine,
            limits,
            opts,
            flow_linker,
            dialer_linker,
            cache: cache::ComponentCache::default(),
            disk,
            ticker,
            compile_observer: std::sync::OnceLock::new(),
        })
    }

    /// WASI (granting nothing, see `store_data`), the dialplane imports, and
    /// for dialers only `wasi:http` behind the allowlist.
    fn linker(engine: &wasmtime::Engine, http: bool) -> anyhow::Result<Linker<StoreData>> {
        let mut l = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
        if http {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;
        }
        // Every published version's imports: components built against any
        // of them link.
        bindings::v0_1_0::wit_log::add_to_linker::<_, HasSelf<StoreData>>(&mut l, |d| d)?;
        bindings::v0_1_0::wit_tenant_store::add_to_linker::<_, HasSelf<StoreData>>(&mut l, |d| d)?;
        bindings::v0_2_0::wit_log::add_to_linker::<_, HasSelf<StoreData>>(&mut l, |d| d)?;
        bindings::v0_2_0::wit_tenant_store::add_to_linker::<_, HasSelf<StoreData>>(&mut l, |d| d)?;
        Ok(l)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Compiles (once per sha256) and inspects a component without checking
    /// it against a world (for `plugin check` and kind detection).
    pub fn inspect(&self, wasm: &[u8]) -> Result<ComponentInfo, PluginFailure> {
        let sha = sha256_hex(wasm);
        let component = self.compiled(&sha, wasm)?;
        Ok(ComponentInfo::of(&self.engine, &component))
    }

    fn compiled(
        &self,
        sha: &str,
        wasm: &[u8],
    ) -> Result<wasmtime::component::Component, PluginFailure> {
        if let Some(c) = self.cache.component(sha) {
            return Ok(c);
        }
        if let Some(c) = self.disk.as_ref().and_then(|d| d.load(&self.engine, sha)) {
            self.cache.put_component(sha, c.clone());
            return Ok(c);
        }
        let started = std::time::Instant::now();
        let c = validate::compile(&self.engine, wasm)?;
        if let Some(observe) = self.compile_observer.get() {
            observe(started.elapsed());
        }
        if let Some(d) = &self.disk {
            d.store(sha, &c);
        }
        self.cache.put_component(sha, c.clone());
        Ok(c)
    }

    /// Validates `wasm` as a component of `meta.kind` on the real linker
    /// (imports and exports) and caches it. CPU-heavy on a cache miss
    /// (compilation); call it from `spawn_blocking` in async code.
    pub fn prepare(&self, meta: PluginMeta, wasm: &[u8]) -> Result<Arc<Prepared>, PluginError> {
        let sha = sha256_hex(wasm);
        let err = |cause| PluginError {
            plugin: meta.clone(),
            tenant: None,
            cause,
        };
        let component = self.compiled(&sha, wasm).map_err(err)?;
        let info = ComponentInfo::of(&self.engine, &component);
        let pre = match self.cache.pre(&sha, meta.kind) {
            Some(pre) => pre,
            None => {
                let linker = match meta.kind {
                    PluginKind::Flow => &self.flow_linker,
                    PluginKind::Dialer => &self.dialer_linker,
                };
                let pre = validate::check_world(&self.engine, linker, &component, meta.kind)
                    .map_err(err)?;
                self.cache.put_pre(&sha, meta.kind, pre.clone());
                pre
            }
        };
        Ok(Arc::new(Prepared {
            meta,
            sha256: sha,
            info,
            pre,
        }))
    }

    /// Calls `observe` with the duration of every compilation from now on
    /// (cache hits are not compilations); the first observer set stays.
    pub fn observe_compiles(&self, observe: CompileObserver) {
        let _ = self.compile_observer.set(observe);
    }

    /// Components loaded from [`HostOptions::compiled_cache_dir`] instead of compiled.
    pub fn disk_cache_hits(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.hits())
    }

    /// Number of distinct components compiled so far.
    pub fn compiled_components(&self) -> usize {
        self.cache.compiled_count()
    }

    /// The store of a new instance, with the deadline of `p`'s kind.
    fn core(&self, p: &Prepared, scope: PluginScope) -> Core {
        let data = StoreData::new(scope, p.meta.clone(), self.limits.memory_bytes, &self.opts);
        let deadline = match p.meta.kind {
            PluginKind::Flow => self.limits.deadline,
            PluginKind::Dialer => self.limits.dialer_deadline,
        };
        Core::new(
            Store::new(&self.engine, data),
            deadline,
            self.ticker.ticks(deadline),
            self.opts.timeout_grace,
            self.limits.fuel,
            self.limits.max_output_bytes,
        )
    }

    /// Instantiates under the same limits as a call (a component's start
    /// functions run guest code too).
    async fn instantiate<T, F>(&self, core: &mut Core, f: F) -> Result<T, PluginError>
    where
        F: AsyncFnOnce(&mut Store<StoreData>) -> wasmtime::Result<T>,
    {
        core.begin()?;
        let r = tokio::time::timeout(core.hard_timeout(), f(&mut core.store)).await;
        core.finish(r)
    }

    /// A fresh call-flow instance in its own store, bound to `scope`'s tenant.
    pub async fn flow(
        &self,
        p: &Arc<Prepared>,
        scope: PluginScope,
    ) -> Result<FlowInstance, PluginError> {
        let Pre::Flow(pre) = &p.pre else {
            return Err(wrong_kind(p, PluginKind::Flow, scope.tenant));
        };
        let mut core = self.core(p, scope);
        let bindings = self
            .instantiate(&mut core, async |s| pre.instantiate(s).await)
            .await?;
        Ok(FlowInstance::new(core, bindings))
    }

    /// A fresh dialer-adapter instance in its own store, bound to `scope`'s
    /// tenant and HTTP allowlist.
    pub async fn dialer(
        &self,
        p: &Arc<Prepared>,
        scope: PluginScope,
    ) -> Result<DialerInstance, PluginError> {
        let Pre::Dialer(pre) = &p.pre else {
            return Err(wrong_kind(p, PluginKind::Dialer, scope.tenant));
        };
        let mut core = self.core(p, scope);
        let bindings = self
            .instantiate(&mut core, async |s| pre.instantiate(s).await)
            .await?;
        Ok(DialerInstance::new(core, bindings))
    }
}

fn wrong_kind(p: &Prepared, wanted: PluginKind, tenant: TenantId) -> PluginError {
    PluginError {
        plugin: p.meta.clone(),
        tenant: Some(tenant),
        cause: PluginFailure::WrongWorld {
            world: world_name(wanted).to_string(),
            detail: format!("the component was prepared as a {}", p.meta.kind.as_str()),
        },
    }
}
