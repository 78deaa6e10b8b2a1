//! `--json`: the one machine-readable document a command prints.
//!
//! The convention every command shares (and `tenant`/`admin-key` follow):
//! a per-subcommand `--json` flag; exactly one JSON object on stdout, on one
//! line (lists sit inside the object), and nothing else on stdout; notes and
//! warnings stay on stderr ([`super::notice`], JSON lines with
//! `--log-format json`). A command that fails on bad input prints no
//! document, only its error; one whose *result* is a failure (a component
//! that does not check, a transcript that changed) prints the result and
//! exits non-zero.

use std::io::Write;

use serde::Serialize;

/// Writes `value` as the command's one document. It must serialise to an
/// object; anything else is a bug in the command, reported as an error.
pub fn print<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(value)?;
    anyhow::ensure!(
        value.is_object(),
        "internal error: --json output must be an object"
    );
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Where a command's human-readable lines go: stdout in text mode, stderr
/// (as notices) when stdout holds the `--json` document.
#[derive(Debug, Clone, Copy)]
pub struct Human {
    json: bool,
}

impl Human {
    pub fn new(json: bool) -> Self {
        Human { json }
    }

    /// Whether stdout holds the `--json` document.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A blank separating line (text mode only).
    pub fn blank(&self) {
        if !self.json {
            println!();
        }
    }

    /// A line of the command's human output.
    pub fn line(&self, text: &str) {
        if self.json {
            super::notice::info(text);
        } else {
            println!("{text}");
        }
    }
}
