//! Progress of one demo run: an indicatif bar when a person is watching a
//! terminal, plain lines at a fixed interval otherwise (a CI log or a pipe
//! must not fill up with carriage returns and escape codes).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::notice;

/// How often a plain (non-terminal) progress line is printed.
pub const PLAIN_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// Where progress goes.
pub enum Progress {
    Bar(ProgressBar),
    Plain {
        label: String,
        total: u64,
        out: Box<dyn Write + Send>,
        every: Duration,
        last: Option<Instant>,
        last_done: Option<u64>,
    },
}

impl Progress {
    /// A bar on stderr if stderr is a terminal, else plain lines on stdout,
    /// or with `json` (stdout holds the `--json` document) on stderr as
    /// notices (JSON lines under `--log-format json`).
    pub fn for_run(label: &str, total: u64, json: bool) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30.cyan/blue}] {pos:>6}/{len:6} {percent:>3}% {elapsed_precise} {msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            Progress::Bar(bar)
        } else {
            let out: Box<dyn Write + Send> = if json {
                Box::new(NoticeLines::default())
            } else {
                Box::new(std::io::stdout())
            };
            Progress::plain(label, total, out, PLAIN_PROGRESS_INTERVAL)
        }
    }

    /// Plain lines to `out`, at most one per `every` (plus the final one).
    pub fn plain(label: &str, total: u64, out: Box<dyn Write + Send>, every: Duration) -> Progress {
        Progress::Plain {
            label: label.to_string(),
            total,
            out,
            every,
            last: None,
            last_done: None,
        }
    }

    /// `done` leads finished; `status` is the run's state.
    pub fn update(&mut self, done: u64, status: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(status.to_string());
            }
            Progress::Plain {
                label,
                total,
                out,
                every,
                last,
                last_done,
            } => {
                let due = last.is_none_or(|t| t.elapsed() >= *every);
                if due && *last_done != Some(done) {
                    let _ = writeln!(out, "{}", plain_line(label, done, *total, status));
                    *last = Some(Instant::now());
                    *last_done = Some(done);
                }
            }
        }
    }

    /// Final state, always shown.
    pub fn finish(&mut self, done: u64, status: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                // `abandon` keeps the position: `finish` would jump to 100%.
                bar.abandon_with_message(status.to_string());
            }
            Progress::Plain {
                label, total, out, ..
            } => {
                let _ = writeln!(out, "{}", plain_line(label, done, *total, status));
                let _ = out.flush();
            }
        }
    }
}

/// Each complete line written becomes one [`notice::info`] on stderr.
#[derive(Default)]
struct NoticeLines(Vec<u8>);

impl Write for NoticeLines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(b);
        while let Some(end) = self.0.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = self.0.drain(..=end).collect();
            notice::info(String::from_utf8_lossy(&line).trim_end());
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn plain_line(label: &str, done: u64, total: u64, status: &str) -> String {
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    format!("{label}: {done}/{total} leads finished ({pct}%), {status}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_progress_prints_at_most_one_line_per_interval_and_always_the_end() {
        let sink = Sink::default();
        let mut p = Progress::plain(
            "campaign",
            200,
            Box::new(sink.clone()),
            Duration::from_secs(3600),
        );
        p.update(10, "running");
        p.update(50, "running"); // within the interval: not printed
        p.finish(200, "completed");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "campaign: 10/200 leads finished (5%), running\n\
             campaign: 200/200 leads finished (100%), completed\n"
        );
        assert!(!text.contains('\r') && !text.contains('\x1b'));
    }
}
