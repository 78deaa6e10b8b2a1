//! Builds the guest components in `plugins/` (their own cargo workspace) for
//! `wasm32-wasip2`, so `cargo build` / `cargo test` from a fresh clone always
//! embeds components built from the committed sources (no `.wasm` is ever
//! committed). Each component's path is handed to the crate as
//! `DIALPLANE_WASM_<NAME>`, which `src/builtin.rs` embeds with `include_bytes!`.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

/// (env var suffix, file stem of the `.wasm` cargo writes). Keep in step with
/// `plugins/Cargo.toml` members and `src/builtin.rs`.
const COMPONENTS: &[(&str, &str)] = &[
    ("SIM_DIALER", "sim_dialer"),
    ("HTTP_DIALER", "http_dialer"),
    ("DEFAULT_FLOW", "default_flow"),
    ("BUSINESS_RULES_FLOW", "business_rules_flow"),
    ("TEMPLATE_FLOW", "template_flow"),
    ("HOSTILE_LOOP", "hostile_loop"),
    ("HOSTILE_MEMORY", "hostile_memory"),
    ("HOSTILE_RECURSION", "hostile_recursion"),
    ("HOSTILE_PANIC", "hostile_panic"),
    ("HOSTILE_SANDBOX", "hostile_sandbox"),
    ("HOSTILE_HUGE_OUTPUT", "hostile_huge_output"),
    ("WRONG_WORLD", "wrong_world"),
    ("FLOW_WITH_HTTP", "flow_with_http"),
];

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

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    watch_sources(&plugins);

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
        .args([
            "build",
            "--release",
            "--locked",
            "--workspace",
            "--target",
            WASM_TARGET,
        ])
        .arg("-j")
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
    for (name, stem) in COMPONENTS {
        let wasm = release.join(format!("{stem}.wasm"));
        if !wasm.is_file() {
            panic!(
                "dialplane: plugins build succeeded but {} is missing (is `{stem}` a member of plugins/Cargo.toml?)",
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
/// target dir (watching the directory itself would see our own build output).
fn watch_sources(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            watch_sources(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
