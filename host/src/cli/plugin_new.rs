//! `dialplane plugin new NAME [--lang rust|js|python] [--dir DIR]`: a
//! standalone call-flow project that builds outside this repository with one
//! command and no edits. Everything it needs is written into it, from the
//! sources this binary was built from:
//! - Rust: the template flow, the `dialplane-guest` SDK (with the WIT inside
//!   it, so no path leads back to a checkout), a `rust-toolchain.toml` with
//!   the `wasm32-wasip2` target; `cargo build --release`.
//! - JavaScript: `flow.js`, the WIT, componentize-js pinned in
//!   `package.json`, built without `wasi:http` (a flow may not import it);
//!   `./build.sh`.
//! - Python: `app.py`, the WIT, componentize-py pinned in
//!   `requirements.txt`; `./build.sh`.
//!
//! All three flows behave alike (the Rust template's logic), so each gets the
//! same sample lead file and the transcript `plugin test --expect` must
//! reproduce; the `plugin_new` test builds all three and checks that.

use std::path::PathBuf;
use std::process::ExitCode;

use super::json_output;
use crate::runtime::Limits;
use crate::testing::{TRANSCRIPT_MAX_ATTEMPTS_DEFAULT, TranscriptOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The flow's name: a new directory, the crate and the component (`my-flow`
    /// → `my_flow.wasm`). Lower-case letters, digits and `-`.
    pub name: String,
    /// The language of the flow.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// Where to create the project (default: `./NAME`); must not exist yet.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print one JSON object: the `directory`, the `files` written, the
    /// `component` path a build makes and the `build` and `test` commands.
    #[arg(long)]
    pub json: bool,
}

/// The SDK's sources, as in `plugins/sdk`.
const SDK_SOURCES: &[(&str, &str)] = &[
    ("lib.rs", include_str!("../../../plugins/sdk/src/lib.rs")),
    (
        "clock.rs",
        include_str!("../../../plugins/sdk/src/clock.rs"),
    ),
    ("ext.rs", include_str!("../../../plugins/sdk/src/ext.rs")),
    ("log.rs", include_str!("../../../plugins/sdk/src/log.rs")),
    (
        "store.rs",
        include_str!("../../../plugins/sdk/src/store.rs"),
    ),
];

/// The current WIT (`wit/`), which the SDK's bindings are generated from.
pub const WIT_FILES: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("flow.wit", include_str!("../../../wit/flow.wit")),
    ("dialer.wit", include_str!("../../../wit/dialer.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    (
        "tenant-store.wit",
        include_str!("../../../wit/tenant-store.wit"),
    ),
];

const TEMPLATE_FLOW_SOURCE: &str = include_str!("../../../plugins/template-flow/src/lib.rs");

/// The sample leads: an answered call, a busy line, an opted-out lead.
pub const SAMPLE_LEADS: &str = r#"[
  {"external_id": "L-1", "phone": "+14155550127", "name": "Ann", "timezone": "America/New_York"},
  {"external_id": "L-2", "phone": "+14155550120", "timezone": "Europe/London"},
  {"external_id": "L-3", "phone": "+14155550131", "attributes": {"opted_out": "yes"}}
]
"#;

const JS_FLOW: &str = include_str!("../../templates/js/flow.js");
const JS_BUILD: &str = include_str!("../../templates/js/build.sh");
/// The componentize-js release the scaffold pins (tested by `plugin_new`).
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
const PYTHON_APP: &str = include_str!("../../templates/python/app.py");
const PYTHON_BUILD: &str = include_str!("../../templates/python/build.sh");
/// The componentize-py release the scaffold pins (tested by `plugin_new`).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.0";

const RUST_TOOLCHAIN: &str = "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"wasm32-wasip2\"]\n";

const CARGO_CONFIG: &str =
    "# `cargo build --release` builds the component.\n[build]\ntarget = \"wasm32-wasip2\"\n";

const SDK_MANIFEST: &str = r#"[package]
name = "dialplane-guest"
description = "Guest SDK for dialplane call-flow plugins and dialer adapters"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc"] }
"#;

fn flow_manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
dialplane-guest = {{ path = "sdk" }}

# Its own workspace, wherever it is created.
[workspace]

[profile.release]
# Small components compile and load faster.
opt-level = "s"
lto = true
codegen-units = 1
strip = true
# wasm32 has no unwinding: a panic traps, and the host reports its message.
panic = "abort"
"#
    )
}

fn package_json(name: &str) -> String {
    format!(
        "{{\n  \"name\": \"{name}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"scripts\": {{ \"build\": \"./build.sh\" }},\n  \"devDependencies\": {{ \"@bytecodealliance/componentize-js\": \"{COMPONENTIZE_JS_VERSION}\" }}\n}}\n"
    )
}

fn readme(name: &str, stem: &str, lang: Lang) -> String {
    let (language, build, wasm, source) = match lang {
        Lang::Rust => (
            "Rust",
            "cargo build --release",
            format!("target/wasm32-wasip2/release/{stem}.wasm"),
            "`src/lib.rs`; `sdk/` is the `dialplane-guest` SDK",
        ),
        Lang::Js => (
            "JavaScript",
            "./build.sh                   # npm install (componentize-js), then componentize",
            format!("{stem}.wasm"),
            "`flow.js` (the export `flow`, WIT names in camelCase)",
        ),
        Lang::Python => (
            "Python",
            "./build.sh                   # a .venv with componentize-py, then componentize",
            format!("{stem}.wasm"),
            "`app.py` (the class `Flow`)",
        ),
    };
    format!(
        r#"# {name}

A dialplane call flow in {language} (`dialplane plugin new {name} --lang {lang}`).

```sh
{build}
dialplane plugin check {wasm}
dialplane plugin test {wasm} --leads leads.json --expect transcript.yaml
```

The flow is {source}. `transcript.yaml` is what it does with `leads.json` (the sim
dialer picks each outcome from the number's last digit). After changing the flow,
`--update` with `--expect` rewrites the transcript; review its diff like code.

`wit/` (in Rust, `sdk/wit/`) is the contract this flow is built against,
`dialplane:plugin@0.2.0`. Upload the component with `PUT /api/plugins/flows/{name}`
(`Content-Type: application/wasm`).
"#,
        lang = lang_name(lang),
    )
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "rust",
        Lang::Js => "js",
        Lang::Python => "python",
    }
}

/// A crate name cargo takes and a file stem everything can carry.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        anyhow::bail!(
            "`{name}` cannot name a flow: use lower-case letters, digits and `-`, starting with a letter (e.g. `my-flow`)"
        )
    }
}

/// The new project's directory and the files written into it so far
/// (relative paths, what `--json` lists).
struct Project {
    root: PathBuf,
    written: Vec<String>,
}

impl Project {
    fn write(&mut self, rel: &str, text: &str) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        self.written.push(rel.to_string());
        Ok(())
    }

    /// Writes `build.sh`, executable.
    fn write_script(&mut self, text: &str, stem: &str) -> anyhow::Result<()> {
        self.write("build.sh", &text.replace("@STEM@", stem))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = self.root.join("build.sh");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| anyhow::anyhow!("cannot make {} executable: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The transcript the template flow gives over [`SAMPLE_LEADS`], as
/// `plugin test` prints it for a component named `stem`.
pub async fn expected_transcript(stem: &str) -> anyhow::Result<String> {
    let leads = crate::leads_file::parse_json("leads.json", SAMPLE_LEADS)?;
    let opts = TranscriptOptions {
        settings: Vec::new(),
        max_attempts: TRANSCRIPT_MAX_ATTEMPTS_DEFAULT,
        dialer_config: Vec::new(),
        limits: Limits::default(),
        flow_name: stem.to_string(),
        compiled_cache_dir: None,
    };
    crate::testing::transcript(crate::builtin::TEMPLATE_FLOW, &leads, &opts).await
}

pub async fn run(a: NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&a.name)?;
    let root = a.dir.unwrap_or_else(|| PathBuf::from(&a.name));
    if root.exists() {
        anyhow::bail!(
            "{} already exists: plugin new writes a new directory",
            root.display()
        );
    }
    let stem = a.name.replace('-', "_");
    let transcript = expected_transcript(&stem).await?;
    let mut p = Project {
        root: root.clone(),
        written: Vec::new(),
    };
    match a.lang {
        Lang::Rust => {
            p.write("Cargo.toml", &flow_manifest(&a.name))?;
            p.write("rust-toolchain.toml", RUST_TOOLCHAIN)?;
            p.write(".cargo/config.toml", CARGO_CONFIG)?;
            p.write(".gitignore", "/target\n")?;
            p.write(
                "src/lib.rs",
                &TEMPLATE_FLOW_SOURCE.replace("template_flow.wasm", &format!("{stem}.wasm")),
            )?;
            p.write("sdk/Cargo.toml", SDK_MANIFEST)?;
            for (file, text) in SDK_SOURCES {
                // In the repository the WIT is two levels up; here it is in the SDK.
                let text = text.replace("path: \"../../wit\"", "path: \"wit\"");
                p.write(&format!("sdk/src/{file}"), &text)?;
            }
            for (file, text) in WIT_FILES {
                p.write(&format!("sdk/wit/{file}"), text)?;
            }
        }
        Lang::Js => {
            p.write("flow.js", JS_FLOW)?;
            p.write("package.json", &package_json(&a.name))?;
            p.write_script(JS_BUILD, &stem)?;
            p.write(".gitignore", "/node_modules\n/*.wasm\n")?;
            for (file, text) in WIT_FILES {
                p.write(&format!("wit/{file}"), text)?;
            }
        }
        Lang::Python => {
            p.write("app.py", PYTHON_APP)?;
            p.write(
                "requirements.txt",
                &format!("componentize-py=={COMPONENTIZE_PY_VERSION}\n"),
            )?;
            p.write_script(PYTHON_BUILD, &stem)?;
            p.write(".gitignore", "/.venv\n/*.wasm\n__pycache__/\n")?;
            for (file, text) in WIT_FILES {
                p.write(&format!("wit/{file}"), text)?;
            }
        }
    }
    p.write("leads.json", SAMPLE_LEADS)?;
    p.write("transcript.yaml", &transcript)?;
    p.write("README.md", &readme(&a.name, &stem, a.lang))?;
    let (build, wasm) = match a.lang {
        Lang::Rust => (
            "cargo build --release",
            format!("target/wasm32-wasip2/release/{stem}.wasm"),
        ),
        Lang::Js | Lang::Python => ("./build.sh", format!("{stem}.wasm")),
    };
    let test = format!("dialplane plugin test {wasm} --leads leads.json --expect transcript.yaml");
    if a.json {
        return json_output::print(&serde_json::json!({
            "directory": root.display().to_string(),
            "lang": lang_name(a.lang),
            "files": p.written,
            "component": wasm,
            "build": build,
            "test": test,
        }))
        .map(|()| ExitCode::SUCCESS);
    }
    println!(
        "created {} ({} call flow)",
        root.display(),
        lang_name(a.lang)
    );
    println!("  cd {} && {build}", root.display());
    println!("  {test}");
    Ok(ExitCode::SUCCESS)
}
