//! Builds the guest components in `plugins/` (their own cargo workspace) for
//! `wasm32-wasip2`, so `cargo build` / `cargo test` from a fresh clone always
//! embeds components built from the committed sources (no `.wasm` is ever
//! committed). Each component's path is handed to the crate as
//! `DIALPLANE_WASM_<NAME>`, which `src/builtin.rs` embeds with `include_bytes!`.
//!
//! The hostile and wrong-world components, and the ones built against the
//! pinned 0.1.0 WIT (`plugins/legacy/`), exist only for the tests: they are
//! built (and embedded) only with the `test-support` feature, so a product
//! build (`cargo build --release`, `cargo run -- demo`) never compiles them.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

/// One guest component: (env var suffix, cargo package name). cargo writes
/// the package's `.wasm` with `-` turned into `_`.
type Component = (&'static str, &'static str);

/// Components the product embeds. Keep in step with `plugins/Cargo.toml`
/// members and `src/builtin.rs`.
const PRODUCT_COMPONENTS: &[Component] = &[
    ("SIM_DIALER", "sim-dialer"),
    ("HTTP_DIALER", "http-dialer"),
    ("DEFAULT_FLOW", "default-flow"),
    ("BUSINESS_RULES_FLOW", "business-rules-flow"),
    ("TEMPLATE_FLOW", "template-flow"),
];

/// Components that misbehave on purpose, embedded only with the
/// `test-support` feature (they live in `plugins/hostile/`).
const TEST_COMPONENTS: &[Component] = &[
    ("HOSTILE_LOOP", "hostile-loop"),
    ("HOSTILE_MEMORY", "hostile-memory"),
    ("HOSTILE_RECURSION", "hostile-recursion"),
    ("HOSTILE_PANIC", "hostile-panic"),
    ("HOSTILE_SANDBOX", "hostile-sandbox"),
    ("HOSTILE_HUGE_OUTPUT", "hostile-huge-output"),
    ("WRONG_WORLD", "wrong-world"),
    ("FLOW_WITH_HTTP", "flow-with-http"),
    ("SLOW_DIALER", "slow-dialer"),
    ("FLOW_V0_1", "flow-v0-1"),
    ("DIALER_V0_1", "dialer-v0-1"),
];

/// Directories under `plugins/` holding the [`TEST_COMPONENTS`]: misbehaving
/// ones, and ones built against a pinned older WIT version.
const TEST_COMPONENTS_DIRS: [&str; 2] = ["hostile", "legacy"];

/// Environment variables the nested cargo may inherit. Everything else (the
/// parent build's CARGO_*, RUSTFLAGS, jobserver, TARGET/PROFILE, …) would make
/// the nested build target the host, reuse the host's target dir or deadlock
/// on the parent's jobserver.
fn keep_env(name: &str) -> bool {
    matches!(
        name,
        "PATH"
            | "HOME"
            | "USER"
            | "TMPDIR"
            | "LANG"
            | "CARGO_HOME"
            | "CARGO_NET_OFFLINE"
            | "CARGO_TERM_COLOR"
            | "HTTP_PROXY"
            | "HTTPS_PROXY"
            | "NO_PROXY"
            | "http_proxy"
            | "https_proxy"
            | "no_proxy"
    ) || name.starts_with("RUSTUP_")
        || name.starts_with("CARGO_NET_")
        || name.starts_with("CARGO_HTTP_")
        || name.starts_with("CARGO_REGISTRIES_")
        || name.starts_with("CARGO_REGISTRY_")
        || name.starts_with("SSL_CERT_")
}

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let plugins = root.join("plugins");
    let target_dir = plugins.join("target");
    // Cargo sets this for the build script when the feature is on; a feature
    // change reruns the build script by itself.
    let test_support = std::env::var_os("CARGO_FEATURE_TEST_SUPPORT").is_some();
    let components: Vec<Component> = if test_support {
        PRODUCT_COMPONENTS
            .iter()
            .chain(TEST_COMPONENTS)
            .copied()
            .collect()
    } else {
        PRODUCT_COMPONENTS.to_vec()
    };

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    watch_sources(&plugins, test_support);

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    check_wasm_target(&rustc, &root);

    let jobs = std::env::var("NUM_JOBS")
        .ok()
        .and_then(|j| j.parse::<u32>().ok())
        .unwrap_or(2)
        .clamp(1, 2);
    let mut cmd = Command::new(&cargo);
    cmd.env_clear()
        .envs(std::env::vars().filter(|(k, _)| keep_env(k)))
        .env("RUSTC", &rustc)
        .current_dir(&plugins)
        .args(["build", "--release", "--locked", "--target", WASM_TARGET]);
    // Only the embedded packages: with `--workspace` a product build would
    // compile the test components too.
    for (_, package) in &components {
        cmd.args(["-p", package]);
    }
    cmd.arg("-j")
        .arg(jobs.to_string())
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("dialplane: cannot run `{cargo}` to build plugins/: {e}"));
    if !out.status.success() {
        panic!(
            "dialplane: building the guest components in {} failed ({}):\n{}",
            plugins.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let release = target_dir.join(WASM_TARGET).join("release");
    for (name, package) in &components {
        let stem = package.replace('-', "_");
        let wasm = release.join(format!("{stem}.wasm"));
        if !wasm.is_file() {
            panic!(
                "dialplane: plugins build succeeded but {} is missing (is `{package}` a member of plugins/Cargo.toml?)",
                wasm.display()
            );
        }
        println!("cargo:rustc-env=DIALPLANE_WASM_{name}={}", wasm.display());
    }
}

/// Fails with an actionable message when the wasm target is not installed.
fn check_wasm_target(rustc: &str, root: &Path) {
    let libdir = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = libdir.as_ref().is_some_and(|d| {
        std::fs::read_dir(d)
            .map(|mut entries| {
                entries.any(|e| {
                    e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
                })
            })
            .unwrap_or(false)
    });
    if !installed {
        panic!(
            "dialplane: the Rust target `{WASM_TARGET}` is not installed, so the guest components in plugins/ cannot be built.\n\
             Install it with:  rustup target add {WASM_TARGET}"
        );
    }
}

/// Emits `rerun-if-changed` for every source file under `plugins/` except the
/// target dir (watching the directory itself would see our own build output)
/// and, without `test-support`, the test components nobody embeds.
fn watch_sources(dir: &Path, test_support: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if !test_support && TEST_COMPONENTS_DIRS.iter().any(|d| name == *d) {
            continue;
        }
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            watch_sources(&path, test_support);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
