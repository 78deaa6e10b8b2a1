//! Every limit of the plugin runtime, proven with the hostile components of
//! `plugins/hostile/` (built from source by the host's build script).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dialplane::builtin;
use dialplane::runtime::{
    CallRequest, Decision, Limits, Placement, PluginError, PluginFailure, PluginHost, PluginKind,
    PluginMeta,
};
use dialplane_tests::*;

/// Generous upper bound on how late a deadline may fire (a loaded CI box);
/// the point is "stopped", not a latency figure.
const LATE_BOUND: Duration = Duration::from_secs(10);

async fn plan_of(host: &PluginHost, name: &str, wasm: &[u8]) -> Result<Decision, PluginError> {
    let p = prepare(host, PluginKind::Flow, name, wasm);
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await?;
    f.plan(&ctx(&[]), &lead("l1", "+14155550127")).await
}

#[tokio::test]
async fn loop_is_stopped_at_its_deadline() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-loop",
        builtin::HOSTILE_LOOP,
    );
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let started = Instant::now();
    let err = f
        .plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err.cause, PluginFailure::DeadlineExceeded(d) if d == TEST_DEADLINE),
        "{err}"
    );
    assert!(
        took >= TEST_DEADLINE,
        "stopped before its deadline: {took:?}"
    );
    assert!(
        took < TEST_DEADLINE + LATE_BOUND,
        "stopped far too late: {took:?}"
    );
    // The error names plugin, version, kind and tenant.
    assert!(
        err.to_string()
            .starts_with("plugin hostile-loop@1 (flow) for tenant 7: deadline"),
        "{err}"
    );
    assert_eq!(err.tenant, Some(7.into()));
    assert!(f.is_poisoned());
}

/// Dialer adapters wait on providers: their calls get the dialer deadline,
/// not the flows' 500 ms. A dialer slower than a flow may be succeeds; one
/// slower than the dialer deadline is interrupted; flows keep theirs.
#[tokio::test]
async fn dialers_have_their_own_deadline() {
    const DIALER_DEADLINE: Duration = Duration::from_secs(2);
    let flow_deadline = dialplane::config::PLUGIN_DEADLINE_DEFAULT;
    let host = PluginHost::new(Limits {
        deadline: flow_deadline,
        dialer_deadline: DIALER_DEADLINE,
        ..test_limits()
    })
    .unwrap();
    let p = prepare(
        &host,
        PluginKind::Dialer,
        "slow-dialer",
        builtin::SLOW_DIALER,
    );
    let request = |key: &str| CallRequest {
        to: "+14155550127".into(),
        caller_id: None,
        timeout_secs: 30,
        idempotency_key: key.into(),
        metadata: vec![],
    };
    let delay = |ms: u128| vec![("delay_ms".to_string(), ms.to_string())];

    // Three times the flow deadline, well inside the dialer deadline.
    let slow = flow_deadline * 3;
    let mut d = host.dialer(&p, scope(7, &p, memory_kv())).await.unwrap();
    let started = Instant::now();
    let placed = d
        .place_call(&delay(slow.as_millis()), &request("k-slow"))
        .await
        .unwrap();
    assert!(matches!(placed, Ok(Placement::Finished(_))), "{placed:?}");
    assert!(started.elapsed() >= slow, "{:?}", started.elapsed());

    // Beyond the dialer deadline: interrupted, and the instance poisoned.
    let started = Instant::now();
    let err = d
        .place_call(&delay(60_000), &request("k-stuck"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, PluginFailure::DeadlineExceeded(d) if d == DIALER_DEADLINE),
        "{err}"
    );
    let took = started.elapsed();
    assert!(took >= DIALER_DEADLINE, "stopped early: {took:?}");
    assert!(
        took < DIALER_DEADLINE + LATE_BOUND,
        "stopped late: {took:?}"
    );
    assert!(d.is_poisoned());

    // Flows on the same host keep the flow deadline.
    let err = plan_of(&host, "hostile-loop", builtin::HOSTILE_LOOP)
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, PluginFailure::DeadlineExceeded(d) if d == flow_deadline),
        "{err}"
    );
}

/// Without flags, dialers get 15 s and flows 500 ms.
#[test]
fn default_limits_separate_flow_and_dialer_deadlines() {
    let l = Limits::default();
    assert_eq!(l.deadline, Duration::from_millis(500));
    assert_eq!(l.dialer_deadline, Duration::from_secs(15));
}

#[tokio::test]
async fn fuel_stops_a_loop_deterministically() {
    let limits = Limits {
        fuel: Some(5_000_000),
        ..test_limits()
    };
    let host = PluginHost::new(limits).unwrap();
    let err = plan_of(&host, "hostile-loop", builtin::HOSTILE_LOOP)
        .await
        .unwrap_err();
    match err.cause {
        PluginFailure::Trap(m) => assert!(m.contains("fuel budget of 5000000"), "{m}"),
        other => panic!("expected a fuel trap, got {other}"),
    }
    // A normal flow runs fine within the same budget.
    let d = plan_of(&host, "default-flow", builtin::DEFAULT_FLOW)
        .await
        .unwrap();
    assert!(matches!(d, Decision::Dial(_)), "{d:?}");
}

#[tokio::test]
async fn memory_bomb_is_stopped_at_its_cap() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-memory",
        builtin::HOSTILE_MEMORY,
    );
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let err = f
        .plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, PluginFailure::MemoryLimit(cap) if cap == TEST_MEMORY),
        "{err}"
    );
    // It got close to the cap (1 MiB blocks) and never beyond it.
    let used = f.memory_used();
    assert!(used <= TEST_MEMORY, "{used} bytes charged");
    assert!(used > TEST_MEMORY / 2, "only {used} bytes charged");
    assert!(f.is_poisoned());
}

#[tokio::test]
async fn deep_recursion_is_a_trap() {
    let err = plan_of(&host(), "hostile-recursion", builtin::HOSTILE_RECURSION)
        .await
        .unwrap_err();
    match err.cause {
        PluginFailure::Trap(m) => assert!(
            m.contains("stack overflow") || m.contains("out of bounds"),
            "{m}"
        ),
        other => panic!("expected a trap, got {other}"),
    }
}

#[tokio::test]
async fn panic_message_is_reported() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-panic",
        builtin::HOSTILE_PANIC,
    );
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let err = f
        .plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    match &err.cause {
        PluginFailure::Trap(m) => {
            assert!(m.contains("hostile-panic: deliberate panic in plan"), "{m}");
            assert!(m.contains("panicked at"), "{m}");
        }
        other => panic!("expected a trap, got {other}"),
    }
    // The panic output is also in the instance's log, at `warn` (stderr).
    let logs = f.take_logs();
    assert!(
        logs.iter()
            .any(|l| l.level == "warn" && l.message.contains("deliberate panic")),
        "{logs:?}"
    );
}

/// An uncaught exception of a JavaScript or Python runtime (written to
/// stderr, then a trap) is the reason, not just "unreachable".
#[tokio::test]
async fn guest_exception_messages_are_reported() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-panic",
        builtin::HOSTILE_PANIC,
    );
    for (id, message) in [
        ("js", "no slot left for this lead (at plan@flow.js:30:34)"),
        (
            "py",
            "ValueError: lead has no segment (File \"/0/app.py\", line 46, in plan)",
        ),
    ] {
        let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
        let err = f
            .plan(&ctx(&[]), &lead(id, "+14155550127"))
            .await
            .unwrap_err();
        match &err.cause {
            PluginFailure::Trap(m) => {
                assert!(m.starts_with(message), "{id}: {m}");
                assert!(m.contains("unreachable"), "{id}: {m}");
            }
            other => panic!("{id}: expected a trap, got {other}"),
        }
    }
}

#[tokio::test]
async fn poisoned_instance_is_never_reused() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-panic",
        builtin::HOSTILE_PANIC,
    );
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let (c, l) = (ctx(&[]), lead("l1", "+14155550127"));
    assert!(f.plan(&c, &l).await.is_err());
    assert!(f.is_poisoned());
    // on-result of this component is harmless, but the instance refuses.
    let report = dialplane::runtime::CallReport {
        outcome: dialplane::runtime::Outcome::Busy,
        provider_call_id: None,
        ring_secs: 1,
        talk_secs: 0,
        provider_code: None,
        detail: None,
    };
    let err = f.on_result(&c, &l, &report).await.unwrap_err();
    assert!(matches!(err.cause, PluginFailure::Poisoned), "{err}");
    let err = f.plan(&c, &l).await.unwrap_err();
    assert!(matches!(err.cause, PluginFailure::Poisoned), "{err}");
    // A fresh instance of the same prepared component works.
    let mut fresh = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    fresh.on_result(&c, &l, &report).await.unwrap();
}

#[tokio::test]
async fn sandbox_denies_files_environment_and_sockets() {
    // A real listener, so a refused connection is the sandbox's doing and
    // not a closed port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let accepted = Arc::new(AtomicBool::new(false));
    let acc = accepted.clone();
    let accept_task = tokio::spawn(async move {
        if listener.accept().await.is_ok() {
            acc.store(true, Ordering::SeqCst);
        }
    });
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-sandbox",
        builtin::HOSTILE_SANDBOX,
    );
    let mut f = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let d = f
        .plan(&ctx(&[("port", &port)]), &lead("l1", "+14155550127"))
        .await
        .unwrap();
    assert_eq!(d, Decision::Skip("fs=err env=none net=err".into()));
    let logs = f.take_logs();
    // The host's own environment (PATH is set for every test process) is not passed on.
    let path = std::env::var("PATH").unwrap();
    assert!(!logs.iter().any(|l| l.message.contains(&path)), "{logs:?}");
    assert!(
        !accepted.load(Ordering::SeqCst),
        "the plugin reached the listener"
    );
    accept_task.abort();
}

#[tokio::test]
async fn huge_output_is_invalid_output() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "hostile-huge-output",
        builtin::HOSTILE_HUGE_OUTPUT,
    );
    // 16 MiB of output needs more than the 16 MiB test cap to even be built;
    // give it room so the output check (not the memory cap) is what refuses.
    let roomy = PluginHost::new(Limits {
        memory_bytes: 64 << 20,
        ..test_limits()
    })
    .unwrap();
    let p2 = prepare(
        &roomy,
        PluginKind::Flow,
        "hostile-huge-output",
        builtin::HOSTILE_HUGE_OUTPUT,
    );
    let mut f = roomy.flow(&p2, scope(7, &p2, memory_kv())).await.unwrap();
    let err = f
        .plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    match &err.cause {
        PluginFailure::InvalidOutput(m) => {
            assert!(
                m.contains("`skip` is 16777216 bytes, the limit is 65536"),
                "{m}"
            )
        }
        other => panic!("expected invalid output, got {other}"),
    }
    assert!(f.is_poisoned());
    // Under the small cap the same plugin is stopped by memory first: either
    // way the host neither stores the string nor falls over.
    let mut small = host.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    let err = small
        .plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.cause,
            PluginFailure::MemoryLimit(_) | PluginFailure::InvalidOutput(_)
        ),
        "{err}"
    );
}

#[test]
fn wrong_world_is_refused_naming_the_export() {
    let host = host();
    let err = host
        .prepare(meta(PluginKind::Flow, "wrong"), builtin::WRONG_WORLD)
        .unwrap_err();
    match &err.cause {
        PluginFailure::WrongWorld { world, detail } => {
            assert_eq!(world, "dialplane:plugin/call-flow@0.2.0");
            assert!(
                detail.contains(
                    "missing export `dialplane:plugin/flow@0.2.0` (or `dialplane:plugin/flow@0.1.0`)"
                ),
                "{detail}"
            );
        }
        other => panic!("expected wrong world, got {other}"),
    }
    let err = host
        .prepare(meta(PluginKind::Dialer, "wrong"), builtin::WRONG_WORLD)
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "missing export `dialplane:plugin/dialer@0.2.0` (or `dialplane:plugin/dialer@0.1.0`)"
        ),
        "{err}"
    );
    // A flow uploaded as a dialer (and vice versa) is a wrong world too.
    let err = host
        .prepare(meta(PluginKind::Dialer, "flow"), builtin::DEFAULT_FLOW)
        .unwrap_err();
    assert!(
        matches!(err.cause, PluginFailure::WrongWorld { .. }),
        "{err}"
    );
    let err = host
        .prepare(meta(PluginKind::Flow, "sim"), builtin::SIM_DIALER)
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "missing export `dialplane:plugin/flow@0.2.0` (or `dialplane:plugin/flow@0.1.0`)"
        ),
        "{err}"
    );
}

#[test]
fn flow_importing_http_is_refused_naming_wasi_http() {
    let err = host()
        .prepare(
            meta(PluginKind::Flow, "flow-with-http"),
            builtin::FLOW_WITH_HTTP,
        )
        .unwrap_err();
    match &err.cause {
        PluginFailure::WrongWorld { detail, .. } => {
            assert!(
                detail.contains("import `wasi:http/outgoing-handler@"),
                "{detail}"
            );
            assert!(detail.contains("not available to call flows"), "{detail}");
        }
        other => panic!("expected wrong world, got {other}"),
    }
}

#[test]
fn core_modules_and_garbage_are_not_components() {
    let host = host();
    let cases: [(&[u8], &str); 4] = [
        (b"\0asm\x01\0\0\0", "core WebAssembly module"),
        (b"hello, I am not wasm", "magic bytes"),
        (b"", "magic bytes"),
        (b"\0asm\x0d\0\x01\0\xff\xff\xff", "invalid component"),
    ];
    for (bytes, expect) in cases {
        let err = host
            .prepare(meta(PluginKind::Flow, "junk"), bytes)
            .unwrap_err();
        match &err.cause {
            PluginFailure::NotAComponent(m) => {
                assert!(m.contains(expect), "{m}");
                assert!(!m.contains('\n'), "not one line: {m}");
            }
            other => panic!("expected not-a-component, got {other}"),
        }
    }
}

/// Hostile calls run beside good calls of another tenant, on ONE thread: a
/// spinning guest yields at every epoch tick, so the good calls keep
/// completing while it runs and get the right answers.
#[tokio::test(flavor = "current_thread")]
async fn hostile_calls_do_not_disturb_a_good_call() {
    let host = Arc::new(host());
    let good = prepare(
        &host,
        PluginKind::Flow,
        "default-flow",
        builtin::DEFAULT_FLOW,
    );
    let spin = prepare(
        &host,
        PluginKind::Flow,
        "hostile-loop",
        builtin::HOSTILE_LOOP,
    );
    let bomb = prepare(
        &host,
        PluginKind::Flow,
        "hostile-memory",
        builtin::HOSTILE_MEMORY,
    );
    let hostile_done = Arc::new(AtomicBool::new(false));
    let good_while_hostile = Arc::new(AtomicUsize::new(0));

    let mut spinner = host
        .flow(&spin, scope(66, &spin, memory_kv()))
        .await
        .unwrap();
    let mut bomber = host
        .flow(&bomb, scope(66, &bomb, memory_kv()))
        .await
        .unwrap();
    let done = hostile_done.clone();
    let hostile = tokio::spawn(async move {
        let c = ctx(&[]);
        let l = lead("h", "+14155550127");
        let (a, b) = tokio::join!(spinner.plan(&c, &l), bomber.plan(&c, &l));
        done.store(true, Ordering::SeqCst);
        (a.unwrap_err().cause, b.unwrap_err().cause)
    });

    let mut f = host
        .flow(&good, scope(7, &good, memory_kv()))
        .await
        .unwrap();
    let mut calls = 0;
    while !hostile_done.load(Ordering::SeqCst) {
        let phone = format!("+1415555{:04}", calls % 10_000);
        let d = f.plan(&ctx(&[]), &lead("g", &phone)).await.unwrap();
        match d {
            Decision::Dial(r) => assert_eq!(r.to, phone),
            other => panic!("{other:?}"),
        }
        if !hostile_done.load(Ordering::SeqCst) {
            good_while_hostile.fetch_add(1, Ordering::SeqCst);
        }
        calls += 1;
        // Let the hostile task run between good calls.
        tokio::task::yield_now().await;
    }
    let (a, b) = hostile.await.unwrap();
    assert!(matches!(a, PluginFailure::DeadlineExceeded(_)), "{a}");
    assert!(matches!(b, PluginFailure::MemoryLimit(_)), "{b}");
    assert!(
        good_while_hostile.load(Ordering::SeqCst) > 0,
        "no good call completed while the hostile ones ran"
    );
    // The good instance is intact afterwards.
    assert!(!f.is_poisoned());
    f.plan(&ctx(&[]), &lead("g", "+14155550127")).await.unwrap();
}

#[tokio::test]
async fn instance_of_a_flow_cannot_be_made_from_a_dialer() {
    let host = host();
    let sim = prepare(&host, PluginKind::Dialer, "sim-dialer", builtin::SIM_DIALER);
    let err = host
        .flow(&sim, scope(7, &sim, memory_kv()))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err.cause, PluginFailure::WrongWorld { .. }),
        "{err}"
    );
}

#[test]
fn components_are_compiled_once_per_content() {
    let host = host();
    for v in 1..=3 {
        let m = PluginMeta {
            kind: PluginKind::Flow,
            name: "default-flow".into(),
            version: v,
        };
        let p = host.prepare(m, builtin::DEFAULT_FLOW).unwrap();
        assert_eq!(p.meta.version, v);
    }
    assert_eq!(host.compiled_components(), 1);
}

/// A tenant store whose `get` never answers (a hung database) or fails.
struct BrokenKv {
    hang: bool,
}

#[async_trait::async_trait]
impl dialplane::runtime::TenantKv for BrokenKv {
    async fn get(
        &self,
        _: dialplane::model::TenantId,
        _: &str,
        _: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        anyhow::bail!("connection refused")
    }
    async fn set(
        &self,
        _: dialplane::model::TenantId,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> anyhow::Result<()> {
        anyhow::bail!("connection refused")
    }
    async fn delete(&self, _: dialplane::model::TenantId, _: &str, _: &str) -> anyhow::Result<()> {
        anyhow::bail!("connection refused")
    }
    async fn compare_and_swap(
        &self,
        _: dialplane::model::TenantId,
        _: &str,
        _: &str,
        _: Option<&[u8]>,
        _: &[u8],
    ) -> anyhow::Result<bool> {
        anyhow::bail!("connection refused")
    }
}

/// The epoch cannot interrupt a host call; the tokio timeout around every
/// call does, and the instance is poisoned like any other failure.
#[tokio::test]
async fn a_hung_host_call_is_stopped_by_the_deadline() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "business-rules-flow",
        builtin::BUSINESS_RULES_FLOW,
    );
    let mut f = host
        .flow(
            &p,
            dialplane::runtime::PluginScope::new(7, &p.meta, Arc::new(BrokenKv { hang: true })),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let err = f
        .plan(&ctx(&[("daily_cap", "5")]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, PluginFailure::DeadlineExceeded(_)),
        "{err}"
    );
    assert!(started.elapsed() < TEST_DEADLINE + LATE_BOUND);
    assert!(f.is_poisoned());
}

/// A failing tenant store is the host's fault, reported as such.
#[tokio::test]
async fn a_failing_tenant_store_is_a_host_error() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "business-rules-flow",
        builtin::BUSINESS_RULES_FLOW,
    );
    let mut f = host
        .flow(
            &p,
            dialplane::runtime::PluginScope::new(7, &p.meta, Arc::new(BrokenKv { hang: false })),
        )
        .await
        .unwrap();
    let err = f
        .plan(&ctx(&[("daily_cap", "5")]), &lead("l1", "+14155550127"))
        .await
        .unwrap_err();
    match &err.cause {
        PluginFailure::Host(m) => {
            assert!(
                m.contains("tenant-store increment failed: connection refused"),
                "{m}"
            )
        }
        other => panic!("expected a host error, got {other}"),
    }
}

/// A restarted host finds compiled components on disk; a corrupt file is
/// ignored (recompiled and rewritten), never trusted blindly.
#[tokio::test]
async fn compiled_components_are_reused_from_disk() {
    let dir = std::env::temp_dir().join(format!("dialplane-cwasm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = || dialplane::runtime::HostOptions {
        compiled_cache_dir: Some(dir.clone()),
        ..Default::default()
    };
    let first = PluginHost::with_options(test_limits(), opts()).unwrap();
    prepare(
        &first,
        PluginKind::Flow,
        "default-flow",
        builtin::DEFAULT_FLOW,
    );
    assert_eq!(first.disk_cache_hits(), 0);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{files:?}");

    let second = PluginHost::with_options(test_limits(), opts()).unwrap();
    let p = prepare(
        &second,
        PluginKind::Flow,
        "default-flow",
        builtin::DEFAULT_FLOW,
    );
    assert_eq!(second.disk_cache_hits(), 1);
    let mut f = second.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    assert!(matches!(
        f.plan(&ctx(&[]), &lead("l1", "+14155550127"))
            .await
            .unwrap(),
        Decision::Dial(_)
    ));

    std::fs::write(files[0].path(), b"not a cwasm").unwrap();
    let third = PluginHost::with_options(test_limits(), opts()).unwrap();
    let p = prepare(
        &third,
        PluginKind::Flow,
        "default-flow",
        builtin::DEFAULT_FLOW,
    );
    assert_eq!(third.disk_cache_hits(), 0);
    let mut f = third.flow(&p, scope(7, &p, memory_kv())).await.unwrap();
    f.plan(&ctx(&[]), &lead("l1", "+14155550127"))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
