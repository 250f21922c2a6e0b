//! DASH MPDs, parsed by `roxmltree` (a small, dependency-free XML reader), as the servers
//! need them: the streams (one swarm each) and the segments of each.
//!
//! Streams and ids follow P2P Media Loader's Shaka integration, since Shaka Player is what
//! plays DASH with P2P Media Loader: the video representations are `main` streams numbered
//! in the order Shaka lists them (the order of the MPD), the audio representations
//! `secondary` streams numbered likewise (`main` when there is no video), and a segment's id
//! is `trunc(start / 0.5 s)` where `start` is its start on the presentation timeline (period
//! start plus `(t − presentationTimeOffset) / timescale`), so representations of different
//! periods (a live stream's loops, ad breaks) never reuse an id.
//!
//! Addressing: `SegmentTemplate` with `$Number$` (fixed `duration`, live segments computed
//! from the wall clock) or with a `SegmentTimeline` (`$Number$` or `$Time$`), `SegmentList`,
//! and `SegmentBase` (the segment index is a `sidx` box the caller fetches: [`IndexRef`]).
//! Elements and attributes are inherited from Period and AdaptationSet; `BaseURL`s chain.

use roxmltree::{Document, Node};
use wire::swarm_id::StreamType;

use crate::{url, ManifestError, Segment};

/// P2P Media Loader's Shaka integration numbers segments in half seconds of start time.
pub const SEGMENT_ID_RESOLUTION_S: f64 = 0.5;

/// The P2P Media Loader id of a segment that starts at `start` seconds.
pub fn segment_id(start: f64) -> i64 {
    (start / SEGMENT_ID_RESOLUTION_S).trunc() as i64
}

/// What a representation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Video,
    Audio,
    /// Text, images and anything else: not a swarm.
    Other,
}

/// A parsed MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Mpd {
    /// `type="dynamic"`.
    pub live: bool,
    /// `availabilityStartTime` in Unix seconds (0 when absent).
    pub availability_start: f64,
    /// `mediaPresentationDuration`, seconds.
    pub duration: Option<f64>,
    /// `minimumUpdatePeriod`, seconds: how often a live MPD is re-read.
    pub minimum_update_period: Option<f64>,
    /// `timeShiftBufferDepth`, seconds.
    pub time_shift_buffer_depth: Option<f64>,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub id: String,
    /// Seconds from the presentation start.
    pub start: f64,
    /// Seconds, from `duration` or the next period's start.
    pub duration: Option<f64>,
    pub representations: Vec<Representation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    pub id: String,
    pub content: Content,
    pub bandwidth: u64,
    pub codecs: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub language: Option<String>,
    /// Absolute base URL (the chain of `BaseURL`s resolved against the MPD's URL).
    pub base_url: String,
    pub addressing: Addressing,
}

/// Timing shared by templates and lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub timescale: u64,
    pub presentation_time_offset: u64,
    pub start_number: u64,
    /// Fixed segment duration in timescale units (without a timeline).
    pub duration: Option<u64>,
    /// `SegmentTimeline` entries `(t, d, r)`; `t` is `None` when it follows the previous one.
    pub timeline: Option<Vec<(Option<u64>, u64, i64)>>,
}

/// How a representation's segments are addressed.
#[derive(Debug, Clone, PartialEq)]
pub enum Addressing {
    Template {
        media: String,
        timing: Timing,
    },
    List {
        media: Vec<(String, Option<(u64, u64)>)>,
        timing: Timing,
    },
    Base {
        index_range: Option<(u64, u64)>,
        timescale: u64,
        presentation_time_offset: u64,
    },
    /// A single media file with no index: one segment.
    Whole,
}

/// A stream of the MPD: one swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashStream {
    pub stream_type: StreamType,
    /// Position among the streams of its type, as P2P Media Loader's Shaka integration counts.
    pub index: usize,
    pub content: Content,
    /// The representation's `id` (the same in every period).
    pub representation: String,
}

/// A segment index to fetch: the bytes `range` = `(offset, length)` of `url` hold a sidx box.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRef {
    pub url: String,
    pub range: (u64, u64),
    /// Seconds added to the index's times (period start − presentation time offset).
    pub offset_s: f64,
}

/// The segments of one stream: listed, or to be read from segment indexes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamSegments {
    pub segments: Vec<Segment>,
    pub indexes: Vec<IndexRef>,
}

fn bad(why: impl Into<String>) -> ManifestError {
    ManifestError::Dash(why.into())
}

/// ISO 8601 duration (`PT1M0.5S`, `P1DT2H`) in seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let rest = text.trim().strip_prefix('P')?;
    let (mut total, mut in_time, mut number) = (0.0, false, String::new());
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' => number.push(c),
            unit => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                total += n * match (unit, in_time) {
                    ('Y', false) => 365.0 * 86400.0,
                    ('M', false) => 30.0 * 86400.0,
                    ('W', false) => 7.0 * 86400.0,
                    ('D', false) => 86400.0,
                    ('H', true) => 3600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None,
                };
            }
        }
    }
    number.is_empty().then_some(total)
}

/// An xs:dateTime in Unix seconds (a missing zone is UTC).
fn parse_date_time(text: &str) -> Option<f64> {
    let t = text.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{t}Z")))
        .ok()?;
    Some(parsed.timestamp_millis() as f64 / 1000.0)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

fn number<T: std::str::FromStr>(node: Node, attr: &str) -> Result<Option<T>, ManifestError> {
    node.attribute(attr)
        .map(|v| {
            v.trim().parse().map_err(|_| {
                bad(format!(
                    "{}@{attr}=\"{v}\" is not a number",
                    node.tag_name().name()
                ))
            })
        })
        .transpose()
}

/// The same element looked up from the most specific level (Representation) outwards.
struct Chain<'a, 'i>(Vec<Node<'a, 'i>>);

impl<'a, 'i> Chain<'a, 'i> {
    fn attr<T: std::str::FromStr>(&self, attr: &str) -> Result<Option<T>, ManifestError> {
        for n in &self.0 {
            if let Some(v) = number(*n, attr)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
    fn text(&self, attr: &str) -> Option<&'a str> {
        self.0.iter().find_map(|n| n.attribute(attr))
    }
    fn child(&self, name: &'a str) -> Option<Node<'a, 'i>> {
        self.0.iter().find_map(|n| child(*n, name))
    }
}

impl Mpd {
    /// Parses an MPD fetched from `url`.
    pub fn parse(text: &str, url: &str) -> Result<Mpd, ManifestError> {
        let doc = Document::parse(text.trim_start_matches('\u{feff}'))
            .map_err(|e| bad(format!("XML: {e}")))?;
        let mpd = doc.root_element();
        if mpd.tag_name().name() != "MPD" {
            return Err(bad(format!(
                "the root element is <{}>",
                mpd.tag_name().name()
            )));
        }
        let live = mpd.attribute("type") == Some("dynamic");
        let duration_attr = |n: Node, a: &str| -> Result<Option<f64>, ManifestError> {
            n.attribute(a)
                .map(|v| {
                    parse_duration(v).ok_or_else(|| bad(format!("{a}=\"{v}\" is not a duration")))
                })
                .transpose()
        };
        let availability_start = match mpd.attribute("availabilityStartTime") {
            Some(v) => parse_date_time(v)
                .ok_or_else(|| bad(format!("availabilityStartTime=\"{v}\" is not a date")))?,
            None if live => return Err(bad("a dynamic MPD without availabilityStartTime")),
            None => 0.0,
        };
        let base = base_url(url, mpd);
        let mut periods = Vec::new();
        let period_nodes: Vec<Node> = children(mpd, "Period").collect();
        if period_nodes.is_empty() {
            return Err(bad("no Period"));
        }
        for (i, p) in period_nodes.iter().enumerate() {
            let start = match duration_attr(*p, "start")? {
                Some(s) => s,
                None => match periods.last() {
                    Some(Period {
                        start,
                        duration: Some(d),
                        ..
                    }) => start + d,
                    Some(_) => return Err(bad(format!("Period {i} has no start"))),
                    None => 0.0,
                },
            };
            let period_base = base_url(&base, *p);
            let mut representations = Vec::new();
            for set in children(*p, "AdaptationSet") {
                let set_base = base_url(&period_base, set);
                for rep in children(set, "Representation") {
                    representations.push(representation(*p, set, rep, &set_base)?);
                }
            }
            periods.push(Period {
                id: p.attribute("id").unwrap_or_default().to_owned(),
                start,
                duration: duration_attr(*p, "duration")?,
                representations,
            });
        }
        // A period without a duration lasts until the next one starts (or the presentation ends).
        let total = duration_attr(mpd, "mediaPresentationDuration")?;
        for i in 0..periods.len() {
            if periods[i].duration.is_none() {
                let end = periods.get(i + 1).map(|n| n.start).or(total);
                periods[i].duration = end.map(|e| e - periods[i].start);
            }
        }
        Ok(Mpd {
            live,
            availability_start,
            duration: total,
            minimum_update_period: duration_attr(mpd, "minimumUpdatePeriod")?,
            time_shift_buffer_depth: duration_attr(mpd, "timeShiftBufferDepth")?,
            periods,
        })
    }

    /// The MPD's streams, numbered as P2P Media Loader's Shaka integration numbers them.
    pub fn streams(&self) -> Vec<DashStream> {
        let mut video: Vec<&str> = Vec::new();
        let mut audio: Vec<&str> = Vec::new();
        for r in self.periods.iter().flat_map(|p| &p.representations) {
            let list = match r.content {
                Content::Video => &mut video,
                Content::Audio => &mut audio,
                Content::Other => continue,
            };
            if !list.contains(&r.id.as_str()) {
                list.push(&r.id);
            }
        }
        let audio_type = if video.is_empty() {
            StreamType::Main
        } else {
            StreamType::Secondary
        };
        let numbered = |ids: &[&str], stream_type, content| -> Vec<DashStream> {
            ids.iter()
                .enumerate()
                .map(|(index, id)| DashStream {
                    stream_type,
                    index,
                    content,
                    representation: (*id).to_owned(),
                })
                .collect()
        };
        let mut out = numbered(&video, StreamType::Main, Content::Video);
        out.extend(numbered(&audio, audio_type, Content::Audio));
        out
    }

    /// The segments of the representation with this id in every period, as available at
    /// `now` (Unix seconds; only live MPDs depend on it).
    pub fn segments(
        &self,
        representation: &str,
        now: f64,
    ) -> Result<StreamSegments, ManifestError> {
        let mut out = StreamSegments::default();
        for period in &self.periods {
            for rep in period
                .representations
                .iter()
                .filter(|r| r.id == representation)
            {
                self.add_segments(period, rep, now, &mut out)?;
            }
        }
        Ok(out)
    }

    fn add_segments(
        &self,
        period: &Period,
        rep: &Representation,
        now: f64,
        out: &mut StreamSegments,
    ) -> Result<(), ManifestError> {
        let resolve = |media: &str| url::resolve(&rep.base_url, media);
        match &rep.addressing {
            Addressing::Whole => out.segments.push(Segment {
                id: segment_id(period.start),
                url: rep.base_url.clone(),
                byte_range: None,
                start: period.start,
                duration: period.duration.unwrap_or(0.0),
            }),
            Addressing::Base {
                index_range,
                timescale,
                presentation_time_offset,
            } => {
                let range = index_range.ok_or_else(|| {
                    bad(format!(
                        "representation {}: SegmentBase without indexRange",
                        rep.id
                    ))
                })?;
                out.indexes.push(IndexRef {
                    url: rep.base_url.clone(),
                    range,
                    offset_s: period.start - *presentation_time_offset as f64 / *timescale as f64,
                });
            }
            Addressing::Template { media, timing } => {
                for (n, t, d) in self.times(period, timing, now, None)? {
                    let path = fill_template(media, &rep.id, rep.bandwidth, n, t);
                    out.segments
                        .push(segment(period, timing, resolve(&path), None, t, d));
                }
            }
            Addressing::List { media, timing } => {
                for (n, t, d) in self.times(period, timing, now, Some(media.len() as u64))? {
                    let Some((m, range)) = usize::try_from(n - timing.start_number)
                        .ok()
                        .and_then(|i| media.get(i))
                    else {
                        break;
                    };
                    out.segments
                        .push(segment(period, timing, resolve(m), *range, t, d));
                }
            }
        }
        Ok(())
    }

    /// `(number, t, d)` of the segments of a period, in timescale units.
    fn times(
        &self,
        period: &Period,
        timing: &Timing,
        now: f64,
        count: Option<u64>,
    ) -> Result<Vec<(u64, u64, u64)>, ManifestError> {
        let ts = timing.timescale as f64;
        let pto = timing.presentation_time_offset;
        // The period's end on its own clock, and (live) the newest time that has been published.
        let period_end = period.duration.map(|d| pto as f64 + d * ts);
        let live_edge = self
            .live
            .then_some(pto as f64 + (now - self.availability_start - period.start) * ts);
        let mut out = Vec::new();
        if let Some(timeline) = &timing.timeline {
            let mut next = pto;
            for (i, (t, d, r)) in timeline.iter().enumerate() {
                if *d == 0 {
                    return Err(bad("a SegmentTimeline entry with d=\"0\""));
                }
                let mut t = t.unwrap_or(next);
                let repeats = if *r >= 0 {
                    *r as u64
                } else {
                    // r = -1: repeat until the next entry, the period's end or (live) now.
                    let until = timeline
                        .get(i + 1)
                        .and_then(|s| s.0)
                        .map(|x| x as f64)
                        .or(period_end)
                        .or(live_edge)
                        .ok_or_else(|| {
                            bad("an open-ended SegmentTimeline repeat with nothing to end it")
                        })?;
                    (((until - t as f64) / *d as f64).ceil().max(1.0) as u64).saturating_sub(1)
                };
                for _ in 0..=repeats.min(1_000_000) {
                    out.push((timing.start_number + out.len() as u64, t, *d));
                    t += d;
                }
                next = t;
            }
        } else if let Some(d) = timing.duration.filter(|d| *d > 0) {
            let df = d as f64;
            let (first, end) = match (live_edge, count) {
                (_, Some(n)) => (0, n),
                (Some(edge), None) => {
                    let published = ((edge - pto as f64) / df).floor().max(0.0) as u64;
                    let published = period_end.map_or(published, |e| {
                        published.min(((e - pto as f64) / df).ceil() as u64)
                    });
                    let depth = self.time_shift_buffer_depth.unwrap_or(60.0) * ts;
                    let first = ((edge - depth - pto as f64) / df).floor().max(0.0) as u64;
                    (first.min(published), published)
                }
                (None, None) => {
                    let e = period_end.ok_or_else(|| {
                        bad("a SegmentTemplate with duration in a period of unknown length")
                    })?;
                    (0, ((e - pto as f64) / df).ceil() as u64)
                }
            };
            for k in first..end.min(first + 1_000_000) {
                out.push((timing.start_number + k, pto + k * d, d));
            }
        } else if count == Some(1) {
            out.push((
                timing.start_number,
                pto,
                period_end.map_or(0, |e| (e - pto as f64) as u64),
            ));
        } else {
            return Err(bad("segments with neither duration nor SegmentTimeline"));
        }
        // A live MPD may list segments that have not ended yet; they are not published.
        if let Some(edge) = live_edge {
            out.retain(|(_, t, d)| (t + d) as f64 <= edge + 1e-6);
        }
        Ok(out)
    }
}

/// Segments from a fetched segment index.
pub fn segments_from_index(
    index: &IndexRef,
    sidx_bytes: &[u8],
) -> Result<Vec<Segment>, ManifestError> {
    let sidx = wire::mp4::parse_sidx(sidx_bytes, index.range.0)
        .map_err(|e| ManifestError::Sidx(e.to_string()))?;
    let ts = sidx.timescale as f64;
    Ok(sidx
        .references
        .iter()
        .map(|r| {
            let start = index.offset_s + r.start as f64 / ts;
            Segment {
                id: segment_id(start),
                url: index.url.clone(),
                byte_range: Some((r.offset, r.length)),
                start,
                duration: r.duration as f64 / ts,
            }
        })
        .collect())
}

fn segment(
    period: &Period,
    timing: &Timing,
    url: String,
    byte_range: Option<(u64, u64)>,
    t: u64,
    d: u64,
) -> Segment {
    let ts = timing.timescale as f64;
    let start = period.start + (t as f64 - timing.presentation_time_offset as f64) / ts;
    Segment {
        id: segment_id(start),
        url,
        byte_range,
        start,
        duration: d as f64 / ts,
    }
}

/// `$RepresentationID$`, `$Number$`, `$Time$`, `$Bandwidth$` (with `%0Nd` widths) and `$$`.
pub fn fill_template(
    template: &str,
    representation: &str,
    bandwidth: u64,
    number: u64,
    time: u64,
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut parts = template.split('$');
    out.push_str(parts.next().unwrap_or_default());
    let mut inside = true;
    for part in parts {
        if !inside {
            out.push_str(part);
            inside = true;
            continue;
        }
        inside = false;
        let (name, format) = part.split_once('%').unwrap_or((part, ""));
        let width = format
            .strip_prefix('0')
            .and_then(|f| f.strip_suffix('d'))
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        match name {
            "" => out.push('$'),
            "RepresentationID" => out.push_str(representation),
            "Number" => out.push_str(&format!("{number:0width$}")),
            "Time" => out.push_str(&format!("{time:0width$}")),
            "Bandwidth" => out.push_str(&format!("{bandwidth:0width$}")),
            other => {
                // Not an identifier: keep the text as written.
                out.push('$');
                out.push_str(other);
                inside = true;
            }
        }
    }
    out
}

fn base_url(parent: &str, node: Node) -> String {
    match child(node, "BaseURL").and_then(|b| b.text()) {
        Some(b) => url::resolve(parent, b.trim()),
        None => parent.to_owned(),
    }
}

fn content_of(set: Node, rep: Node) -> Content {
    let kind = set.attribute("contentType").or_else(|| {
        rep.attribute("mimeType")
            .or_else(|| set.attribute("mimeType"))
            .and_then(|m| m.split('/').next())
    });
    match kind {
        Some("video") => Content::Video,
        Some("audio") => Content::Audio,
        _ => Content::Other,
    }
}

fn timing(chain: &Chain, timeline: Option<Node>) -> Result<Timing, ManifestError> {
    let timescale = chain.attr::<u64>("timescale")?.unwrap_or(1).max(1);
    let timeline = timeline
        .map(|tl| {
            children(tl, "S")
                .map(|s| {
                    let d = number::<u64>(s, "d")?.ok_or_else(|| bad("an S element without d"))?;
                    Ok((
                        number::<u64>(s, "t")?,
                        d,
                        number::<i64>(s, "r")?.unwrap_or(0),
                    ))
                })
                .collect::<Result<Vec<_>, ManifestError>>()
        })
        .transpose()?;
    Ok(Timing {
        timescale,
        presentation_time_offset: chain.attr("presentationTimeOffset")?.unwrap_or(0),
        start_number: chain.attr("startNumber")?.unwrap_or(1),
        duration: chain.attr("duration")?,
        timeline,
    })
}

fn representation(
    period: Node,
    set: Node,
    rep: Node,
    set_base: &str,
) -> Result<Representation, ManifestError> {
    let id = rep
        .attribute("id")
        .ok_or_else(|| bad("a Representation without id"))?
        .to_owned();
    let levels = [rep, set, period];
    let chain_of =
        |name: &'static str| Chain(levels.iter().filter_map(|n| child(*n, name)).collect());
    let template = chain_of("SegmentTemplate");
    let list = chain_of("SegmentList");
    let base = chain_of("SegmentBase");
    let addressing = if let Some(media) = template.text("media") {
        Addressing::Template {
            media: media.to_owned(),
            timing: timing(&template, template.child("SegmentTimeline"))?,
        }
    } else if !list.0.is_empty() {
        let urls = list.0.iter().find(|l| child(**l, "SegmentURL").is_some());
        let media = urls
            .map(|l| {
                children(*l, "SegmentURL")
                    .map(|u| {
                        Ok((
                            u.attribute("media").unwrap_or_default().to_owned(),
                            byte_range(u.attribute("mediaRange"))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, ManifestError>>()
            })
            .transpose()?
            .unwrap_or_default();
        Addressing::List {
            media,
            timing: timing(&list, list.child("SegmentTimeline"))?,
        }
    } else if !base.0.is_empty() {
        Addressing::Base {
            index_range: byte_range(base.text("indexRange"))?,
            timescale: base.attr::<u64>("timescale")?.unwrap_or(1).max(1),
            presentation_time_offset: base.attr("presentationTimeOffset")?.unwrap_or(0),
        }
    } else {
        Addressing::Whole
    };
    let attr = |a: &str| rep.attribute(a).or_else(|| set.attribute(a));
    Ok(Representation {
        content: content_of(set, rep),
        bandwidth: number(rep, "bandwidth")?.unwrap_or(0),
        codecs: attr("codecs").map(str::to_owned),
        width: number(rep, "width")?,
        height: number(rep, "height")?,
        language: set.attribute("lang").map(str::to_owned),
        base_url: base_url(set_base, rep),
        addressing,
        id,
    })
}

/// `"first-last"` (inclusive) as `(offset, length)`.
fn byte_range(text: Option<&str>) -> Result<Option<(u64, u64)>, ManifestError> {
    let Some(text) = text else { return Ok(None) };
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    match parsed {
        Some((first, last)) if last >= first => Ok(Some((first, last - first + 1))),
        _ => Err(bad(format!("bad byte range \"{text}\""))),
    }
}

#[cfg(test)]
mod tests;
