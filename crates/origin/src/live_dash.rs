//! Replays a VOD DASH MPD as an endless live stream (sans-IO): the dynamic-MPD counterpart
//! of [`crate::live`].
//!
//! Loop `k` of the VOD becomes Period `k`, starting at `k × L` (L: the VOD's duration), with
//! the VOD's own segments, so the media's timestamps need no rewriting: Shaka and dash.js
//! offset each period by its start. Every `SegmentTemplate` lists, in a `SegmentTimeline`,
//! the segments that ended within the last `window` seconds (`timeShiftBufferDepth`), with
//! `startNumber` set to the first one listed and `?loop=k` added to its media URLs, so each
//! live segment has a URL of its own, as with a real packager. The stream behaves as if it
//! had started one window before the origin did (`availabilityStartTime`), so players can start
//! at once, and a segment appears when it would have ended in real time. Only `SegmentTemplate`
//! addressing (with `$Number$` or `$Time$`, timeline or fixed duration) can be looped.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use manifest::dash::Mpd;
use roxmltree::{Document, Node};

/// Why an MPD can't be looped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashLoopError(pub String);

impl std::fmt::Display for DashLoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the MPD cannot be looped as live: {}", self.0)
    }
}

impl std::error::Error for DashLoopError {}

fn refuse(why: impl Into<String>) -> DashLoopError {
    DashLoopError(why.into())
}

/// A VOD MPD and how to turn it into a sliding live window.
#[derive(Clone, Debug)]
pub struct DashLoop {
    vod: String,
    /// Length of one loop, seconds.
    loop_s: f64,
    /// Seconds of segments listed (timeShiftBufferDepth).
    window_s: f64,
    /// Longest segment, seconds (minimumUpdatePeriod).
    max_segment_s: f64,
    /// Latest end of a template's first segment, seconds into a loop: a period is listed once
    /// every template has a segment in it.
    first_end_s: f64,
}

/// One template's segments in a loop: `(t, d)` in its timescale.
struct Template {
    timescale: f64,
    pto: f64,
    start_number: u64,
    segments: Vec<(u64, u64)>,
}

impl DashLoop {
    /// `window_segments` segments of the longest duration are listed (at least one).
    pub fn new(vod: &str, window_segments: usize) -> Result<Self, DashLoopError> {
        let doc = Document::parse(vod).map_err(|e| refuse(format!("XML: {e}")))?;
        let mpd = doc.root_element();
        if mpd.tag_name().name() != "MPD" || mpd.attribute("type") == Some("dynamic") {
            return Err(refuse("not a static MPD"));
        }
        let periods: Vec<Node> = elements(mpd, "Period").collect();
        let [period] = periods[..] else {
            return Err(refuse("only single-period MPDs are looped"));
        };
        let loop_s = mpd
            .attribute("mediaPresentationDuration")
            .or_else(|| period.attribute("duration"))
            .and_then(manifest::dash::parse_duration)
            .filter(|d| *d > 0.0)
            .ok_or_else(|| refuse("no positive mediaPresentationDuration"))?;
        if period
            .descendants()
            .any(|n| matches!(n.tag_name().name(), "SegmentList" | "SegmentBase"))
        {
            return Err(refuse("only SegmentTemplate addressing is looped"));
        }
        let templates: Vec<Template> = period
            .descendants()
            .filter(|n| n.tag_name().name() == "SegmentTemplate")
            .map(|t| template(t, loop_s))
            .collect::<Result<_, _>>()?;
        if templates.is_empty() {
            return Err(refuse("no SegmentTemplate"));
        }
        let seconds = |t: &Template, ticks: u64| ticks as f64 / t.timescale;
        let max_segment_s = templates
            .iter()
            .flat_map(|t| t.segments.iter().map(move |s| seconds(t, s.1)))
            .fold(0.0, f64::max);
        let first_end_s = templates
            .iter()
            .map(|t| (t.segments[0].0 as f64 + t.segments[0].1 as f64 - t.pto) / t.timescale)
            .fold(0.0, f64::max);
        Ok(Self {
            vod: vod.to_owned(),
            loop_s,
            window_s: max_segment_s * window_segments.max(1) as f64,
            max_segment_s,
            first_end_s,
        })
    }

    /// The live MPD at `now` (Unix seconds) for an origin that started at `started` (Unix
    /// seconds).
    pub fn mpd_at(&self, started: f64, now: f64) -> String {
        let availability_start = started - self.window_s;
        let edge = (now - availability_start).max(self.window_s);
        let doc = Document::parse(&self.vod).expect("parsed in new");
        let mut out = String::with_capacity(self.vod.len() * 2);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        let live = Live {
            edge,
            availability_start,
            now,
            this: self,
        };
        live.element(&mut out, doc.root_element(), None);
        out
    }
}

impl DashLoop {
    /// The names of the segment files beside the MPD that its live MPDs list from one window
    /// before `now` until `now`: what a digest manifest of the stream covers, so that a player
    /// that read an MPD up to one window old finds each segment it was handed. Keyed as
    /// players key them: the file name, without the `?loop=k` query.
    pub fn listed_files(&self, started: f64, now: f64) -> BTreeSet<String> {
        // Any base: only segments in the MPD's own folder are kept.
        const BASE: &str = "http://origin/";
        let window = self.window_s;
        let availability_start = started - window;
        let edge = (now - availability_start).max(window);
        // A segment stays listed for one window from the moment it appears: its end, or the
        // moment its period is listed (once every template has a segment in it), which may
        // come later. So the MPDs at `now`, one window before and at each period's appearance
        // in between list every segment listed in that time.
        let mut times = vec![now, now - window];
        let period = |e: f64| ((e - self.first_end_s) / self.loop_s).floor().max(0.0) as u64;
        for k in period(edge - window)..=period(edge) {
            // A microsecond on, so rounding can't put it just before the period appears.
            let at = availability_start + k as f64 * self.loop_s + self.first_end_s + 1e-6;
            if at > now - window && at < now {
                times.push(at);
            }
        }
        let mut names = BTreeSet::new();
        for at in times {
            let Ok(mpd) = Mpd::parse(&self.mpd_at(started, at), BASE) else {
                continue; // an MPD this module wrote: parsed in its tests
            };
            let mut reps: Vec<&str> = mpd
                .periods
                .iter()
                .flat_map(|p| &p.representations)
                .map(|r| r.id.as_str())
                .collect();
            reps.sort_unstable();
            reps.dedup();
            for rep in reps {
                // The MPD lists only segments that have ended; the second of slack absorbs
                // the millisecond rounding of its dates.
                let Ok(listed) = mpd.segments(rep, at + 1.0) else {
                    continue;
                };
                for seg in listed.segments {
                    let path = seg.url.split(['?', '#']).next().unwrap_or_default();
                    if let Some(name) = path.strip_prefix(BASE).filter(|n| !n.contains('/')) {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
        names
    }
}

fn elements<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn template(node: Node, loop_s: f64) -> Result<Template, DashLoopError> {
    let num = |a: &str| -> Result<Option<u64>, DashLoopError> {
        node.attribute(a)
            .map(|v| {
                v.parse()
                    .map_err(|_| refuse(format!("SegmentTemplate@{a}=\"{v}\"")))
            })
            .transpose()
    };
    let timescale = num("timescale")?.unwrap_or(1).max(1) as f64;
    let pto = num("presentationTimeOffset")?.unwrap_or(0);
    let end = pto as f64 + loop_s * timescale;
    let mut segments = Vec::new();
    if let Some(timeline) = elements(node, "SegmentTimeline").next() {
        let mut next = pto;
        for s in elements(timeline, "S") {
            let get = |a: &str| {
                s.attribute(a)
                    .map(|v| {
                        v.parse::<i64>()
                            .map_err(|_| refuse(format!("S@{a}=\"{v}\"")))
                    })
                    .transpose()
            };
            let d = get("d")?
                .filter(|d| *d > 0)
                .ok_or_else(|| refuse("an S without a positive d"))? as u64;
            let mut t = get("t")?.map_or(next, |t| t.max(0) as u64);
            let r = get("r")?.unwrap_or(0);
            let count = if r < 0 {
                ((end - t as f64) / d as f64).ceil().max(1.0) as u64
            } else {
                r as u64 + 1
            };
            for _ in 0..count.min(100_000) {
                segments.push((t, d));
                t += d;
            }
            next = t;
        }
    } else if let Some(d) = num("duration")?.filter(|d| *d > 0) {
        let count = ((end - pto as f64) / d as f64).ceil() as u64;
        segments.extend((0..count.min(100_000)).map(|k| (pto + k * d, d)));
    } else {
        return Err(refuse(
            "a SegmentTemplate with neither SegmentTimeline nor duration",
        ));
    }
    if segments.is_empty() {
        return Err(refuse("a SegmentTemplate without segments"));
    }
    Ok(Template {
        timescale,
        pto: pto as f64,
        start_number: num("startNumber")?.unwrap_or(1),
        segments,
    })
}

/// Writes the live MPD.
struct Live<'a> {
    /// Seconds since availabilityStartTime.
    edge: f64,
    availability_start: f64,
    now: f64,
    this: &'a DashLoop,
}

impl Live<'_> {
    fn element(&self, out: &mut String, node: Node, loop_index: Option<u64>) {
        match node.tag_name().name() {
            "MPD" => {
                let l = self.this;
                let attrs = [
                    ("type", "dynamic".to_owned()),
                    ("availabilityStartTime", date_time(self.availability_start)),
                    ("publishTime", date_time(self.now)),
                    ("minimumUpdatePeriod", duration(l.max_segment_s)),
                    ("timeShiftBufferDepth", duration(l.window_s)),
                ];
                let skip = [
                    "type",
                    "mediaPresentationDuration",
                    "availabilityStartTime",
                    "publishTime",
                    "minimumUpdatePeriod",
                    "timeShiftBufferDepth",
                ];
                self.open(out, node, &skip, &attrs);
                for c in node.children() {
                    if c.is_element() && c.tag_name().name() == "Period" {
                        for k in self.loops() {
                            self.element(out, c, Some(k));
                        }
                    } else {
                        self.child(out, c, None);
                    }
                }
                let _ = write!(
                    out,
                    "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"{}\"/>",
                    date_time(self.now)
                );
                out.push_str("</MPD>");
            }
            "Period" => {
                let k = loop_index.unwrap_or(0);
                let attrs = [
                    ("id", k.to_string()),
                    ("start", duration(k as f64 * self.this.loop_s)),
                ];
                self.open(out, node, &["id", "start", "duration"], &attrs);
                self.children(out, node, loop_index);
                out.push_str("</Period>");
            }
            "SegmentTemplate" => self.segment_template(out, node, loop_index.unwrap_or(0)),
            _ => {
                self.open(out, node, &[], &[]);
                self.children(out, node, loop_index);
                let _ = write!(out, "</{}>", node.tag_name().name());
            }
        }
    }

    /// The loops with segments in the window: every template has one that ended, and their
    /// end is not older than the window.
    fn loops(&self) -> impl Iterator<Item = u64> {
        let l = self.this;
        let first = ((self.edge - l.window_s) / l.loop_s).floor().max(0.0) as u64;
        let last = ((self.edge - l.first_end_s) / l.loop_s).floor().max(0.0) as u64;
        first..=last.max(first)
    }

    fn segment_template(&self, out: &mut String, node: Node, k: u64) {
        let Ok(t) = template(node, self.this.loop_s) else {
            return; // checked in DashLoop::new
        };
        let loop_start = k as f64 * self.this.loop_s;
        let listed: Vec<(usize, &(u64, u64))> = t
            .segments
            .iter()
            .enumerate()
            .filter(|(_, (s, d))| {
                let end = loop_start + ((s + d) as f64 - t.pto) / t.timescale;
                end <= self.edge + 1e-9 && end > self.edge - self.this.window_s
            })
            .collect();
        let first = listed.first().map_or(0, |(i, _)| *i as u64);
        let media = node.attribute("media").unwrap_or_default();
        let sep = if media.contains('?') { '&' } else { '?' };
        let attrs = [
            ("startNumber", (t.start_number + first).to_string()),
            ("media", format!("{media}{sep}loop={k}")),
        ];
        self.open(out, node, &["startNumber", "media", "duration"], &attrs);
        out.push_str("<SegmentTimeline>");
        for (_, (s, d)) in listed {
            let _ = write!(out, "<S t=\"{s}\" d=\"{d}\"/>");
        }
        out.push_str("</SegmentTimeline>");
        for c in node
            .children()
            .filter(|c| c.tag_name().name() != "SegmentTimeline")
        {
            self.child(out, c, Some(k));
        }
        out.push_str("</SegmentTemplate>");
    }

    fn children(&self, out: &mut String, node: Node, loop_index: Option<u64>) {
        for c in node.children() {
            self.child(out, c, loop_index);
        }
    }

    fn child(&self, out: &mut String, node: Node, loop_index: Option<u64>) {
        if node.is_element() {
            self.element(out, node, loop_index);
        } else if let Some(text) = node.text().filter(|_| node.is_text()) {
            escape(out, text);
        }
    }

    /// `<name attrs...>` with `skip` left out and `extra` added.
    fn open(&self, out: &mut String, node: Node, skip: &[&str], extra: &[(&str, String)]) {
        let _ = write!(out, "<{}", node.tag_name().name());
        if node.tag_name().name() == "MPD" {
            for ns in node.namespaces().filter(|ns| ns.name() != Some("xml")) {
                match ns.name() {
                    Some(prefix) => {
                        let _ = write!(out, " xmlns:{prefix}=\"");
                        escape(out, ns.uri());
                    }
                    None => {
                        out.push_str(" xmlns=\"");
                        escape(out, ns.uri());
                    }
                }
                out.push('"');
            }
        }
        for a in node.attributes().filter(|a| !skip.contains(&a.name())) {
            match a.namespace().and_then(|uri| node.lookup_prefix(uri)) {
                Some(prefix) => {
                    let _ = write!(out, " {prefix}:{}=\"", a.name());
                }
                None => {
                    let _ = write!(out, " {}=\"", a.name());
                }
            }
            escape(out, a.value());
            out.push('"');
        }
        for (name, value) in extra {
            let _ = write!(out, " {name}=\"");
            escape(out, value);
            out.push('"');
        }
        out.push('>');
    }
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn duration(seconds: f64) -> String {
    format!("PT{}S", (seconds * 1000.0).round() / 1000.0)
}

fn date_time(unix: f64) -> String {
    let ms = (unix * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests;
