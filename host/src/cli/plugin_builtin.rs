//! `dialplane plugin builtin [NAME] [-o FILE]`: the components embedded in
//! the binary (sim-dialer, http-dialer, the example flows), so a user can
//! upload them from any directory without a checkout's `plugins/target`:
//! `dialplane plugin builtin sim-dialer | curl … --data-binary @-`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::builtin::{self, BuiltinKind};

#[derive(Debug, clap::Args)]
pub struct BuiltinArgs {
    /// The component to write (omit to list them).
    pub name: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
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
        for b in offered() {
            let kind = match b.kind {
                BuiltinKind::Dialer => "dialer",
                _ => "flow",
            };
            println!("{:<20} {kind:<7} {} bytes", b.name, b.wasm.len());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(b) = offered().find(|b| b.name == name) else {
        let names: Vec<_> = offered().map(|b| b.name).collect();
        anyhow::bail!(
            "no built-in component `{name}`; there are: {}",
            names.join(", ")
        );
    };
    match a.output {
        Some(path) => std::fs::write(&path, b.wasm)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
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
