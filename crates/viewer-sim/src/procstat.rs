//! CPU time and memory of a process, read from `/proc`.

use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// User + system CPU seconds since the process started.
    pub cpu_secs: f64,
    /// Resident set size now, KiB.
    pub rss_kib: u64,
    /// Peak resident set size, KiB.
    pub peak_kib: u64,
}

/// Reads `/proc/<pid>` (`"self"` for this process); `None` when the process is gone.
pub fn sample(pid: &str) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may itself contain spaces and parentheses.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Sample {
        at: Instant::now(),
        cpu_secs: (utime + stime) / TICKS_PER_SEC,
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

/// Cores used between two readings (1.0 = one core busy all the time).
pub fn cores(before: &Sample, after: &Sample) -> f64 {
    let secs = after.at.duration_since(before.at).as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    (after.cpu_secs - before.cpu_secs) / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = sample("self").expect("/proc/self is readable");
        assert!(s.rss_kib > 0);
        assert!(s.peak_kib >= s.rss_kib);
        assert!(sample("0").is_none(), "pid 0 has no /proc entry");
    }
}
