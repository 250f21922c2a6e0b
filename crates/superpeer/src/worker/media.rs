//! The worker's media side: finds the channel's streams (one swarm each, named as P2P Media
//! Loader names them: by its 2.3 rules for HLS, as its Shaka integration 2.2.2 does for DASH),
//! then for live streams polls each stream's listing (HLS media playlist or DASH MPD) and
//! fetches every new segment from the origin once, ahead of the viewers; for VOD fetches the
//! segments viewers are at (and a few ahead) on demand, through the disk cache. Manifests are
//! read by the shared `manifest` crate; one that cannot be read is reported in the worker's
//! stats and read again later, never the end of the loop. A channel whose URL is a
//! progressive file (MP4, MP3, WebM, ...) is one swarm whose segments are the file's pieces,
//! as the browser's media engine shares it: fetched by `Range` on demand, like VOD segments.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use manifest::dash::Mpd;
use manifest::Segment;
use swarm::node::NodeHandle;
use swarm::SwarmDemand;
use tokio::sync::mpsc;
use wire::swarm_id;
use wire::tracker::InfoHash;

use super::cache::{self, DiskCache};
use super::Counters;

/// Bytes per piece of a progressive file unless the seed sets `pieceLength`: the browser
/// media engine's default.
pub const PIECE_LENGTH: u64 = swarm_id::DEFAULT_PIECE_LENGTH;
/// Extensions of the progressive files a channel may be (seeded by pieces, no playlist).
const PROGRESSIVE: &[&str] = &[
    "mp4", "m4a", "m4v", "mov", "mp3", "webm", "weba", "mkv", "ogg", "oga", "opus", "aac", "flac",
    "wav",
];

/// Live segments kept behind the oldest one still listed in the playlist.
const LIVE_KEEP_BEHIND: usize = 3;
/// VOD segments fetched past the one a viewer is at: at least this many...
const VOD_LOOKAHEAD: usize = 3;
/// ...and as many as start within this many seconds of it: players buffer 10 (Shaka) to 30
/// (hls.js) seconds ahead in a burst at startup, and the worker must be ahead of that burst to
/// serve it.
const VOD_LOOKAHEAD_SECS: f64 = 30.0;
/// VOD segments held in memory per swarm (older ones stay in the disk cache).
const VOD_MEMORY_SEGMENTS: usize = 40;

/// One stream of the channel: its swarm and where its segments are listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub swarm_id: String,
    pub info_hash: InfoHash,
    pub listing: Listing,
}

/// Where a stream's segments are listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// An HLS media playlist.
    Hls { playlist_url: String },
    /// A representation of a DASH MPD.
    Dash {
        mpd_url: String,
        representation: String,
    },
    /// A progressive file, whose pieces are known from its length (no listing to read).
    File { url: String },
}

impl Listing {
    fn url(&self) -> &str {
        match self {
            Listing::Hls { playlist_url } => playlist_url,
            Listing::Dash { mpd_url, .. } => mpd_url,
            Listing::File { url } => url,
        }
    }
}

/// The client a worker fetches media with: every connection, DNS answer and redirect held to
/// the master's `originHosts`. The master checks channel URLs with the same client.
pub fn origin_client(policy: outbound::Policy) -> anyhow::Result<outbound::GuardedClient> {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("swarmcast-superpeer/", env!("CARGO_PKG_VERSION")));
    Ok(outbound::GuardedClient::build(builder, policy)?)
}

/// Fetches bytes from the origin, counting them.
#[derive(Clone)]
pub struct Origin {
    client: outbound::GuardedClient,
    counters: Arc<Counters>,
}

impl Origin {
    pub fn new(counters: Arc<Counters>, policy: outbound::Policy) -> anyhow::Result<Self> {
        Ok(Self {
            client: origin_client(policy)?,
            counters,
        })
    }

    /// Errors never carry the URL: its query may hold a token.
    pub async fn get(&self, url: &str, range: Option<(u64, u64)>) -> anyhow::Result<Bytes> {
        let mut req = self.client.get(url)?;
        if let Some((offset, len)) = range {
            req = req.header("Range", format!("bytes={}-{}", offset, offset + len - 1));
        }
        let resp = req
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(reqwest::Error::without_url)?;
        let body = resp.bytes().await.map_err(reqwest::Error::without_url)?;
        self.counters
            .origin_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(body)
    }

    /// The length of a file, from a one-byte `Range` request (`Content-Range`'s total) or,
    /// where ranges are ignored, the `Content-Length` of the whole answer (not read).
    pub async fn length(&self, url: &str) -> anyhow::Result<u64> {
        let resp = self
            .client
            .get(url)?
            .header("Range", "bytes=0-0")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(reqwest::Error::without_url)?;
        let total = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once('/'))
            .and_then(|(_, n)| n.trim().parse::<u64>().ok());
        match (resp.status().as_u16(), total) {
            (206, Some(n)) => Ok(n),
            (200, _) => resp.content_length().context(
                "the origin gives no length for the file: it cannot be seeded by pieces",
            ),
            (status, _) => anyhow::bail!(
                "HTTP {status} without a complete length in Content-Range: the origin must serve byte ranges of the file"
            ),
        }
    }

    pub async fn text(&self, url: &str) -> anyhow::Result<String> {
        let body = self.get(url, None).await?;
        String::from_utf8(body.to_vec()).context("manifest is not UTF-8")
    }

    /// What is wrong with the channel's manifest, for the worker's stats (`None`: nothing).
    pub fn report_manifest_error(&self, error: Option<String>) {
        *self
            .counters
            .manifest_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// A stream's segments as listed now, and how soon to look again.
    pub async fn segments(
        &self,
        listing: &Listing,
        live: bool,
    ) -> anyhow::Result<(Vec<Segment>, Duration)> {
        let text = self.text(listing.url()).await?;
        match listing {
            Listing::Hls { playlist_url } => {
                let p = manifest::hls::media(&text, playlist_url, live)?;
                let wait = reload_wait(p.target_duration);
                Ok((p.segments, wait))
            }
            Listing::Dash {
                mpd_url,
                representation,
            } => {
                let mpd = Mpd::parse(&text, mpd_url)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                let listed = mpd.segments(representation, now)?;
                let mut segments = listed.segments;
                for index in &listed.indexes {
                    let bytes = self.get(&index.url, Some(index.range)).await?;
                    segments.extend(manifest::dash::segments_from_index(index, &bytes)?);
                }
                segments.sort_by_key(|s| s.id);
                let update = mpd.minimum_update_period.unwrap_or(2.0);
                Ok((segments, reload_wait(update)))
            }
            Listing::File { .. } => {
                anyhow::bail!("a progressive file has no listing: its pieces come from its length")
            }
        }
    }
}

/// How long to wait before reading a live listing again: half its segment duration (or
/// update period), 0.5 to 5 s; a value that is no number (the manifest's NaN or infinity,
/// which would panic a timer) counts as 2 s.
fn reload_wait(seconds: f64) -> Duration {
    let seconds = if seconds.is_finite() { seconds } else { 2.0 };
    Duration::from_secs_f64((seconds / 2.0).clamp(0.5, 5.0))
}

/// The channel's streams from its manifest: for HLS one per variant (and audio rendition) of a
/// master playlist, or the manifest itself when it is a media playlist; for DASH one per video
/// and audio representation.
pub fn variants(manifest_url: &str, text: &str, swarm_base: &str) -> Result<Vec<Variant>, String> {
    let variant = |swarm_id: String, hash: String, listing| {
        let info_hash = InfoHash::from_binary_str(&hash)
            .map_err(|e| format!("info hash of {swarm_id}: {e:?}"))?;
        Ok(Variant {
            swarm_id,
            info_hash,
            listing,
        })
    };
    if manifest::is_dash(text) {
        let mpd = Mpd::parse(text, manifest_url).map_err(|e| e.to_string())?;
        return mpd
            .streams()
            .into_iter()
            .map(|s| {
                let id = swarm_id::stream_swarm_id(swarm_base, s.stream_type, &s.index.to_string());
                let hash = swarm_id::info_hash_md5(&id);
                let listing = Listing::Dash {
                    mpd_url: manifest_url.to_owned(),
                    representation: s.representation,
                };
                variant(id, hash, listing)
            })
            .collect();
    }
    manifest::hls::streams(text)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| {
            let id = swarm_id::stream_swarm_id(swarm_base, s.stream_type, &s.identity.short_id());
            let hash = swarm_id::info_hash(&id);
            let playlist_url = if s.uri.is_empty() {
                manifest_url.to_owned()
            } else {
                manifest::url::resolve(manifest_url, &s.uri)
            };
            variant(id, hash, Listing::Hls { playlist_url })
        })
        .collect()
}

/// Whether a channel URL names a progressive file (by its path's extension).
pub fn is_progressive(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| PROGRESSIVE.contains(&ext.to_ascii_lowercase().as_str()))
}

/// A progressive file's swarm in pieces of `piece_length` bytes, named as the browser engine
/// declares it ([`swarm_id::file_short_id`]).
pub fn file_variant(url: &str, swarm_base: &str, piece_length: u64) -> Result<Variant, String> {
    let swarm_id = swarm_id::stream_swarm_id(
        swarm_base,
        swarm_id::StreamType::Main,
        &swarm_id::file_short_id(piece_length),
    );
    let info_hash = InfoHash::from_binary_str(&swarm_id::info_hash(&swarm_id))
        .map_err(|e| format!("info hash of {swarm_id}: {e:?}"))?;
    Ok(Variant {
        swarm_id,
        info_hash,
        listing: Listing::File {
            url: url.to_owned(),
        },
    })
}

/// The pieces of a file of `length` bytes as segments: piece `i` is segment `i`.
pub fn file_pieces(url: &str, length: u64, piece_length: u64) -> Vec<Segment> {
    wire::integrity::pieces(length, piece_length)
        .into_iter()
        .enumerate()
        .map(|(i, (first, last))| Segment {
            id: i as i64,
            url: url.to_owned(),
            byte_range: Some((first, last - first + 1)),
            start: 0.0,
            duration: 0.0,
        })
        .collect()
}

/// Polls one live variant until the node stops, adding each new segment to it once and
/// removing those that left the window.
pub async fn run_live(origin: Origin, variant: Variant, node: NodeHandle) {
    let swarm = variant.info_hash;
    let mut held: VecDeque<i64> = VecDeque::new();
    let mut known: BTreeSet<i64> = BTreeSet::new();
    loop {
        let mut wait = Duration::from_secs(1);
        match origin.segments(&variant.listing, true).await {
            Ok((segments, next)) => {
                origin.report_manifest_error(None);
                wait = next;
                let fresh: Vec<&Segment> =
                    segments.iter().filter(|s| !known.contains(&s.id)).collect();
                for seg in fresh {
                    match origin.get(&seg.url, seg.byte_range).await {
                        Ok(data) => {
                            known.insert(seg.id);
                            held.push_back(seg.id);
                            if node.add_segment(swarm, seg.id, data).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(
                            url = %wire::redact::url(&seg.url),
                            "segment fetch failed: {e:#}"
                        ),
                    }
                }
                let keep = segments.len() + LIVE_KEEP_BEHIND;
                while held.len() > keep {
                    let id = held.pop_front().expect("non-empty");
                    let _ = node.remove_segment(swarm, id).await;
                }
                // Forget ids far behind so the set stays small (a looping origin may reuse
                // nothing, but a restarted one could).
                if let Some(&oldest) = held.front() {
                    known = known.split_off(&oldest);
                }
            }
            Err(e) => {
                let url = wire::redact::url(variant.listing.url());
                tracing::warn!(url = %url, "manifest unusable: {e:#}");
                origin.report_manifest_error(Some(format!("{url}: {e:#}")));
            }
        }
        tokio::time::sleep(wait).await;
    }
}

/// The last position (inclusive) a VOD worker fetches for a viewer at position `i`: the next
/// `VOD_LOOKAHEAD` segments, and every one that starts within `VOD_LOOKAHEAD_SECS` of
/// segment `i` (lists without durations, such as a file's pieces, get the count alone).
fn lookahead_end(list: &[Segment], i: usize) -> usize {
    let Some(at) = list.get(i) else {
        return i;
    };
    let horizon = at.start + VOD_LOOKAHEAD_SECS;
    let by_time = list[i..]
        .iter()
        .take_while(|s| s.duration > 0.0 && s.start < horizon)
        .count()
        .saturating_sub(1);
    i + by_time.max(VOD_LOOKAHEAD)
}

/// Serves VOD variants: fetches what viewers are at (and a few segments ahead) from the
/// disk cache or the origin. `segments` holds the lists already known by variant index (a
/// file's pieces); the others come from their playlists when first wanted.
pub async fn run_vod(
    origin: Origin,
    variants: Vec<Variant>,
    mut segments: HashMap<usize, Vec<Segment>>,
    cache: Option<DiskCache>,
    mut demand: mpsc::Receiver<SwarmDemand>,
    node: NodeHandle,
) {
    let mut held: Vec<VecDeque<i64>> = vec![VecDeque::new(); variants.len()];
    while let Some(SwarmDemand { swarm: key, demand }) = demand.recv().await {
        let Some(swarm) = variants.iter().position(|v| v.info_hash == key) else {
            continue;
        };
        let variant = &variants[swarm];
        if let std::collections::hash_map::Entry::Vacant(e) = segments.entry(swarm) {
            match origin.segments(&variant.listing, false).await {
                Ok((list, _)) => {
                    origin.report_manifest_error(None);
                    e.insert(list);
                }
                Err(e) => {
                    let url = wire::redact::url(variant.listing.url());
                    tracing::warn!(url = %url, "manifest unusable: {e:#}");
                    origin.report_manifest_error(Some(format!("{url}: {e:#}")));
                    continue;
                }
            }
        }
        let list = &segments[&swarm];
        // Segments by position in the list (ids need not be consecutive: DASH ids count half
        // seconds).
        let mut wanted: BTreeSet<usize> = BTreeSet::new();
        for id in demand
            .missing
            .into_iter()
            .chain(demand.announced.iter().max().copied())
        {
            if let Ok(i) = list.binary_search_by_key(&id, |s| s.id) {
                wanted.extend(i..=lookahead_end(list, i));
            }
        }
        for seg in wanted.into_iter().filter_map(|i| list.get(i)) {
            let id = seg.id;
            if held[swarm].contains(&id) {
                continue;
            }
            let name = cache::file_name(&variant.info_hash.to_binary_string(), id);
            let data = match cache.as_ref().and_then(|c| c.get(&name)) {
                Some(data) => Bytes::from(data),
                None => match origin.get(&seg.url, seg.byte_range).await {
                    Ok(data) => {
                        if let Some(c) = &cache {
                            if let Err(e) = c.put(&name, &data) {
                                tracing::warn!("disk cache write failed: {e}");
                            }
                        }
                        data
                    }
                    Err(e) => {
                        tracing::warn!(
                            url = %wire::redact::url(&seg.url),
                            "segment fetch failed: {e:#}"
                        );
                        continue;
                    }
                },
            };
            held[swarm].push_back(id);
            if node.add_segment(key, id, data).await.is_err() {
                return;
            }
            while held[swarm].len() > VOD_MEMORY_SEGMENTS {
                let old = held[swarm].pop_front().expect("non-empty");
                let _ = node.remove_segment(key, old).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(durations: &[f64]) -> Vec<Segment> {
        let mut start = 0.0;
        durations
            .iter()
            .enumerate()
            .map(|(k, &d)| {
                let s = Segment {
                    id: k as i64,
                    url: format!("http://o/{k}.m4s"),
                    byte_range: None,
                    start,
                    duration: d,
                };
                start += d;
                s
            })
            .collect()
    }

    #[test]
    fn vod_lookahead_covers_thirty_seconds_and_at_least_three_segments() {
        let fours = timed(&[4.0; 40]);
        // 4 s segments: those starting within 30 s of segment 2's start are 2..=9.
        assert_eq!(lookahead_end(&fours, 2), 9);
        let tens = timed(&[10.0; 10]);
        assert_eq!(lookahead_end(&tens, 0), 3, "never fewer than three");
        // A file's pieces have no times (all "start" at 0): the count alone, not the whole file.
        assert_eq!(lookahead_end(&timed(&[0.0; 1000]), 4), 7);
        assert_eq!(
            lookahead_end(&fours, 99),
            99,
            "a position past the list is its own end"
        );
    }

    #[test]
    fn media_playlist_is_one_main_swarm_of_its_own_url() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";
        let v = variants(
            "http://o/live/x/index.m3u8?t=1",
            text,
            "http://o/live/x/index.m3u8",
        )
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].listing,
            Listing::Hls {
                playlist_url: "http://o/live/x/index.m3u8?t=1".into()
            }
        );
        assert!(v[0]
            .swarm_id
            .starts_with("v2-http://o/live/x/index.m3u8-main-"));
        assert_eq!(v[0].info_hash.to_binary_string().len(), 20);
    }

    #[test]
    fn a_file_is_one_swarm_of_pieces_as_the_browser_engine_declares_it() {
        assert!(is_progressive("http://o/m/progressive.MP4?token=1"));
        assert!(is_progressive("http://o/audio.mp3#t=3"));
        assert!(!is_progressive("http://o/live/index.m3u8"));
        assert!(!is_progressive("http://o/mp4/"));
        let v = file_variant("http://o/a.mp4?t=1", "http://o/a.mp4", PIECE_LENGTH).unwrap();
        // @swarmcast/media's fileShortId(512 KiB) = streamShortId({ bitrate: 0 }).
        let text = "#EXTM3U\n#EXTINF:2,\na.ts\n";
        let same = variants("http://o/a.mp4", text, "http://o/a.mp4").unwrap();
        assert_eq!(v.swarm_id, same[0].swarm_id);
        assert_eq!(
            v.listing,
            Listing::File {
                url: "http://o/a.mp4?t=1".into()
            }
        );
        let p = file_pieces("http://o/a.mp4", 2 * PIECE_LENGTH + 10, PIECE_LENGTH);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].byte_range, Some((PIECE_LENGTH, PIECE_LENGTH)));
        assert_eq!(p[2].byte_range, Some((2 * PIECE_LENGTH, 10)));
        assert_eq!(p[2].id, 2);
    }

    #[test]
    fn another_piece_length_is_another_swarm_cut_in_its_pieces() {
        let v = file_variant("http://o/a.mp4?t=1", "http://o/a.mp4", 262_144).unwrap();
        // @swarmcast/media's fileShortId(262144), run in node.
        assert_eq!(
            v.swarm_id,
            "v2-http://o/a.mp4-main-RIB73Egh7RpdzH9xgYEHtpXx+xw="
        );
        let default = file_variant("http://o/a.mp4?t=1", "http://o/a.mp4", PIECE_LENGTH).unwrap();
        assert_ne!(v.info_hash, default.info_hash);
        let p = file_pieces("http://o/a.mp4", 3 * 262_144 + 1, 262_144);
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].byte_range, Some((262_144, 262_144)));
        assert_eq!(p[3].byte_range, Some((3 * 262_144, 1)));
    }

    #[test]
    fn master_playlist_gives_one_swarm_per_variant() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n";
        let v = variants("http://o/abr/master.m3u8", text, "http://o/abr/master.m3u8").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[1].listing,
            Listing::Hls {
                playlist_url: "http://o/abr/720p/index.m3u8".into()
            }
        );
        assert_ne!(v[0].info_hash, v[1].info_hash);
    }

    #[test]
    fn mpd_gives_one_swarm_per_representation_named_as_shaka_peers_name_them() {
        let text = r#"<MPD type="static" mediaPresentationDuration="PT4S"><Period>
            <AdaptationSet contentType="video"><SegmentTemplate timescale="1" duration="2" media="$RepresentationID$-$Number$.m4s"/>
              <Representation id="hi" bandwidth="2"/><Representation id="lo" bandwidth="1"/></AdaptationSet>
            <AdaptationSet contentType="audio"><SegmentTemplate timescale="1" duration="2" media="a-$Number$.m4s"/>
              <Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
        let v = variants("http://o/d/m.mpd?t=1", text, "http://o/d/m.mpd").unwrap();
        let ids: Vec<&str> = v.iter().map(|v| v.swarm_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "v2-http://o/d/m.mpd-main-0",
                "v2-http://o/d/m.mpd-main-1",
                "v2-http://o/d/m.mpd-secondary-0"
            ]
        );
        assert_eq!(
            v[0].info_hash.to_binary_string(),
            swarm_id::info_hash_md5("v2-http://o/d/m.mpd-main-0")
        );
        assert_eq!(
            v[1].listing,
            Listing::Dash {
                mpd_url: "http://o/d/m.mpd?t=1".into(),
                representation: "lo".into()
            }
        );
    }

    #[test]
    fn malformed_manifests_are_errors() {
        assert!(variants("http://o/m.mpd", "<MPD><Period>", "b").is_err());
        assert!(variants(
            "http://o/m.m3u8",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=x\na.m3u8\n",
            "b"
        )
        .is_err());
    }
}
