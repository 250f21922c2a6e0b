//! Pure decisions of the master: how many workers each channel gets (capacity, priority,
//! scale-out), when a keepAlive worker is restarted (backoff), when an idle worker is reaped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the planner knows about one seeded channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDemand {
    pub channel_id: String,
    /// Higher wins when capacity is short.
    pub priority: i64,
    /// Order in which the channel was first seeded; older wins among equal priorities.
    pub order: u64,
    pub max_connections: u32,
    /// Peers connected to the channel's workers, summed.
    pub peers: u64,
    /// Workers running or about to be (re)started.
    pub workers: u32,
}

impl ChannelDemand {
    /// Workers this channel would like: keep what it has (at least one), plus one more when
    /// every worker is at `maxConnections`. Growth is one worker per planning round, so a
    /// new worker can fill up before the next is added.
    pub fn wanted(&self) -> u32 {
        let have = self.workers.max(1);
        let full = self.peers >= u64::from(self.max_connections) * u64::from(have);
        have + u32::from(full)
    }
}

/// How many worker processes the master runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slots {
    /// At most this many: one per channel, more for busy channels.
    UpTo(u32),
    /// Exactly this many while any channel is seeded (`POST /ping {workers}`): what busy
    /// channels do not take is spread over all channels, by priority.
    Forced(u32),
}

impl Slots {
    /// The number of worker processes this allows.
    pub fn count(self) -> u32 {
        match self {
            Slots::UpTo(n) | Slots::Forced(n) => n,
        }
    }
}

/// Splits worker processes among channels: first one worker each, by priority (then age),
/// then the extra workers busy channels want, in the same order, then (forced counts only)
/// the rest round-robin. A channel that gets 0 is queued until capacity frees up.
pub fn allocate(channels: &[ChannelDemand], slots: Slots) -> BTreeMap<String, u32> {
    let (slots, fill) = match slots {
        Slots::UpTo(n) => (n, false),
        Slots::Forced(n) => (n, true),
    };
    let mut order: Vec<&ChannelDemand> = channels.iter().collect();
    order.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.order.cmp(&b.order)));
    let mut left = slots;
    let mut out: BTreeMap<String, u32> =
        channels.iter().map(|c| (c.channel_id.clone(), 0)).collect();
    for c in &order {
        if left == 0 {
            break;
        }
        out.insert(c.channel_id.clone(), 1);
        left -= 1;
    }
    for c in &order {
        let extra = (c.wanted() - 1).min(left);
        if extra > 0 {
            *out.entry(c.channel_id.clone()).or_default() += extra;
            left -= extra;
        }
    }
    while fill && left > 0 && !order.is_empty() {
        for c in &order {
            if left == 0 {
                break;
            }
            *out.entry(c.channel_id.clone()).or_default() += 1;
            left -= 1;
        }
    }
    out
}

/// Restart delays of one channel's keepAlive workers: `min`, doubling up to `max`; a worker
/// that ran for `stable_after` counts as healthy and resets the sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    stable_after: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            stable_after: max.max(Duration::from_secs(10)),
            failures: 0,
        }
    }

    /// Delay before restarting a worker that died after running for `uptime`.
    pub fn next_delay(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.stable_after {
            self.failures = 0;
        }
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.failures = self.failures.saturating_add(1);
        self.min.saturating_mul(factor).min(self.max)
    }
}

/// Tracks how long a worker's swarm has been empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleClock {
    empty_since: Option<Instant>,
}

impl IdleClock {
    /// A new worker starts idle: nobody has connected yet.
    pub fn new(now: Instant) -> Self {
        Self {
            empty_since: Some(now),
        }
    }

    /// Records a report: `peers` connected to the worker, `swarm_peers` other members the
    /// tracker counts in the channel's swarms.
    pub fn observe(&mut self, now: Instant, peers: u64, swarm_peers: u64) {
        if peers > 0 || swarm_peers > 0 {
            self.empty_since = None;
        } else if self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
    }

    pub fn idle_for(&self, now: Instant) -> Duration {
        self.empty_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }
}

/// Whether an idle worker is stopped: never the last worker of a keepAlive channel;
/// any other worker once its swarm stayed empty for `reap_after`.
pub fn should_reap(
    keep_alive: bool,
    other_workers_of_channel: u32,
    idle_for: Duration,
    reap_after: Duration,
) -> bool {
    if keep_alive && other_workers_of_channel == 0 {
        return false;
    }
    idle_for >= reap_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(id: &str, priority: i64, order: u64, peers: u64, workers: u32) -> ChannelDemand {
        ChannelDemand {
            channel_id: id.into(),
            priority,
            order,
            max_connections: 80,
            peers,
            workers,
        }
    }

    #[test]
    fn a_forced_count_runs_exactly_that_many_workers_spread_over_channels() {
        let chans = [demand("hi", 5, 0, 0, 1), demand("lo", 0, 1, 0, 1)];
        let a = allocate(&chans, Slots::Forced(5));
        assert_eq!((a["hi"], a["lo"]), (3, 2));
        // Busy channels take their extra workers first.
        let chans = [demand("hi", 5, 0, 0, 1), demand("lo", 0, 1, 80, 1)];
        let a = allocate(&chans, Slots::Forced(3));
        assert_eq!((a["hi"], a["lo"]), (1, 2));
        assert!(allocate(&[], Slots::Forced(4)).is_empty());
    }

    #[test]
    fn every_channel_gets_one_worker_when_capacity_allows() {
        let a = allocate(
            &[demand("a", 0, 0, 0, 0), demand("b", 0, 1, 5, 1)],
            Slots::UpTo(8),
        );
        assert_eq!((a["a"], a["b"]), (1, 1));
    }

    #[test]
    fn full_workers_add_one_more() {
        assert_eq!(demand("a", 0, 0, 80, 1).wanted(), 2);
        assert_eq!(demand("a", 0, 0, 79, 1).wanted(), 1);
        assert_eq!(demand("a", 0, 0, 160, 2).wanted(), 3);
        let a = allocate(&[demand("a", 0, 0, 80, 1)], Slots::UpTo(8));
        assert_eq!(a["a"], 2);
    }

    #[test]
    fn priority_decides_who_yields() {
        let chans = [
            demand("low", 1, 0, 0, 1),
            demand("high", 9, 5, 0, 0),
            demand("mid", 5, 1, 0, 1),
        ];
        let a = allocate(&chans, Slots::UpTo(2));
        assert_eq!((a["high"], a["mid"], a["low"]), (1, 1, 0));
        // Equal priority: the older channel keeps its worker.
        let a = allocate(
            &[demand("new", 0, 7, 0, 0), demand("old", 0, 2, 0, 1)],
            Slots::UpTo(1),
        );
        assert_eq!((a["old"], a["new"]), (1, 0));
    }

    #[test]
    fn scale_out_comes_after_one_worker_each() {
        let chans = [demand("busy", 9, 0, 500, 1), demand("quiet", 0, 1, 0, 1)];
        let a = allocate(&chans, Slots::UpTo(2));
        assert_eq!((a["busy"], a["quiet"]), (1, 1));
        let a = allocate(&chans, Slots::UpTo(3));
        assert_eq!((a["busy"], a["quiet"]), (2, 1));
        let a = allocate(&chans, Slots::UpTo(0));
        assert_eq!((a["busy"], a["quiet"]), (0, 0));
    }

    #[test]
    fn backoff_doubles_caps_and_resets_after_a_stable_run() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
        let quick = Duration::from_millis(100);
        let delays: Vec<u64> = (0..6)
            .map(|_| b.next_delay(quick).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(b.next_delay(Duration::from_secs(60)).as_millis(), 500);
    }

    #[test]
    fn reaping_spares_the_last_keepalive_worker() {
        let long = Duration::from_secs(600);
        let after = Duration::from_secs(60);
        assert!(!should_reap(true, 0, long, after));
        assert!(should_reap(true, 1, long, after));
        assert!(should_reap(false, 0, long, after));
        assert!(!should_reap(false, 0, Duration::from_secs(59), after));
    }

    #[test]
    fn idle_clock_resets_on_peers() {
        let t0 = Instant::now();
        let mut c = IdleClock::new(t0);
        assert_eq!(
            c.idle_for(t0 + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        c.observe(t0 + Duration::from_secs(6), 1, 0);
        assert_eq!(c.idle_for(t0 + Duration::from_secs(9)), Duration::ZERO);
        c.observe(t0 + Duration::from_secs(10), 0, 2);
        assert_eq!(c.idle_for(t0 + Duration::from_secs(20)), Duration::ZERO);
        c.observe(t0 + Duration::from_secs(20), 0, 0);
        assert_eq!(
            c.idle_for(t0 + Duration::from_secs(25)),
            Duration::from_secs(5)
        );
    }
}
