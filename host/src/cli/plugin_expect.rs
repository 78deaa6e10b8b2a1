//! `plugin test --expect FILE [--update]`: snapshot testing of a flow's
//! transcript from the command line, without compiling anything.
//!
//! Without `--update` the transcript is compared with the file as YAML
//! values (so formatting does not count) and a change exits 1 with the
//! [`transcript_diff`]. With `--update` the file is
//! (re)written atomically, and the command says whether it created,
//! updated or kept it.

use std::path::Path;

use super::transcript_diff::{self, Change};

/// What `--expect` did with the transcript.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Compared, equal.
    Matched,
    /// Compared, different: the changes, field by field.
    Changed,
    /// `--update`: the file did not exist and now holds the transcript.
    Created,
    /// `--update`: the file held another transcript and now holds this one.
    Updated,
    /// `--update`: the file already held this transcript.
    Unchanged,
}

/// The comparison's result, printed as a diff or as the `--json` document.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub expect: String,
    pub action: Action,
    /// Empty unless `action` is `changed`.
    pub changes: Vec<Change>,
}

impl Outcome {
    /// Whether the command succeeds: everything but a changed transcript.
    pub fn ok(&self) -> bool {
        !matches!(self.action, Action::Changed)
    }

    /// The human lines: the diff on stdout, the verdict on stderr.
    pub fn report(&self, json: bool) {
        let shown = &self.expect;
        match self.action {
            Action::Matched => super::notice::info(&format!("{shown}: the transcript matches")),
            Action::Unchanged => {
                super::notice::info(&format!("{shown}: the transcript matches; left unchanged"))
            }
            Action::Created => {
                super::notice::info(&format!("{shown}: created with the current transcript"))
            }
            Action::Updated => {
                super::notice::info(&format!("{shown}: updated with the current transcript"))
            }
            Action::Changed => {
                if !json {
                    print!("{}", transcript_diff::render(shown, &self.changes));
                }
                super::notice::error(&format!(
                    "{shown}: the transcript changed (see the {}); run again with --update to accept it",
                    if json { "changes" } else { "diff above" }
                ));
            }
        }
    }
}

/// Compares `actual` (the transcript's YAML) with `expect`, or writes it
/// there when `update` is set.
pub fn check(expect: &Path, actual: &str, update: bool) -> anyhow::Result<Outcome> {
    let shown = expect.display();
    let existing = match std::fs::read_to_string(expect) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => anyhow::bail!("cannot read the expected transcript {shown}: {e}"),
    };
    let outcome = |action, changes| Outcome {
        expect: shown.to_string(),
        action,
        changes,
    };
    if update {
        return Ok(outcome(
            write(expect, existing.as_deref(), actual)?,
            Vec::new(),
        ));
    }
    let Some(existing) = existing else {
        anyhow::bail!(
            "the expected transcript {shown} does not exist; run again with --update to create it"
        );
    };
    let expected = parse(expect, &existing)?;
    let actual_value: serde_yaml::Value = serde_yaml::from_str(actual)
        .map_err(|e| anyhow::anyhow!("the transcript is not valid YAML: {e}"))?;
    let changes = transcript_diff::changes(&expected, &actual_value);
    Ok(if changes.is_empty() {
        outcome(Action::Matched, changes)
    } else {
        outcome(Action::Changed, changes)
    })
}

/// The expected file as YAML, its errors naming the file and the line.
fn parse(path: &Path, text: &str) -> anyhow::Result<serde_yaml::Value> {
    serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!(
            "{}:{}:{}: malformed YAML in the expected transcript: {e}",
            path.display(),
            l.line(),
            l.column()
        ),
        None => anyhow::anyhow!(
            "{}: malformed YAML in the expected transcript: {e}",
            path.display()
        ),
    })
}

fn write(path: &Path, existing: Option<&str>, actual: &str) -> anyhow::Result<Action> {
    let shown = path.display();
    if existing == Some(actual) {
        return Ok(Action::Unchanged);
    }
    // Temp file beside the target, then rename: an interrupted update never
    // leaves half a transcript behind.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, actual.as_bytes())?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| anyhow::anyhow!("cannot write the expected transcript {shown}: {e}"))?;
    Ok(match existing {
        None => Action::Created,
        Some(_) => Action::Updated,
    })
}
