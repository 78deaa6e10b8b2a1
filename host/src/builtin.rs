//! The components built from `plugins/` by `build.rs` and embedded in the
//! binary, so `dialplane demo`, `plugin test --dialer sim` and the tests need
//! no `.wasm` files on disk. Each is built from source on every host build
//! whose plugin sources changed; behaviour tables live in each crate's doc
//! comment (`plugins/<name>/src/lib.rs`).
//!
//! The [`BuiltinKind::Hostile`] components (`plugins/hostile/`) exist only
//! for the tests and are built and embedded only with the `test-support`
//! feature.

/// What an embedded component is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinKind {
    /// Implements the `call-flow` world.
    Flow,
    /// Implements the `dialer-adapter` world.
    Dialer,
    /// Misbehaves on purpose, for the runtime's limit and sandbox tests
    /// (`test-support` only).
    #[cfg(feature = "test-support")]
    Hostile,
}

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Crate name under `plugins/`, e.g. `sim-dialer`.
    pub name: &'static str,
    pub kind: BuiltinKind,
    pub wasm: &'static [u8],
}

/// Deterministic simulated provider: outcome by the number's last digit,
/// ledger of placements in `tenant-store` under `call/<idempotency-key>`.
pub const SIM_DIALER: &[u8] = include_bytes!(env!("DIALPLANE_WASM_SIM_DIALER"));
/// Twilio-compatible REST adapter over `wasi:http` (needs `base_url` etc.).
pub const HTTP_DIALER: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HTTP_DIALER"));
/// Dials every lead; retries busy/no-answer after `retry_delay_secs`.
pub const DEFAULT_FLOW: &[u8] = include_bytes!(env!("DIALPLANE_WASM_DEFAULT_FLOW"));
/// Skip rules, a daily cap counted in `tenant-store`, tags and lead status.
pub const BUSINESS_RULES_FLOW: &[u8] = include_bytes!(env!("DIALPLANE_WASM_BUSINESS_RULES_FLOW"));
/// The ~20-line template plugin authors copy.
pub const TEMPLATE_FLOW: &[u8] = include_bytes!(env!("DIALPLANE_WASM_TEMPLATE_FLOW"));
/// Flow whose `plan` never returns (deadline test).
#[cfg(feature = "test-support")]
pub const HOSTILE_LOOP: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_LOOP"));
/// Flow whose `plan` grows memory 1 MiB at a time forever (memory cap test).
#[cfg(feature = "test-support")]
pub const HOSTILE_MEMORY: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_MEMORY"));
/// Flow whose `plan` recurses without bound (stack overflow is a trap).
#[cfg(feature = "test-support")]
pub const HOSTILE_RECURSION: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_RECURSION"));
/// Flow whose `plan` panics with `hostile-panic: deliberate panic in plan`.
#[cfg(feature = "test-support")]
pub const HOSTILE_PANIC: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_PANIC"));
/// Flow whose `plan` probes fs, env and a TCP socket and answers
/// `skip("fs=<ok|err> env=<none|PATH|vars:N> net=<ok|err>")`.
#[cfg(feature = "test-support")]
pub const HOSTILE_SANDBOX: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_SANDBOX"));
/// Flow whose `plan` returns a 16 MiB skip reason (output cap test).
#[cfg(feature = "test-support")]
pub const HOSTILE_HUGE_OUTPUT: &[u8] = include_bytes!(env!("DIALPLANE_WASM_HOSTILE_HUGE_OUTPUT"));
/// A component of world `dialplane:wrong/thing` (`export run: func()`).
#[cfg(feature = "test-support")]
pub const WRONG_WORLD: &[u8] = include_bytes!(env!("DIALPLANE_WASM_WRONG_WORLD"));
/// A call flow that also imports `wasi:http/outgoing-handler` (must be refused).
#[cfg(feature = "test-support")]
pub const FLOW_WITH_HTTP: &[u8] = include_bytes!(env!("DIALPLANE_WASM_FLOW_WITH_HTTP"));

/// Dialer whose `place-call` waits `delay_ms` (config) on the monotonic
/// clock (dialer deadline test).
#[cfg(feature = "test-support")]
pub const SLOW_DIALER: &[u8] = include_bytes!(env!("DIALPLANE_WASM_SLOW_DIALER"));
/// Call flow built against the pinned `dialplane:plugin@0.1.0` WIT.
#[cfg(feature = "test-support")]
pub const FLOW_V0_1: &[u8] = include_bytes!(env!("DIALPLANE_WASM_FLOW_V0_1"));
/// Dialer adapter built against the pinned `dialplane:plugin@0.1.0` WIT.
#[cfg(feature = "test-support")]
pub const DIALER_V0_1: &[u8] = include_bytes!(env!("DIALPLANE_WASM_DIALER_V0_1"));

/// Every embedded component.
pub fn all() -> &'static [Builtin] {
    use BuiltinKind::*;
    const ALL: &[Builtin] = &[
        Builtin {
            name: "sim-dialer",
            kind: Dialer,
            wasm: SIM_DIALER,
        },
        Builtin {
            name: "http-dialer",
            kind: Dialer,
            wasm: HTTP_DIALER,
        },
        Builtin {
            name: "default-flow",
            kind: Flow,
            wasm: DEFAULT_FLOW,
        },
        Builtin {
            name: "business-rules-flow",
            kind: Flow,
            wasm: BUSINESS_RULES_FLOW,
        },
        Builtin {
            name: "template-flow",
            kind: Flow,
            wasm: TEMPLATE_FLOW,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-loop",
            kind: Hostile,
            wasm: HOSTILE_LOOP,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-memory",
            kind: Hostile,
            wasm: HOSTILE_MEMORY,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-recursion",
            kind: Hostile,
            wasm: HOSTILE_RECURSION,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-panic",
            kind: Hostile,
            wasm: HOSTILE_PANIC,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-sandbox",
            kind: Hostile,
            wasm: HOSTILE_SANDBOX,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "hostile-huge-output",
            kind: Hostile,
            wasm: HOSTILE_HUGE_OUTPUT,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "wrong-world",
            kind: Hostile,
            wasm: WRONG_WORLD,
        },
        #[cfg(feature = "test-support")]
        Builtin {
            name: "flow-with-http",
            kind: Hostile,
            wasm: FLOW_WITH_HTTP,
        },
    ];
    ALL
}

/// The embedded component called `name`, if any.
pub fn get(name: &str) -> Option<&'static Builtin> {
    all().iter().find(|b| b.name == name)
}
