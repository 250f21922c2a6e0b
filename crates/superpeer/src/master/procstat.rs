//! CPU and memory of worker processes, read from Linux `/proc` (zeros elsewhere).

use std::time::Instant;

/// Kernel clock ticks per second as exposed in `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// `utime + stime` in ticks from the text of `/proc/<pid>/stat`. The command name may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size in KiB from the text of `/proc/<pid>/status`.
pub fn rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU usage between two samples of one process, in percent of one core.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    last: Option<(Instant, u64)>,
    pub percent: f64,
    pub rss_mb: f64,
}

impl CpuMeter {
    pub fn update(&mut self, now: Instant, ticks: u64) {
        if let Some((t, prev)) = self.last {
            let secs = now.saturating_duration_since(t).as_secs_f64();
            if secs > 0.05 {
                self.percent = (ticks.saturating_sub(prev) as f64 / USER_HZ) / secs * 100.0;
            } else {
                return;
            }
        }
        self.last = Some((now, ticks));
    }

    /// Reads `/proc/<pid>` and updates the meter; leaves it unchanged when unreadable.
    pub fn sample(&mut self, pid: u32, now: Instant) {
        if let Some(ticks) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(cpu_ticks)
        {
            self.update(now, ticks);
        }
        if let Some(kib) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .as_deref()
            .and_then(rss_kib)
        {
            self.rss_mb = kib as f64 / 1024.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "4242 (my (odd) worker) S 1 4242 4242 0 -1 4194304 500 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_rss() {
        assert_eq!(
            rss_kib("Name:\tx\nVmRSS:\t   10240 kB\nThreads: 2\n"),
            Some(10240)
        );
        assert_eq!(rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn percent_of_one_core() {
        let t0 = Instant::now();
        let mut m = CpuMeter::default();
        m.update(t0, 1000);
        m.update(t0 + Duration::from_secs(2), 1100);
        assert!((m.percent - 50.0).abs() < 1e-9);
    }

    #[test]
    fn reads_this_process() {
        let mut m = CpuMeter::default();
        m.sample(std::process::id(), Instant::now());
        if cfg!(target_os = "linux") {
            assert!(m.rss_mb > 0.0);
        }
    }
}
