//! The process's own resources, read from `/proc/self` at each scrape and
//! exported under the names every Prometheus client library uses
//! (`process_resident_memory_bytes`, `process_open_fds`, …), so existing
//! dashboards and alerts for them work unchanged. Off Linux there is no
//! `/proc`: the families are left out rather than reported as zero.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// One reading of `/proc/self`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time.
    pub cpu_seconds: f64,
    pub resident_memory_bytes: i64,
    pub virtual_memory_bytes: i64,
    pub threads: i64,
    pub open_fds: i64,
    /// The soft limit on open files.
    pub max_fds: i64,
}

impl ProcessStats {
    /// Reads this process's figures; `None` where `/proc` is missing or
    /// unreadable.
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        // SAFETY: sysconf reads a constant of the running system.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        parse(&stat, &limits, ticks, page, open_fds)
    }
}

/// `stat` is `/proc/self/stat`, `limits` is `/proc/self/limits`.
fn parse(stat: &str, limits: &str, ticks: i64, page: i64, open_fds: i64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields from after its closing one, which is field 3 (`state`).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Option<i64> { fields.get(n - 3)?.parse().ok() };
    let (utime, stime) = (field(14)?, field(15)?);
    let max_fds = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|soft| soft.parse().unwrap_or(-1))?;
    Some(ProcessStats {
        cpu_seconds: (utime + stime) as f64 / ticks.max(1) as f64,
        threads: field(20)?,
        virtual_memory_bytes: field(23)?,
        resident_memory_bytes: field(24)? * page,
        open_fds,
        max_fds,
    })
}

/// Registered in [`crate::process_metrics::Metrics`]'s registry.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(s) = ProcessStats::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_memory_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_memory_bytes,
            ),
            ("process_threads", "OS threads of the process", s.threads),
            ("process_open_fds", "Open file descriptors", s.open_fds),
            (
                "process_max_fds",
                "The limit on open file descriptors (-1: unlimited)",
                s.max_fds,
            ),
        ];
        for (name, help, v) in gauges {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
        Max cpu time              unlimited            unlimited            seconds   \n\
        Max open files            1024                 524288               files     \n";

    /// A command name with spaces and parentheses does not shift the fields.
    #[test]
    fn parses_a_stat_line_whose_name_has_spaces() {
        let stat = "4242 (dial (plane) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 50 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615";
        let s = parse(stat, LIMITS, 100, 4096, 9).unwrap();
        assert_eq!(
            s,
            ProcessStats {
                cpu_seconds: 3.0,
                resident_memory_bytes: 2560 * 4096,
                virtual_memory_bytes: 104_857_600,
                threads: 7,
                open_fds: 9,
                max_fds: 1024,
            }
        );
    }

    #[test]
    fn unlimited_open_files_read_as_minus_one() {
        let stat = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 4096 1 0";
        let limits = "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse(stat, limits, 100, 4096, 3).unwrap().max_fds, -1);
    }

    #[test]
    fn this_process_reads_its_own_figures() {
        let s = ProcessStats::read().expect("/proc/self on Linux");
        assert!(s.resident_memory_bytes > 0, "{s:?}");
        assert!(s.open_fds >= 3, "stdin, stdout, stderr: {s:?}");
        assert!(s.threads >= 1, "{s:?}");
        assert!(s.max_fds == -1 || s.max_fds >= s.open_fds, "{s:?}");
    }
}
