//! The `qoe` object of a stats report: which arm of the QoE experiment a viewer is in (P2P or
//! the HTTP-only control group), the site's `tag`, and what its playback was like.

use serde::{Deserialize, Serialize};

/// Longest `tag` accepted, in characters (the SDK's limit).
pub const MAX_TAG_LEN: usize = 20;
/// Longest startup time accepted: an hour (anything longer is a broken clock, not a startup).
const MAX_STARTUP_MS: u64 = 3_600_000;

/// The arm of the experiment: P2P delivery, or HTTP only (the control group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QoeGroup {
    P2p,
    Control,
}

impl QoeGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            QoeGroup::P2p => "p2p",
            QoeGroup::Control => "control",
        }
    }

    fn parse(s: &str) -> Option<QoeGroup> {
        match s {
            "p2p" => Some(QoeGroup::P2p),
            "control" => Some(QoeGroup::Control),
            _ => None,
        }
    }
}

/// A viewer's playback since page load. Times and bits are cumulative, like the byte counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QoeReport {
    pub group: QoeGroup,
    /// The site's label (e.g. a player version or an A/B arm), "" when none.
    pub tag: String,
    /// From the player's load to the first frame played; `None` until playback started.
    pub startup_ms: Option<u64>,
    /// Time spent playing.
    pub play_ms: u64,
    /// Time spent stalled after playback began (rebuffers, not seeks).
    pub rebuffer_ms: u64,
    /// The bitrate played integrated over the time played, in kilobits: the average bitrate
    /// is `played_kbit * 1000 / play_ms` kbit/s.
    pub played_kbit: u64,
}

/// `qoe` as it arrives: every field optional, checked by [`QoeIncoming::check`].
#[derive(serde::Deserialize)]
pub(super) struct QoeIncoming {
    group: Option<String>,
    tag: Option<String>,
    startup_ms: Option<super::client::LenientNumber>,
    play_ms: Option<super::client::LenientNumber>,
    rebuffer_ms: Option<super::client::LenientNumber>,
    played_kbit: Option<super::client::LenientNumber>,
}

impl QoeIncoming {
    pub(super) fn check(self) -> Result<QoeReport, String> {
        use super::client::counter;
        let group = self
            .group
            .ok_or("qoe.group is missing: \"p2p\" or \"control\"")?;
        let group = QoeGroup::parse(&group)
            .ok_or_else(|| format!("qoe.group must be \"p2p\" or \"control\", not {group:?}"))?;
        let tag = self.tag.unwrap_or_default();
        if tag.chars().count() > MAX_TAG_LEN || tag.chars().any(char::is_control) {
            return Err(format!(
                "qoe.tag must have at most {MAX_TAG_LEN} characters and no control characters"
            ));
        }
        let startup_ms = match self.startup_ms {
            None => None,
            Some(v) => {
                let ms = counter("qoe.startup_ms", Some(v))?;
                if ms > MAX_STARTUP_MS {
                    return Err(format!("qoe.startup_ms must be at most {MAX_STARTUP_MS}"));
                }
                Some(ms)
            }
        };
        Ok(QoeReport {
            group,
            tag,
            startup_ms,
            play_ms: counter("qoe.play_ms", self.play_ms)?,
            rebuffer_ms: counter("qoe.rebuffer_ms", self.rebuffer_ms)?,
            played_kbit: counter("qoe.played_kbit", self.played_kbit)?,
        })
    }
}

/// `qoe` as a client sends it.
#[derive(Serialize)]
pub(super) struct QoeOutgoing<'a> {
    group: QoeGroup,
    #[serde(skip_serializing_if = "str::is_empty")]
    tag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    startup_ms: Option<u64>,
    play_ms: u64,
    rebuffer_ms: u64,
    played_kbit: u64,
}

impl<'a> From<&'a QoeReport> for QoeOutgoing<'a> {
    fn from(q: &'a QoeReport) -> Self {
        QoeOutgoing {
            group: q.group,
            tag: &q.tag,
            startup_ms: q.startup_ms,
            play_ms: q.play_ms,
            rebuffer_ms: q.rebuffer_ms,
            played_kbit: q.played_kbit,
        }
    }
}

/// Totals of one (channel, group, tag), or of several summed.
///
/// Trackers keep them per group and serve them (`GET /qoe`); the console adds several
/// trackers' and derives the figures from the sums, so both use this one type. Reading is
/// lenient: an absent counter is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QoeTotals {
    /// Viewers that reported within the reporter TTL.
    pub viewers: u64,
    /// Viewers counted since the totals began (each page load once).
    pub sessions: u64,
    /// Viewers whose playback started, and the sum of their startup times.
    pub started: u64,
    pub startup_ms_sum: u64,
    /// Viewers that played at least a moment (what the play-time figures rest on).
    pub played: u64,
    pub play_ms: u64,
    pub rebuffers: u64,
    pub rebuffer_ms: u64,
    pub played_kbit: u64,
    /// Viewers that downloaded at least a byte (what the P2P share rests on).
    pub downloaded: u64,
    pub http_bytes: u64,
    pub p2p_bytes: u64,
    pub upload_bytes: u64,
}

impl QoeTotals {
    /// Adds another group's (or tracker's) totals.
    pub fn add(&mut self, o: &QoeTotals) {
        self.viewers = self.viewers.saturating_add(o.viewers);
        let pairs = [
            (&mut self.sessions, o.sessions),
            (&mut self.started, o.started),
            (&mut self.startup_ms_sum, o.startup_ms_sum),
            (&mut self.played, o.played),
            (&mut self.play_ms, o.play_ms),
            (&mut self.rebuffers, o.rebuffers),
            (&mut self.rebuffer_ms, o.rebuffer_ms),
            (&mut self.played_kbit, o.played_kbit),
            (&mut self.downloaded, o.downloaded),
            (&mut self.http_bytes, o.http_bytes),
            (&mut self.p2p_bytes, o.p2p_bytes),
            (&mut self.upload_bytes, o.upload_bytes),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The figures the dashboard compares, with what each rests on.
    pub fn summary(&self) -> QoeSummary {
        let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
        let watched = self.play_ms.saturating_add(self.rebuffer_ms);
        QoeSummary {
            totals: *self,
            startup_ms: ratio(self.startup_ms_sum, self.started),
            rebuffer_ratio: ratio(self.rebuffer_ms, watched),
            bitrate_kbps: ratio(self.played_kbit.saturating_mul(1000), self.play_ms),
            p2p_share: ratio(
                self.p2p_bytes,
                self.p2p_bytes.saturating_add(self.http_bytes),
            ),
        }
    }
}

/// Totals and the figures derived from them (`null` when nothing backs a figure yet).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QoeSummary {
    #[serde(flatten)]
    pub totals: QoeTotals,
    /// Mean startup time over `started` viewers.
    pub startup_ms: Option<f64>,
    /// Share of watching time spent stalled, over `played` viewers.
    pub rebuffer_ratio: Option<f64>,
    /// Average bitrate played, weighted by time played, over `played` viewers.
    pub bitrate_kbps: Option<f64>,
    /// Share of downloaded bytes that came from peers, over `downloaded` viewers.
    pub p2p_share: Option<f64>,
}
