//! The `qoe` object of a stats report: which arm of the QoE experiment a viewer is in (P2P or
//! the HTTP-only control group), the site's `tag`, and what its playback was like.

use serde::Serialize;

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
