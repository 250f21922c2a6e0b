//! The QoE control-group figures: each tracker's `GET /qoe`, polled with its channel list and
//! merged over trackers, both groups of each channel side by side.
//!
//! Trackers send totals (sums and viewer counts); the figures (mean startup, rebuffer ratio,
//! bitrate, P2P share) are computed here from the merged totals, so several trackers add up
//! right. Parsing is lenient (absent numbers are 0), and a tracker without the endpoint (404)
//! has no QoE to show rather than failing the poll.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wire::tracker::{QoeSummary, QoeTotals};

/// One channel's QoE from one or several trackers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelQoe {
    pub channel: String,
    pub p2p: QoeTotals,
    pub control: QoeTotals,
    /// By (group, tag).
    pub tags: BTreeMap<(String, String), QoeTotals>,
}

impl ChannelQoe {
    fn add(&mut self, o: &ChannelQoe) {
        self.p2p.add(&o.p2p);
        self.control.add(&o.control);
        for (k, t) in &o.tags {
            self.tags.entry(k.clone()).or_default().add(t);
        }
    }

    pub fn view(&self) -> ChannelQoeView {
        ChannelQoeView {
            channel: self.channel.clone(),
            p2p: self.p2p.summary(),
            control: self.control.summary(),
            tags: self
                .tags
                .iter()
                .map(|((group, tag), t)| TagView {
                    group: group.clone(),
                    tag: tag.clone(),
                    qoe: t.summary(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelQoeView {
    pub channel: String,
    pub p2p: QoeSummary,
    pub control: QoeSummary,
    pub tags: Vec<TagView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagView {
    pub group: String,
    pub tag: String,
    #[serde(flatten)]
    pub qoe: QoeSummary,
}

/// The last QoE poll of every tracker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QoeSnapshot {
    /// Channels with viewers in the control group first, then by viewers.
    pub channels: Vec<ChannelQoeView>,
    pub polled_at: i64,
    /// One message per tracker that failed.
    pub errors: Vec<String>,
}

/// A group's totals as a tracker sent them; what cannot be read counts as none.
fn totals(v: Option<&Value>) -> QoeTotals {
    v.and_then(|v| QoeTotals::deserialize(v).ok())
        .unwrap_or_default()
}

/// Parses a `GET /qoe` body: `{"channels": [{"channel", "p2p", "control", "tags"}]}`.
pub fn parse_qoe(body: &Value) -> Result<Vec<ChannelQoe>, String> {
    let list = body
        .get("channels")
        .and_then(Value::as_array)
        .ok_or("expected {\"channels\": [...]}")?;
    Ok(list
        .iter()
        .filter_map(|c| {
            let channel = c.get("channel")?.as_str()?.to_owned();
            let tags = c
                .get("tags")
                .and_then(Value::as_array)
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| {
                            let group = t.get("group")?.as_str()?.to_owned();
                            let tag = t.get("tag").and_then(Value::as_str).unwrap_or("");
                            Some(((group, tag.to_owned()), totals(Some(t))))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(ChannelQoe {
                channel,
                p2p: totals(c.get("p2p")),
                control: totals(c.get("control")),
                tags,
            })
        })
        .collect())
}

/// The polls of several trackers as one list: a channel's totals add up over trackers.
pub fn merge(polls: &[Vec<ChannelQoe>]) -> Vec<ChannelQoeView> {
    let mut by_channel: BTreeMap<&str, ChannelQoe> = BTreeMap::new();
    for c in polls.iter().flatten() {
        by_channel
            .entry(&c.channel)
            .or_insert_with(|| ChannelQoe {
                channel: c.channel.clone(),
                ..ChannelQoe::default()
            })
            .add(c);
    }
    let mut out: Vec<ChannelQoe> = by_channel.into_values().collect();
    let key = |c: &ChannelQoe| {
        (
            std::cmp::Reverse(c.control.sessions > 0),
            std::cmp::Reverse(c.p2p.viewers + c.control.viewers),
        )
    };
    out.sort_by_key(key);
    out.iter().map(ChannelQoe::view).collect()
}

/// `GET {tracker}/qoe?limit=1000`; a tracker without it (404) has nothing to show.
pub async fn poll(http: &reqwest::Client, base_url: &str) -> Result<Vec<ChannelQoe>, String> {
    let url = format!("{}/qoe?limit=1000", base_url.trim_end_matches('/'));
    let resp = crate::http::send(http.get(&url), crate::http::Retry::Once)
        .await
        .map_err(|e| format!("{url}: {}", crate::http::describe(&e)))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url}: bad JSON: {e}"))?;
    parse_qoe(&body).map_err(|e| format!("{url}: {e}"))
}

/// Polls every tracker's QoE and merges it.
pub async fn poll_all(http: &reqwest::Client, trackers: &[String], now: i64) -> QoeSnapshot {
    let mut polls = Vec::new();
    let mut errors = Vec::new();
    for t in trackers {
        match poll(http, t).await {
            Ok(p) => polls.push(p),
            Err(e) => {
                tracing::debug!(error = %e, "tracker QoE poll failed");
                errors.push(e);
            }
        }
    }
    QoeSnapshot {
        channels: merge(&polls),
        polled_at: now,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tracker(viewers_p2p: u64, viewers_control: u64) -> Value {
        json!({"channels": [{"channel": "c",
            "p2p": {"viewers": viewers_p2p, "sessions": viewers_p2p, "started": viewers_p2p,
                    "startup_ms_sum": 900 * viewers_p2p, "played": viewers_p2p, "play_ms": 9000,
                    "rebuffer_ms": 1000, "played_kbit": 18000, "downloaded": viewers_p2p,
                    "http_bytes": 100, "p2p_bytes": 300, "startup_ms": 900.0},
            "control": {"viewers": viewers_control, "sessions": viewers_control,
                        "started": viewers_control, "startup_ms_sum": 1200 * viewers_control,
                        "played": viewers_control, "play_ms": 10000, "played_kbit": 10000,
                        "downloaded": viewers_control, "http_bytes": 400},
            "tags": [{"group": "control", "tag": "b", "viewers": viewers_control},
                     {"group": "p2p", "tag": "", "viewers": viewers_p2p}]}]})
    }

    #[test]
    fn figures_come_from_totals_merged_over_trackers() {
        let a = parse_qoe(&tracker(2, 1)).unwrap();
        let b = parse_qoe(&tracker(1, 0)).unwrap();
        let merged = merge(&[a, b]);
        assert_eq!(merged.len(), 1);
        let c = &merged[0];
        assert_eq!((c.p2p.totals.viewers, c.control.totals.viewers), (3, 1));
        assert_eq!(c.p2p.startup_ms, Some(900.0));
        assert_eq!(c.p2p.rebuffer_ratio, Some(0.1));
        assert_eq!(c.p2p.bitrate_kbps, Some(2000.0));
        assert_eq!(c.p2p.p2p_share, Some(0.75));
        assert_eq!(c.control.startup_ms, Some(1200.0));
        assert_eq!(
            (c.control.p2p_share, c.control.rebuffer_ratio),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(c.tags.len(), 2);
        assert_eq!(
            (c.tags[0].group.as_str(), c.tags[0].tag.as_str()),
            ("control", "b")
        );
        assert_eq!(c.tags[1].qoe.totals.viewers, 3);
    }

    #[test]
    fn a_group_without_viewers_has_no_figures_and_bad_bodies_are_errors() {
        let only_p2p = json!({"channels": [{"channel": "c", "p2p": {"viewers": 1}}]});
        let c = &merge(&[parse_qoe(&only_p2p).unwrap()])[0];
        assert_eq!(c.control.totals, QoeTotals::default());
        assert_eq!(
            (
                c.control.startup_ms,
                c.control.rebuffer_ratio,
                c.control.bitrate_kbps,
                c.control.p2p_share
            ),
            (None, None, None, None)
        );
        assert!(parse_qoe(&json!([1, 2])).is_err());
        // Entries without a channel id are skipped, not fatal.
        assert!(parse_qoe(&json!({"channels": [{"p2p": {}}]}))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn channels_with_a_control_group_come_first() {
        let body = json!({"channels": [
            {"channel": "busy", "p2p": {"viewers": 50}},
            {"channel": "tested", "p2p": {"viewers": 5}, "control": {"viewers": 1, "sessions": 1}}]});
        let merged = merge(&[parse_qoe(&body).unwrap()]);
        let names: Vec<&str> = merged.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(names, ["tested", "busy"]);
    }
}
