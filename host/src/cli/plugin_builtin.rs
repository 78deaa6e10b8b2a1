//! `dialplane plugin builtin [NAME] [-o FILE]`: the components embedded in
//! the binary (sim-dialer, http-dialer, the example flows), so a user can
//! upload them from any directory without a checkout's `plugins/target`:
//! `dialplane plugin builtin sim-dialer | curl … --data-binary @-`.
//! `--json` lists them, or says what `-o FILE` wrote; it is refused when the
//! component itself goes to stdout (stdout cannot hold both).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::json_output;
use crate::builtin::{self, BuiltinKind};

#[derive(Debug, clap::Args)]
pub struct BuiltinArgs {
    /// The component to write (omit to list them).
    pub name: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print one JSON object: the list (`components`), or with -o what was
    /// written. Refused when the component itself goes to stdout.
    #[arg(long)]
    pub json: bool,
}

/// One embedded component, as `--json` lists it.
#[derive(serde::Serialize)]
struct Listed {
    name: &'static str,
    kind: &'static str,
    bytes: usize,
}

impl Listed {
    fn of(b: &builtin::Builtin) -> Self {
        Listed {
            name: b.name,
            kind: match b.kind {
                BuiltinKind::Dialer => "dialer",
                _ => "flow",
            },
            bytes: b.wasm.len(),
        }
    }
}

/// The embedded components a user may take: flows and dialers (the hostile
/// test components exist only in test builds and are never offered).
fn offered() -> impl Iterator<Item = &'static builtin::Builtin> {
    builtin::all()
        .iter()
        .filter(|b| matches!(b.kind, BuiltinKind::Flow | BuiltinKind::Dialer))
}

pub fn run(a: BuiltinArgs) -> anyhow::Result<ExitCode> {
    let Some(name) = a.name else {
        let listed: Vec<Listed> = offered().map(Listed::of).collect();
        if a.json {
            json_output::print(&serde_json::json!({ "components": listed }))?;
        } else {
            for l in &listed {
                println!("{:<20} {:<7} {} bytes", l.name, l.kind, l.bytes);
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    if a.json && a.output.is_none() {
        anyhow::bail!(
            "--json prints a document on stdout, where `{name}` would be written: use -o FILE with --json"
        );
    }
    let Some(b) = offered().find(|b| b.name == name) else {
        let names: Vec<_> = offered().map(|b| b.name).collect();
        anyhow::bail!(
            "no built-in component `{name}`; there are: {}",
            names.join(", ")
        );
    };
    match a.output {
        Some(path) => {
            std::fs::write(&path, b.wasm)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            if a.json {
                json_output::print(&serde_json::json!({
                    "component": Listed::of(b),
                    "written": path.display().to_string(),
                }))?;
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            if out.is_terminal() {
                anyhow::bail!(
                    "`{name}` is a binary component: pipe it (`| curl … --data-binary @-`) or use -o FILE"
                );
            }
            out.write_all(b.wasm)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
