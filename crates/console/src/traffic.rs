//! Traffic history: turns the tracker's cumulative per-channel counters into per-interval
//! points, which the store rolls up into fixed buckets (e.g. 10 s for an hour, 1 min for a
//! day). The key `""` holds the sum over all channels.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::tracker::ChannelRank;

/// The key under which the all-channels total is stored.
pub const OVERALL: &str = "";

/// One rollup level: buckets of `step_secs`, kept for `keep_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub step_secs: u32,
    pub keep_secs: u32,
}

/// The default levels: 10 s points for an hour, 1 min points for a day.
pub const DEFAULT_RESOLUTIONS: [Resolution; 2] = [
    Resolution {
        step_secs: 10,
        keep_secs: 3600,
    },
    Resolution {
        step_secs: 60,
        keep_secs: 86_400,
    },
];

/// What happened in one channel between two tracker polls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficPoint {
    /// A gauge: viewers at the poll (the bucket keeps its peak).
    pub viewers: u32,
    pub http_bytes: u64,
    pub p2p_bytes: u64,
    pub upload_bytes: u64,
    pub rebuffers: u64,
}

/// A channel's history, column-wise (the shape chart libraries take).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrafficSeries {
    pub channel: String,
    pub step_secs: u32,
    pub ts: Vec<i64>,
    pub viewers: Vec<u32>,
    pub http_bytes: Vec<u64>,
    pub p2p_bytes: Vec<u64>,
    pub upload_bytes: Vec<u64>,
    pub rebuffers: Vec<u64>,
}

/// Remembers the last cumulative totals per (tracker, channel) to compute deltas.
#[derive(Debug, Default)]
pub struct TrafficMeter {
    last: HashMap<(usize, String), [u64; 4]>,
}

impl TrafficMeter {
    /// Points for one poll of every tracker (`polls[i]` is tracker i's ranking, `None` when
    /// it could not be reached). A channel seen for the first time only sets the baseline, so
    /// a console started late does not book a tracker's whole past into one bucket; a counter
    /// that went down (tracker restarted, channel expired) counts from zero again.
    /// At most `max_channels` channels (the most watched) get their own series; all count in
    /// the overall one.
    pub fn points(
        &mut self,
        polls: &[Option<&[ChannelRank]>],
        max_channels: usize,
    ) -> Vec<(String, TrafficPoint)> {
        let mut per_channel: HashMap<String, TrafficPoint> = HashMap::new();
        for (tracker, poll) in polls.iter().enumerate() {
            let Some(ranking) = poll else { continue };
            let mut seen = HashSet::new();
            for c in *ranking {
                let now = [c.http_bytes, c.p2p_bytes, c.upload_bytes, c.rebuffers];
                let key = (tracker, c.channel.clone());
                let delta = match self.last.insert(key.clone(), now) {
                    None => [0; 4],
                    Some(prev) => {
                        let mut d = [0u64; 4];
                        for i in 0..4 {
                            d[i] = if now[i] >= prev[i] {
                                now[i] - prev[i]
                            } else {
                                now[i]
                            };
                        }
                        d
                    }
                };
                seen.insert(key);
                let p = per_channel.entry(c.channel.clone()).or_default();
                p.viewers = p.viewers.saturating_add(c.viewers);
                p.http_bytes = p.http_bytes.saturating_add(delta[0]);
                p.p2p_bytes = p.p2p_bytes.saturating_add(delta[1]);
                p.upload_bytes = p.upload_bytes.saturating_add(delta[2]);
                p.rebuffers = p.rebuffers.saturating_add(delta[3]);
            }
            // Forget channels this tracker no longer lists, so memory stays bounded.
            self.last.retain(|k, _| k.0 != tracker || seen.contains(k));
        }
        let mut overall = TrafficPoint::default();
        for p in per_channel.values() {
            overall.viewers = overall.viewers.saturating_add(p.viewers);
            overall.http_bytes = overall.http_bytes.saturating_add(p.http_bytes);
            overall.p2p_bytes = overall.p2p_bytes.saturating_add(p.p2p_bytes);
            overall.upload_bytes = overall.upload_bytes.saturating_add(p.upload_bytes);
            overall.rebuffers = overall.rebuffers.saturating_add(p.rebuffers);
        }
        let mut channels: Vec<(String, TrafficPoint)> = per_channel.into_iter().collect();
        channels.sort_by(|a, b| {
            b.1.viewers
                .cmp(&a.1.viewers)
                .then_with(|| {
                    (b.1.http_bytes + b.1.p2p_bytes).cmp(&(a.1.http_bytes + a.1.p2p_bytes))
                })
                .then_with(|| a.0.cmp(&b.0))
        });
        channels.truncate(max_channels);
        channels.push((OVERALL.to_owned(), overall));
        channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(channel: &str, viewers: u32, http: u64, p2p: u64) -> ChannelRank {
        ChannelRank {
            channel: channel.into(),
            viewers,
            http_bytes: http,
            p2p_bytes: p2p,
            ..ChannelRank::default()
        }
    }

    fn get<'a>(points: &'a [(String, TrafficPoint)], ch: &str) -> &'a TrafficPoint {
        &points.iter().find(|(c, _)| c == ch).unwrap().1
    }

    #[test]
    fn deltas_baselines_and_resets() {
        let mut m = TrafficMeter::default();
        let first = [rank("a", 2, 1000, 5000)];
        let p = m.points(&[Some(&first)], 10);
        assert_eq!(get(&p, "a").http_bytes, 0, "first sight is a baseline");
        assert_eq!(get(&p, "a").viewers, 2);
        let second = [rank("a", 3, 1500, 9000), rank("b", 1, 10, 0)];
        let p = m.points(&[Some(&second)], 10);
        assert_eq!(get(&p, "a").http_bytes, 500);
        assert_eq!(get(&p, "a").p2p_bytes, 4000);
        assert_eq!(get(&p, OVERALL).viewers, 4);
        assert_eq!(get(&p, OVERALL).p2p_bytes, 4000);
        // Tracker restarted: counters start over.
        let third = [rank("a", 1, 200, 300)];
        let p = m.points(&[Some(&third)], 10);
        assert_eq!(get(&p, "a").http_bytes, 200);
        assert_eq!(get(&p, "a").p2p_bytes, 300);
    }

    #[test]
    fn trackers_sum_and_channels_are_capped() {
        let mut m = TrafficMeter::default();
        let t1 = [rank("a", 2, 0, 0), rank("b", 5, 0, 0), rank("c", 1, 0, 0)];
        let t2 = [rank("a", 4, 0, 0)];
        let p = m.points(&[Some(&t1), None, Some(&t2)], 2);
        let names: Vec<&str> = p.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["a", "b", OVERALL]);
        assert_eq!(get(&p, "a").viewers, 6);
        assert_eq!(get(&p, OVERALL).viewers, 12);
    }
}
