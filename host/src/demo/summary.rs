//! The closing table of `dialplane demo`: one column per run, one row per
//! fact, every number taken from the database or the sim dialer's ledger.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

/// What the demo learned about one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Column title, e.g. `campaign`.
    pub label: String,
    pub run_id: i64,
    pub status: String,
    pub total_leads: i64,
    pub cursor_position: i64,
    /// Calls placed, counted from the sim dialer's ledger.
    pub calls_placed: u64,
    /// Calls by outcome label (`answered-human`, `busy`, …), from attempts.
    pub outcomes: BTreeMap<String, u64>,
    /// Jobs by final state (`completed`, `skipped`, `cancelled`, …).
    pub jobs: BTreeMap<String, u64>,
    /// Leads never dialed because their number is on the DNC list.
    pub skipped_dnc: u64,
    /// Leads whose local time was outside the calling window (deferred).
    pub deferred_window: u64,
    /// Leads skipped for another reason (flow said skip, attempt cap, …).
    pub skipped_other: u64,
    /// Retries the flow asked for (attempts beyond the first).
    pub retries: u64,
    /// Cancel only: ledger placements after the cancel call returned.
    pub calls_after_cancel: Option<u64>,
    /// Cancel only: how long the cancel call took (request → acknowledged).
    pub cancel_latency: Option<Duration>,
    /// From run start to the end of the demo's watch.
    pub elapsed: Duration,
}

impl RunReport {
    /// Calls placed per second of wall-clock time (a cancelled run's cursor
    /// also counts the jobs the cancel ended, so it would flatter it).
    pub fn throughput(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.calls_placed as f64 / s
        } else {
            0.0
        }
    }
}

/// The summary as the `demo --json` document: the database, the tenant,
/// one object per run (the table's facts, durations in milliseconds and
/// seconds), and where the kept database is with the key to look at it.
pub fn to_json(
    database: &str,
    tenant: i64,
    runs: &[RunReport],
    kept: Option<(&std::path::Path, &str)>,
) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "label": r.label,
                "run_id": r.run_id,
                "status": r.status,
                "total_leads": r.total_leads,
                "cursor_position": r.cursor_position,
                "calls_placed": r.calls_placed,
                "retries": r.retries,
                "outcomes": r.outcomes,
                "jobs": r.jobs,
                "skipped_dnc": r.skipped_dnc,
                "deferred_window": r.deferred_window,
                "skipped_other": r.skipped_other,
                "calls_after_cancel": r.calls_after_cancel,
                "cancel_latency_ms": r.cancel_latency.map(|d| d.as_secs_f64() * 1000.0),
                "elapsed_secs": r.elapsed.as_secs_f64(),
                "calls_per_sec": r.throughput(),
            })
        })
        .collect();
    serde_json::json!({
        "database": database,
        "tenant": tenant,
        "runs": runs,
        "kept": kept.map(|(dir, key)| serde_json::json!({
            "dir": dir.display().to_string(),
            "api_key": key,
        })),
    })
}

/// Renders the table (plain text, aligned, no colours: it ends up in logs).
pub fn render(runs: &[RunReport]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&RunReport) -> String| {
        rows.push((name.to_string(), runs.iter().map(f).collect()));
    };
    row("run", &|r| format!("#{}", r.run_id));
    row("status", &|r| r.status.clone());
    row("leads", &|r| r.total_leads.to_string());
    row("leads finished (cursor)", &|r| {
        r.cursor_position.to_string()
    });
    row("calls placed (sim ledger)", &|r| r.calls_placed.to_string());
    row("retries", &|r| r.retries.to_string());
    let labels: BTreeSet<&String> = runs.iter().flat_map(|r| r.outcomes.keys()).collect();
    for label in labels {
        row(&format!("  outcome {label}"), &|r| {
            r.outcomes.get(label).copied().unwrap_or(0).to_string()
        });
    }
    row("skipped: do-not-call list", &|r| r.skipped_dnc.to_string());
    row("deferred: calling window", &|r| {
        r.deferred_window.to_string()
    });
    row("skipped: other", &|r| r.skipped_other.to_string());
    let states: BTreeSet<&String> = runs.iter().flat_map(|r| r.jobs.keys()).collect();
    for state in states {
        row(&format!("  jobs {state}"), &|r| {
            r.jobs.get(state).copied().unwrap_or(0).to_string()
        });
    }
    row("cancel acknowledged in", &|r| {
        r.cancel_latency
            .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
            .unwrap_or_else(|| "-".into())
    });
    row("calls after cancel", &|r| {
        r.calls_after_cancel
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into())
    });
    row("elapsed", &|r| format!("{:.2} s", r.elapsed.as_secs_f64()));
    row("throughput", &|r| format!("{:.0} calls/s", r.throughput()));

    let name_w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let col_w: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|(_, v)| v[i].len())
                .chain(std::iter::once(runs[i].label.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, name: &str, cells: &[&str]| {
        let _ = write!(out, "{name:<name_w$}");
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(out, "  {c:>w$}", w = col_w[i]);
        }
        out.push('\n');
    };
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    line(&mut out, "", &labels);
    let rule = "-".repeat(name_w + col_w.iter().map(|w| w + 2).sum::<usize>());
    out.push_str(&rule);
    out.push('\n');
    for (name, cells) in &rows {
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        line(&mut out, name, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_column_per_run_and_every_fact() {
        let a = RunReport {
            label: "campaign".into(),
            run_id: 1,
            status: "completed".into(),
            total_leads: 100,
            cursor_position: 100,
            calls_placed: 95,
            outcomes: BTreeMap::from([("busy".into(), 10), ("answered-human".into(), 40)]),
            jobs: BTreeMap::from([("completed".into(), 97), ("skipped".into(), 3)]),
            skipped_dnc: 1,
            deferred_window: 2,
            elapsed: Duration::from_millis(500),
            ..Default::default()
        };
        let b = RunReport {
            label: "cancelled".into(),
            run_id: 2,
            status: "cancelled".into(),
            calls_after_cancel: Some(0),
            cancel_latency: Some(Duration::from_micros(2500)),
            outcomes: BTreeMap::from([("rejected".into(), 4)]),
            ..Default::default()
        };
        let t = render(&[a, b]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].trim_start().starts_with("campaign"), "{t}");
        assert!(lines[0].ends_with("cancelled"), "{t}");
        let find = |name: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no row {name} in\n{t}"))
                .split_whitespace()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
        };
        assert_eq!(find("  outcome busy"), ["0", "10"]);
        assert_eq!(find("  outcome rejected"), ["4", "0"]);
        assert_eq!(find("calls after cancel"), ["0", "-"]);
        assert!(t.contains("2.5 ms"), "{t}");
        assert!(t.contains("190 calls/s"), "{t}");
        assert!(t.contains("deferred: calling window"));
    }
}
