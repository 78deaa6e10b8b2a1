//! The data inside every plugin `Store`: the [`PluginScope`] (tenant) the instance is
//! bound to, its WASI and wasi:http contexts, its memory limiter and its log.
//!
//! Host imports read the tenant from here, never from guest arguments.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::http_allowlist::HttpAllowlist;
use super::limits::MemoryLimiter;
use super::log_sink::LogSink;
use super::stdio_capture::StdioCapture;
use super::{HostOptions, PluginMeta, PluginScope};

pub struct StoreData {
    pub scope: PluginScope,
    pub meta: PluginMeta,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: HttpAllowlist,
    pub limiter: MemoryLimiter,
    pub logs: LogSink,
    pub stdout: StdioCapture,
    pub stderr: StdioCapture,
    /// Set when a host import failed for a host-side reason (e.g. the
    /// tenant store's database is down), so the trap is reported as `Host`.
    pub host_error: Option<String>,
    /// Epoch ticks left before the current call's deadline.
    pub ticks_left: u64,
}

impl StoreData {
    pub fn new(
        scope: PluginScope,
        meta: PluginMeta,
        memory_bytes: usize,
        opts: &HostOptions,
    ) -> Self {
        let logs = LogSink::new(scope.tenant, &meta, &scope.log_fields, &scope.log_budget);
        let stdout = StdioCapture::new("info", logs.clone());
        let stderr = StdioCapture::new("warn", logs.clone());
        // Grants nothing: no preopened directories, no environment, no
        // arguments, no network (TCP, UDP and name lookup all off), and the
        // process's stdio is never inherited.
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if opts.deterministic {
            // Fixed clocks and seeds make `plugin test` transcripts byte-identical.
            b.wall_clock(FixedWallClock)
                .monotonic_clock(FixedMonotonicClock)
                .secure_random(wasmtime_wasi::Deterministic::new(
                    DETERMINISTIC_BYTES.to_vec(),
                ))
                .insecure_random(wasmtime_wasi::Deterministic::new(
                    DETERMINISTIC_BYTES.to_vec(),
                ))
                .insecure_random_seed(3);
        }
        let hooks = HttpAllowlist::new(
            scope.http_allow.clone(),
            scope.http_refused.clone(),
            scope.act_gate.clone(),
            logs.clone(),
        );
        StoreData {
            scope,
            meta,
            wasi: b.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks,
            limiter: MemoryLimiter::new(memory_bytes),
            logs,
            stdout,
            stderr,
            host_error: None,
            ticks_left: 0,
        }
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// 2026-01-01T00:00:00Z, the wall clock of deterministic stores.
const FIXED_EPOCH_SECS: u64 = 1_767_225_600;

struct FixedWallClock;

impl wasmtime_wasi::HostWallClock for FixedWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_secs(FIXED_EPOCH_SECS)
    }
}

struct FixedMonotonicClock;

impl wasmtime_wasi::HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The "random" bytes of deterministic stores, repeated.
const DETERMINISTIC_BYTES: [u8; 8] = [0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15];
