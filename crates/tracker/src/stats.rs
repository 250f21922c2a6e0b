//! Stats ingest: per-channel aggregates from the cumulative counters our SDK reports.
//!
//! Each report carries counters since page load; the book keeps the last report of each
//! (info_hash, peer_id) and adds the difference to the channel's totals. Everything is
//! bounded: reporters and channels have caps and expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use wire::tracker::{InfoHash, PeerId, QualityCounters, StatsReport};

use crate::config::StatsConfig;

/// Aggregates of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelTotals {
    /// Viewers that reported within the reporter TTL.
    pub viewers: u32,
    pub http_bytes: u64,
    pub p2p_bytes: u64,
    pub upload_bytes: u64,
    pub rebuffers: u64,
    /// Player errors, segments that failed the integrity check and peers banned for them.
    pub quality: QualityCounters,
}

/// The counters a report carries, in a fixed order, so deltas are computed alike.
const COUNTERS: usize = 9;

fn counters_of(r: &StatsReport) -> [u64; COUNTERS] {
    let q = &r.quality;
    [
        r.http_down,
        r.p2p_down,
        r.p2p_up,
        r.rebuffers,
        q.errors_http,
        q.errors_peer,
        q.errors_superpeer,
        q.bad_segments,
        q.banned_peers,
    ]
}

fn add_quality(q: &mut QualityCounters, d: &[u64; COUNTERS]) {
    q.errors_http = q.errors_http.saturating_add(d[4]);
    q.errors_peer = q.errors_peer.saturating_add(d[5]);
    q.errors_superpeer = q.errors_superpeer.saturating_add(d[6]);
    q.bad_segments = q.bad_segments.saturating_add(d[7]);
    q.banned_peers = q.banned_peers.saturating_add(d[8]);
}

#[derive(Debug)]
struct Channel {
    totals: ChannelTotals,
    last_report: Instant,
}

#[derive(Debug)]
struct Reporter {
    channel: Arc<str>,
    last: [u64; COUNTERS],
    seen: Instant,
}

#[derive(Debug)]
pub struct StatsBook {
    config: StatsConfig,
    reporters: HashMap<(InfoHash, PeerId), Reporter>,
    channels: HashMap<Arc<str>, Channel>,
    /// The channel each info_hash was last reported under, and when.
    swarm_channels: HashMap<InfoHash, (Arc<str>, Instant)>,
    /// Quality counters of every report since the tracker started (for metrics).
    quality: QualityCounters,
}

impl StatsBook {
    pub fn new(config: StatsConfig) -> Self {
        StatsBook {
            config,
            reporters: HashMap::new(),
            channels: HashMap::new(),
            swarm_channels: HashMap::new(),
            quality: QualityCounters::default(),
        }
    }

    pub fn ingest(&mut self, r: StatsReport, now: Instant) -> Result<(), String> {
        let key = (r.info_hash, r.peer_id);
        if !self.reporters.contains_key(&key) && self.reporters.len() >= self.config.max_reporters {
            return Err(format!(
                "the tracker already follows {} viewers, the most allowed",
                self.config.max_reporters
            ));
        }
        let channel_name: Arc<str> = match self.channels.get_key_value(r.channel.as_str()) {
            Some((name, _)) => name.clone(),
            None if self.channels.len() >= self.config.max_channels => {
                return Err(format!(
                    "the tracker already follows {} channels, the most allowed",
                    self.config.max_channels
                ));
            }
            None => Arc::from(r.channel.as_str()),
        };
        let counters = counters_of(&r);
        let mut deltas = counters;
        match self.reporters.get_mut(&key) {
            Some(rep) if rep.channel == channel_name => {
                for (delta, (new, old)) in deltas.iter_mut().zip(counters.iter().zip(rep.last)) {
                    // A counter that went down was reset (e.g. a new player): count it anew.
                    *delta = if *new >= old { new - old } else { *new };
                }
                rep.last = counters;
                rep.seen = now;
            }
            Some(rep) => {
                // The viewer switched channel under the same ids.
                let old_channel = std::mem::replace(&mut rep.channel, channel_name.clone());
                rep.last = counters;
                rep.seen = now;
                if let Some(old) = self.channels.get_mut(&old_channel) {
                    old.totals.viewers -= 1;
                }
                self.channels
                    .entry(channel_name.clone())
                    .or_insert_with(|| new_channel(now))
                    .totals
                    .viewers += 1;
            }
            None => {
                self.reporters.insert(
                    key,
                    Reporter {
                        channel: channel_name.clone(),
                        last: counters,
                        seen: now,
                    },
                );
                self.channels
                    .entry(channel_name.clone())
                    .or_insert_with(|| new_channel(now))
                    .totals
                    .viewers += 1;
            }
        }
        let channel = self
            .channels
            .entry(channel_name.clone())
            .or_insert_with(|| new_channel(now));
        let t = &mut channel.totals;
        t.http_bytes = t.http_bytes.saturating_add(deltas[0]);
        t.p2p_bytes = t.p2p_bytes.saturating_add(deltas[1]);
        t.upload_bytes = t.upload_bytes.saturating_add(deltas[2]);
        t.rebuffers = t.rebuffers.saturating_add(deltas[3]);
        add_quality(&mut t.quality, &deltas);
        add_quality(&mut self.quality, &deltas);
        channel.last_report = now;
        self.swarm_channels.insert(r.info_hash, (channel_name, now));
        Ok(())
    }

    pub fn expire(&mut self, now: Instant) {
        let ttl = self.config.reporter_ttl;
        let channels = &mut self.channels;
        self.reporters.retain(|_, rep| {
            let live = now.saturating_duration_since(rep.seen) < ttl;
            if !live {
                if let Some(c) = channels.get_mut(&rep.channel) {
                    c.totals.viewers -= 1;
                }
            }
            live
        });
        let channel_ttl = self.config.channel_ttl;
        self.channels.retain(|_, c| {
            c.totals.viewers > 0 || now.saturating_duration_since(c.last_report) < channel_ttl
        });
        let channels = &self.channels;
        self.swarm_channels.retain(|_, (name, seen)| {
            channels.contains_key(name) && now.saturating_duration_since(*seen) < channel_ttl
        });
    }

    pub fn channel_of(&self, info_hash: &InfoHash) -> Option<(String, ChannelTotals)> {
        let (name, _) = self.swarm_channels.get(info_hash)?;
        let channel = self.channels.get(name)?;
        Some((name.to_string(), channel.totals))
    }

    /// Quality counters summed over every report since the tracker started.
    pub fn quality(&self) -> QualityCounters {
        self.quality
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn reporter_count(&self) -> usize {
        self.reporters.len()
    }
}

fn new_channel(now: Instant) -> Channel {
    Channel {
        totals: ChannelTotals::default(),
        last_report: now,
    }
}
