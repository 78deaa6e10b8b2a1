//! The lines the command line itself writes to stderr (start-up, stop, the
//! one fatal error) in the log format chosen with `--log-format`: plain text
//! for people, or one JSON object per line shaped like the `tracing` JSON
//! lines around them, so a log collector never meets a line it cannot parse.

use std::sync::OnceLock;

use super::LogFormat;

/// Set once by `init_logging`; text until then.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn line(level: &str, message: &str) -> String {
    match FORMAT.get() {
        Some(LogFormat::Json) => serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": if level == "ERROR_AS_IS" { "ERROR" } else { level },
            "fields": {"message": message},
            "target": "dialplane",
        })
        .to_string(),
        _ if level == "ERROR" => format!("dialplane: error: {message}"),
        _ => message.to_string(),
    }
}

/// A start-up or shutdown line (`dialplane worker … started`), or a result
/// a command reports on stderr (`transcript.yaml: the transcript matches`).
pub fn info(message: &str) {
    eprintln!("{}", line("INFO", message));
}

/// Something the user should look at, the command still succeeding.
pub fn warn(message: &str) {
    eprintln!("{}", line("WARN", message));
}

/// Why a command fails, as the command words it (it exits non-zero).
pub fn error(message: &str) {
    eprintln!("{}", line("ERROR_AS_IS", message));
}

/// The error a command ends with, prefixed `dialplane: error:` in text.
pub fn fatal(message: &str) {
    eprintln!("{}", line("ERROR", message));
}
