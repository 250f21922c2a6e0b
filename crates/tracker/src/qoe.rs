//! QoE of the control-group experiment: playback quality per channel, group (P2P or the
//! HTTP-only control group) and tag, from the `qoe` object of our SDK's stats reports.
//!
//! Like the channel totals of [`crate::stats`], reports carry counters since page load; the
//! book keeps each viewer's last report and adds the increase to its group's totals, so a
//! report that is refused or lost costs nothing: the next one carries it. Viewers and groups
//! are capped and expire.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wire::tracker::{InfoHash, PeerId, QoeGroup, StatsReport};
pub use wire::tracker::{QoeSummary, QoeTotals};

/// Bounds of the QoE book.
#[derive(Debug, Clone)]
pub struct QoeConfig {
    /// A viewer that has not reported for this long no longer counts as watching.
    pub reporter_ttl: Duration,
    /// A (channel, group, tag) without viewers for this long is forgotten, totals included.
    pub group_ttl: Duration,
    /// Viewers followed at once; reports from new viewers beyond this are refused.
    pub max_reporters: usize,
    /// (channel, group, tag) triples followed at once; reports for new ones are refused.
    pub max_groups: usize,
}

impl Default for QoeConfig {
    fn default() -> Self {
        QoeConfig {
            reporter_ttl: Duration::from_secs(30),
            group_ttl: Duration::from_secs(3600),
            max_reporters: 200_000,
            max_groups: 10_000,
        }
    }
}

/// Where a viewer's reports are added up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupKey {
    channel: Arc<str>,
    group: QoeGroup,
    tag: Arc<str>,
}

/// The counters a report carries, in a fixed order: bytes http, p2p, up; rebuffers, their
/// time, play time, kilobits played.
const COUNTERS: usize = 7;

fn counters_of(r: &StatsReport, play_ms: u64, rebuffer_ms: u64, played_kbit: u64) -> [u64; 7] {
    [
        r.http_down,
        r.p2p_down,
        r.p2p_up,
        r.rebuffers,
        rebuffer_ms,
        play_ms,
        played_kbit,
    ]
}

#[derive(Debug)]
struct Reporter {
    key: GroupKey,
    last: [u64; COUNTERS],
    started: bool,
    played: bool,
    downloaded: bool,
    seen: Instant,
}

#[derive(Debug)]
struct Group {
    totals: QoeTotals,
    last_report: Instant,
}

#[derive(Debug)]
pub struct QoeBook {
    config: QoeConfig,
    reporters: HashMap<(InfoHash, PeerId), Reporter>,
    groups: HashMap<GroupKey, Group>,
}

impl QoeBook {
    pub fn new(config: QoeConfig) -> Self {
        QoeBook {
            config,
            reporters: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// Takes the `qoe` part of a report (reports without one are not part of the experiment).
    pub fn ingest(&mut self, r: &StatsReport, now: Instant) -> Result<(), String> {
        let Some(q) = &r.qoe else {
            return Ok(());
        };
        let id = (r.info_hash, r.peer_id);
        let known = self.reporters.get(&id).map(|rep| &rep.key);
        let same_group = known
            .is_some_and(|k| *k.channel == *r.channel && k.group == q.group && *k.tag == *q.tag);
        if known.is_none() && self.reporters.len() >= self.config.max_reporters {
            return Err(format!(
                "the tracker already follows the QoE of {} viewers, the most allowed",
                self.config.max_reporters
            ));
        }
        let key = GroupKey {
            channel: Arc::from(r.channel.as_str()),
            group: q.group,
            tag: Arc::from(q.tag.as_str()),
        };
        if !self.groups.contains_key(&key) && self.groups.len() >= self.config.max_groups {
            return Err(format!(
                "the tracker already follows {} QoE groups (channel, group, tag), the most allowed",
                self.config.max_groups
            ));
        }
        if !same_group {
            // A new viewer, or one that moved (new channel or tag under the same ids): it
            // starts a session in its new group, all its counters counting there.
            if let Some(old) = self.reporters.remove(&id) {
                if let Some(g) = self.groups.get_mut(&old.key) {
                    g.totals.viewers -= 1;
                }
            }
            let group = self.groups.entry(key.clone()).or_insert(Group {
                totals: QoeTotals::default(),
                last_report: now,
            });
            group.totals.viewers += 1;
            group.totals.sessions += 1;
            self.reporters.insert(
                id,
                Reporter {
                    key: key.clone(),
                    last: [0; COUNTERS],
                    started: false,
                    played: false,
                    downloaded: false,
                    seen: now,
                },
            );
        }
        let (Some(rep), Some(group)) = (self.reporters.get_mut(&id), self.groups.get_mut(&key))
        else {
            return Ok(());
        };
        let counters = counters_of(r, q.play_ms, q.rebuffer_ms, q.played_kbit);
        let mut d = [0u64; COUNTERS];
        for (delta, (new, old)) in d.iter_mut().zip(counters.iter().zip(rep.last)) {
            // A counter that went down was reset (e.g. a new player): count it anew.
            *delta = if *new >= old { new - old } else { *new };
        }
        rep.last = counters;
        rep.seen = now;
        let t = &mut group.totals;
        t.http_bytes = t.http_bytes.saturating_add(d[0]);
        t.p2p_bytes = t.p2p_bytes.saturating_add(d[1]);
        t.upload_bytes = t.upload_bytes.saturating_add(d[2]);
        t.rebuffers = t.rebuffers.saturating_add(d[3]);
        t.rebuffer_ms = t.rebuffer_ms.saturating_add(d[4]);
        t.play_ms = t.play_ms.saturating_add(d[5]);
        t.played_kbit = t.played_kbit.saturating_add(d[6]);
        // Startup happens once per session: its first report with a startup time counts.
        if let (false, Some(ms)) = (rep.started, q.startup_ms) {
            rep.started = true;
            t.started += 1;
            t.startup_ms_sum = t.startup_ms_sum.saturating_add(ms);
        }
        if !rep.played && q.play_ms > 0 {
            rep.played = true;
            t.played += 1;
        }
        if !rep.downloaded && r.http_down.saturating_add(r.p2p_down) > 0 {
            rep.downloaded = true;
            t.downloaded += 1;
        }
        group.last_report = now;
        Ok(())
    }

    pub fn expire(&mut self, now: Instant) {
        let ttl = self.config.reporter_ttl;
        let groups = &mut self.groups;
        self.reporters.retain(|_, rep| {
            let live = now.saturating_duration_since(rep.seen) < ttl;
            if !live {
                if let Some(g) = groups.get_mut(&rep.key) {
                    g.totals.viewers -= 1;
                }
            }
            live
        });
        let group_ttl = self.config.group_ttl;
        self.groups.retain(|_, g| {
            g.totals.viewers > 0 || now.saturating_duration_since(g.last_report) < group_ttl
        });
    }

    /// Every channel (or only `channel`), by name, at most `limit` channels.
    pub fn view(&self, channel: Option<&str>, limit: usize) -> Vec<ChannelQoe> {
        let mut by_channel: BTreeMap<&str, Vec<(&GroupKey, &QoeTotals)>> = BTreeMap::new();
        for (k, g) in &self.groups {
            if channel.is_none_or(|c| c == &*k.channel) {
                by_channel
                    .entry(&k.channel)
                    .or_default()
                    .push((k, &g.totals));
            }
        }
        by_channel
            .into_iter()
            .take(limit)
            .map(|(name, mut entries)| {
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut p2p = QoeTotals::default();
                let mut control = QoeTotals::default();
                let mut tags = Vec::new();
                for (k, t) in entries {
                    match k.group {
                        QoeGroup::P2p => p2p.add(t),
                        QoeGroup::Control => control.add(t),
                    }
                    tags.push(TagQoe {
                        group: k.group.as_str(),
                        tag: k.tag.to_string(),
                        qoe: t.summary(),
                    });
                }
                ChannelQoe {
                    channel: name.to_string(),
                    p2p: p2p.summary(),
                    control: control.summary(),
                    tags,
                }
            })
            .collect()
    }

    pub fn reporter_count(&self) -> usize {
        self.reporters.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
}

/// One channel in `GET /qoe`: both groups (all tags summed), and each (group, tag).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelQoe {
    pub channel: String,
    pub p2p: QoeSummary,
    pub control: QoeSummary,
    pub tags: Vec<TagQoe>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagQoe {
    pub group: &'static str,
    pub tag: String,
    #[serde(flatten)]
    pub qoe: QoeSummary,
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::tracker::{Id20, QoeReport, QualityCounters};

    fn report(peer: u8, channel: &str, group: QoeGroup, tag: &str, n: [u64; 7]) -> StatsReport {
        StatsReport {
            info_hash: Id20([1; 20]),
            peer_id: Id20([peer; 20]),
            channel: channel.into(),
            http_down: n[0],
            p2p_down: n[1],
            p2p_up: n[2],
            peers: 0,
            rebuffers: n[3],
            quality: QualityCounters::default(),
            qoe: Some(QoeReport {
                group,
                tag: tag.into(),
                startup_ms: (n[5] > 0).then_some(1000 + u64::from(peer)),
                play_ms: n[5],
                rebuffer_ms: n[4],
                played_kbit: n[6],
            }),
        }
    }

    fn channel<'a>(v: &'a [ChannelQoe], name: &str) -> &'a ChannelQoe {
        v.iter().find(|c| c.channel == name).unwrap()
    }

    #[test]
    fn groups_add_the_increase_of_each_viewer_and_say_what_figures_rest_on() {
        let mut book = QoeBook::new(QoeConfig::default());
        let t0 = Instant::now();
        // Viewer 1 (P2P), two reports: only the increase counts.
        book.ingest(
            &report(1, "c", QoeGroup::P2p, "", [100, 300, 50, 0, 0, 0, 0]),
            t0,
        )
        .unwrap();
        book.ingest(
            &report(
                1,
                "c",
                QoeGroup::P2p,
                "",
                [200, 600, 80, 1, 500, 9_500, 19_000],
            ),
            t0,
        )
        .unwrap();
        // Viewer 2 (control), HTTP only, played at 1000 kbit/s with no stall.
        book.ingest(
            &report(
                2,
                "c",
                QoeGroup::Control,
                "b",
                [900, 0, 0, 0, 0, 10_000, 10_000],
            ),
            t0,
        )
        .unwrap();
        // A report without qoe (older SDK) is no part of it.
        let mut plain = report(3, "c", QoeGroup::P2p, "", [5; 7]);
        plain.qoe = None;
        book.ingest(&plain, t0).unwrap();

        let v = book.view(None, 10);
        let c = channel(&v, "c");
        let p = &c.p2p;
        assert_eq!((p.totals.viewers, p.totals.sessions), (1, 1));
        assert_eq!(
            (
                p.totals.http_bytes,
                p.totals.p2p_bytes,
                p.totals.upload_bytes
            ),
            (200, 600, 80)
        );
        assert_eq!((p.totals.started, p.startup_ms), (1, Some(1001.0)));
        assert_eq!(p.p2p_share, Some(0.75));
        assert_eq!(p.rebuffer_ratio, Some(0.05));
        assert_eq!(p.bitrate_kbps, Some(2000.0));
        let k = &c.control;
        assert_eq!(
            (k.totals.viewers, k.totals.played, k.totals.downloaded),
            (1, 1, 1)
        );
        assert_eq!(
            (k.p2p_share, k.rebuffer_ratio, k.bitrate_kbps),
            (Some(0.0), Some(0.0), Some(1000.0))
        );
        assert_eq!(c.tags.len(), 2);
        assert_eq!((c.tags[1].group, c.tags[1].tag.as_str()), ("control", "b"));
    }

    #[test]
    fn a_group_without_data_has_no_figures_and_tags_sum_into_their_group() {
        let mut book = QoeBook::new(QoeConfig::default());
        let t0 = Instant::now();
        book.ingest(
            &report(1, "c", QoeGroup::P2p, "x", [10, 30, 0, 0, 0, 1000, 1000]),
            t0,
        )
        .unwrap();
        book.ingest(
            &report(2, "c", QoeGroup::P2p, "y", [30, 30, 0, 0, 0, 1000, 3000]),
            t0,
        )
        .unwrap();
        let v = book.view(Some("c"), 10);
        let c = channel(&v, "c");
        assert_eq!((c.p2p.totals.viewers, c.p2p.totals.started), (2, 2));
        assert_eq!(c.p2p.startup_ms, Some(1001.5));
        assert_eq!(c.p2p.bitrate_kbps, Some(2000.0));
        assert_eq!(c.p2p.p2p_share, Some(0.6));
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
        assert!(book.view(Some("other"), 10).is_empty());
    }

    #[test]
    fn startup_counts_once_and_reset_counters_count_anew() {
        let mut book = QoeBook::new(QoeConfig::default());
        let t0 = Instant::now();
        for _ in 0..3 {
            book.ingest(
                &report(1, "c", QoeGroup::Control, "", [100, 0, 0, 0, 0, 1000, 1000]),
                t0,
            )
            .unwrap();
        }
        // A new player on the page: counters start again from a smaller value.
        book.ingest(
            &report(1, "c", QoeGroup::Control, "", [40, 0, 0, 0, 0, 500, 500]),
            t0,
        )
        .unwrap();
        let t = channel(&book.view(None, 10), "c").control.totals;
        assert_eq!((t.started, t.startup_ms_sum), (1, 1001));
        assert_eq!((t.http_bytes, t.play_ms), (140, 1500));
    }

    #[test]
    fn a_viewer_that_changes_tag_starts_a_session_there() {
        let mut book = QoeBook::new(QoeConfig::default());
        let t0 = Instant::now();
        book.ingest(
            &report(1, "c", QoeGroup::P2p, "a", [100, 0, 0, 0, 0, 0, 0]),
            t0,
        )
        .unwrap();
        book.ingest(
            &report(1, "c", QoeGroup::P2p, "b", [150, 0, 0, 0, 0, 0, 0]),
            t0,
        )
        .unwrap();
        let v = book.view(None, 10);
        let c = channel(&v, "c");
        let tag = |name: &str| c.tags.iter().find(|t| t.tag == name).unwrap().qoe.totals;
        assert_eq!((tag("a").viewers, tag("a").http_bytes), (0, 100));
        assert_eq!((tag("b").viewers, tag("b").http_bytes), (1, 150));
        assert_eq!(book.reporter_count(), 1);
    }

    #[test]
    fn caps_refuse_new_viewers_and_groups_and_keep_what_is_known() {
        let mut book = QoeBook::new(QoeConfig {
            max_reporters: 2,
            max_groups: 2,
            ..QoeConfig::default()
        });
        let t0 = Instant::now();
        book.ingest(&report(1, "c", QoeGroup::P2p, "", [1; 7]), t0)
            .unwrap();
        book.ingest(&report(2, "c", QoeGroup::Control, "", [1; 7]), t0)
            .unwrap();
        let err = book
            .ingest(&report(3, "c", QoeGroup::P2p, "", [1; 7]), t0)
            .unwrap_err();
        assert!(err.contains("2 viewers"), "{err}");
        // A known viewer moving to a third group: refused, and still counted where it was.
        let err = book
            .ingest(&report(1, "d", QoeGroup::P2p, "", [2; 7]), t0)
            .unwrap_err();
        assert!(err.contains("2 QoE groups"), "{err}");
        book.ingest(&report(1, "c", QoeGroup::P2p, "", [3; 7]), t0)
            .unwrap();
        let t = channel(&book.view(None, 10), "c").p2p.totals;
        assert_eq!((t.viewers, t.http_bytes), (1, 3));
        assert_eq!((book.reporter_count(), book.group_count()), (2, 2));
    }

    #[test]
    fn silent_viewers_stop_counting_and_empty_groups_are_forgotten() {
        let config = QoeConfig::default();
        let (ttl, group_ttl) = (config.reporter_ttl, config.group_ttl);
        let mut book = QoeBook::new(config);
        let t0 = Instant::now();
        book.ingest(&report(1, "c", QoeGroup::P2p, "", [1; 7]), t0)
            .unwrap();
        book.expire(t0 + ttl);
        let t = channel(&book.view(None, 10), "c").p2p.totals;
        assert_eq!((t.viewers, t.sessions, t.http_bytes), (0, 1, 1));
        assert_eq!(book.reporter_count(), 0);
        book.expire(t0 + group_ttl);
        assert!(book.view(None, 10).is_empty());
        assert_eq!(book.group_count(), 0);
    }

    #[test]
    fn the_view_is_bounded_by_its_limit() {
        let mut book = QoeBook::new(QoeConfig::default());
        let t0 = Instant::now();
        for i in 0..5u8 {
            book.ingest(&report(i, &format!("c{i}"), QoeGroup::P2p, "", [1; 7]), t0)
                .unwrap();
        }
        assert_eq!(book.view(None, 3).len(), 3);
    }
}
