//! `plugin test --expect FILE [--update]`: snapshot testing of a flow's
//! transcript from the command line, without compiling anything.
//!
//! Without `--update` the transcript is compared with the file as YAML
//! values (so formatting does not count) and a change exits 1 with the
//! [`transcript_diff`]. With `--update` the file is
//! (re)written atomically, and the command says whether it created,
//! updated or kept it.

use std::path::Path;
use std::process::ExitCode;

use super::transcript_diff;

/// Compares `actual` (the transcript's YAML) with `expect`, or writes it
/// there when `update` is set.
pub fn check(expect: &Path, actual: &str, update: bool) -> anyhow::Result<ExitCode> {
    let shown = expect.display();
    let existing = match std::fs::read_to_string(expect) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => anyhow::bail!("cannot read the expected transcript {shown}: {e}"),
    };
    if update {
        return write(expect, existing.as_deref(), actual);
    }
    let Some(existing) = existing else {
        anyhow::bail!(
            "the expected transcript {shown} does not exist; run again with --update to create it"
        );
    };
    let expected = parse(expect, &existing)?;
    let actual_value: serde_yaml::Value = serde_yaml::from_str(actual)
        .map_err(|e| anyhow::anyhow!("the transcript is not valid YAML: {e}"))?;
    let d = transcript_diff::diff(&shown.to_string(), &expected, &actual_value);
    if d.is_empty() {
        super::notice::info(&format!("{shown}: the transcript matches"));
        return Ok(ExitCode::SUCCESS);
    }
    print!("{d}");
    super::notice::error(&format!(
        "{shown}: the transcript changed (see the diff above); run again with --update to accept it"
    ));
    Ok(ExitCode::FAILURE)
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

fn write(path: &Path, existing: Option<&str>, actual: &str) -> anyhow::Result<ExitCode> {
    let shown = path.display();
    if existing == Some(actual) {
        super::notice::info(&format!("{shown}: the transcript matches; left unchanged"));
        return Ok(ExitCode::SUCCESS);
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
    match existing {
        None => super::notice::info(&format!("{shown}: created with the current transcript")),
        Some(_) => super::notice::info(&format!("{shown}: updated with the current transcript")),
    }
    Ok(ExitCode::SUCCESS)
}
