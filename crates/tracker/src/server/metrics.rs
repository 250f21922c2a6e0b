//! Prometheus metrics, kept in atomics and rendered in the text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::admission::{Refused, Scope};
use crate::swarm::Counts;

use super::outbox::FrameKind;

/// Kinds of client message, for `tracker_messages_in_total{type}`.
#[derive(Debug, Clone, Copy)]
pub enum InKind {
    Announce,
    Answer,
    Scrape,
    Stats,
    Invalid,
}

const IN_KINDS: [&str; 5] = ["announce", "answer", "scrape", "stats", "invalid"];
const OUT_KINDS: [&str; 4] = ["response", "offer", "answer", "error"];
const REJECT_REASONS: [&str; 5] = [
    "token",
    "origin",
    "connections_total",
    "connections_per_ip",
    "token_expired",
];
const REFUSED_REASONS: [&str; 6] = [
    "announce_rate_connection",
    "announce_rate_ip",
    "offer_rate_connection",
    "offer_rate_ip",
    "unknown_swarm",
    "other_channel",
];
const CLOSE_REASONS: [&str; 5] = [
    "slow_reader",
    "write_timeout",
    "idle",
    "message_too_big",
    "protocol_error",
];
/// Upper bounds of the relay latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Why a connection was refused at upgrade time.
#[derive(Debug, Clone, Copy)]
pub enum Reject {
    Token,
    Origin,
    ConnectionsTotal,
    ConnectionsPerIp,
    TokenExpired,
}

/// Why the tracker closed a connection.
#[derive(Debug, Clone, Copy)]
pub enum Closed {
    SlowReader,
    WriteTimeout,
    Idle,
    MessageTooBig,
    /// A malformed frame, invalid UTF-8 or a bad close frame.
    ProtocolError,
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub connections_accepted: AtomicU64,
    messages_in: [AtomicU64; 5],
    messages_out: [AtomicU64; 4],
    dropped: [AtomicU64; 4],
    rejected: [AtomicU64; 5],
    refused: [AtomicU64; 6],
    closed: [AtomicU64; 5],
    pub stats_posts: AtomicU64,
    latency_buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
}

fn out_index(kind: FrameKind) -> usize {
    match kind {
        FrameKind::Response => 0,
        FrameKind::Offer => 1,
        FrameKind::Answer => 2,
        FrameKind::Error => 3,
    }
}

impl Metrics {
    pub fn message_in(&self, kind: InKind) {
        self.messages_in[kind as usize].fetch_add(1, Relaxed);
    }

    /// Client messages received, all types together.
    pub fn messages_in_total(&self) -> u64 {
        self.messages_in.iter().map(|m| m.load(Relaxed)).sum()
    }

    pub fn message_out(&self, kind: FrameKind) {
        self.messages_out[out_index(kind)].fetch_add(1, Relaxed);
    }

    pub fn dropped(&self, kind: FrameKind) {
        self.dropped[out_index(kind)].fetch_add(1, Relaxed);
    }

    pub fn rejected(&self, reason: Reject) {
        self.rejected[reason as usize].fetch_add(1, Relaxed);
    }

    /// A message refused by admission (rate limits, private tracker, viewer token), or for
    /// the offer limits, `n` offers dropped.
    pub fn refused(&self, why: Refused, n: u64) {
        let i = match why {
            Refused::AnnounceRate(Scope::Connection) => 0,
            Refused::AnnounceRate(Scope::Ip) => 1,
            Refused::OfferRate(Scope::Connection) => 2,
            Refused::OfferRate(Scope::Ip) => 3,
            Refused::UnknownSwarm => 4,
            Refused::OtherChannel => 5,
        };
        self.refused[i].fetch_add(n, Relaxed);
    }

    pub fn closed(&self, reason: Closed) {
        self.closed[reason as usize].fetch_add(1, Relaxed);
    }

    /// Time from reading an offer or answer to writing it to its target's socket.
    pub fn relay_latency(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_nanos
            .fetch_add(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64, Relaxed);
    }

    /// The text exposition, with the swarm gauges from `counts`.
    pub fn render(&self, counts: &Counts) -> String {
        let mut s = String::with_capacity(4096);
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "tracker_connections",
            "Open WebSocket connections.",
            self.connections.load(Relaxed),
        );
        gauge("tracker_peers", "Peers in all swarms.", counts.peers as u64);
        gauge(
            "tracker_seeders",
            "Peers that announced left=0 or completed.",
            counts.seeders as u64,
        );
        gauge(
            "tracker_swarms",
            "Swarms (info_hashes) with at least one peer.",
            counts.swarms as u64,
        );
        gauge(
            "tracker_channels",
            "Channels known from stats reports.",
            counts.channels as u64,
        );
        gauge(
            "tracker_viewers",
            "Viewers that sent a stats report recently.",
            counts.viewers as u64,
        );
        let mut counter =
            |name: &str, help: &str, label: &str, names: &[&str], values: &[AtomicU64]| {
                let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
                for (n, v) in names.iter().zip(values) {
                    let _ = writeln!(s, "{name}{{{label}=\"{n}\"}} {}", v.load(Relaxed));
                }
            };
        counter(
            "tracker_messages_in_total",
            "Client messages received, by type.",
            "type",
            &IN_KINDS,
            &self.messages_in,
        );
        counter(
            "tracker_messages_out_total",
            "Messages queued to clients, by type.",
            "type",
            &OUT_KINDS,
            &self.messages_out,
        );
        counter(
            "tracker_dropped_messages_total",
            "Messages dropped by the slow-reader policy, by type.",
            "type",
            &OUT_KINDS,
            &self.dropped,
        );
        counter(
            "tracker_rejected_connections_total",
            "WebSocket upgrades refused, by reason.",
            "reason",
            &REJECT_REASONS,
            &self.rejected,
        );
        counter(
            "tracker_refused_messages_total",
            "Messages refused by rate limits, the private tracker's list or a viewer token's channel, by reason (offer_rate_*: offers dropped).",
            "reason",
            &REFUSED_REASONS,
            &self.refused,
        );
        counter(
            "tracker_closed_connections_total",
            "Connections closed by the tracker, by reason.",
            "reason",
            &CLOSE_REASONS,
            &self.closed,
        );
        let _ = writeln!(
            s,
            "# HELP tracker_connections_accepted_total WebSocket connections accepted.\n# TYPE tracker_connections_accepted_total counter\ntracker_connections_accepted_total {}",
            self.connections_accepted.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP tracker_stats_posts_total Stats reports received by POST /stats.\n# TYPE tracker_stats_posts_total counter\ntracker_stats_posts_total {}",
            self.stats_posts.load(Relaxed)
        );
        let q = &counts.quality;
        let _ = writeln!(
            s,
            "# HELP tracker_playback_errors_total Viewers' player errors (parsing, decoding), by where the segment came from.\n# TYPE tracker_playback_errors_total counter"
        );
        for (source, n) in [
            ("http", q.errors_http),
            ("peer", q.errors_peer),
            ("superpeer", q.errors_superpeer),
        ] {
            let _ = writeln!(
                s,
                "tracker_playback_errors_total{{source=\"{source}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP tracker_bad_segments_total Segments from peers that failed viewers' integrity checks (dropped, never played).\n# TYPE tracker_bad_segments_total counter\ntracker_bad_segments_total {}",
            q.bad_segments
        );
        let _ = writeln!(
            s,
            "# HELP tracker_banned_peers_total Peers viewers banned for sending bad segments.\n# TYPE tracker_banned_peers_total counter\ntracker_banned_peers_total {}",
            q.banned_peers
        );
        let name = "tracker_relay_latency_seconds";
        let _ = writeln!(s, "# HELP {name} Time from reading an offer or answer to writing it to the target socket.\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let total = self.latency_count.load(Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.latency_sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "{name}_sum {sum}\n{name}_count {total}");
        s
    }
}
