//! The worker's media side: finds the channel's variants (one swarm each, ids derived as
//! P2P Media Loader 2.3 does), then for live streams polls each variant playlist and
//! fetches every new segment from the origin once, ahead of the viewers; for VOD fetches
//! the segments viewers are at (and a few ahead) on demand, through the disk cache.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use swarm::node::NodeHandle;
use swarm::SwarmDemand;
use tokio::sync::mpsc;
use wire::swarm_id::{self, hls};
use wire::tracker::InfoHash;

use super::cache::{self, DiskCache};
use super::playlist::{self, Segment};
use super::Counters;

/// Live segments kept behind the oldest one still listed in the playlist.
const LIVE_KEEP_BEHIND: usize = 3;
/// VOD segments fetched past the one a viewer is at.
const VOD_LOOKAHEAD: i64 = 3;
/// VOD segments held in memory per swarm (older ones stay in the disk cache).
const VOD_MEMORY_SEGMENTS: usize = 40;

/// One stream of the channel: its swarm and its media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub swarm_id: String,
    pub info_hash: InfoHash,
    pub playlist_url: String,
}

/// Fetches bytes from the origin, counting them.
#[derive(Clone)]
pub struct Origin {
    client: reqwest::Client,
    counters: Arc<Counters>,
}

impl Origin {
    pub fn new(counters: Arc<Counters>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("swarmcast-superpeer/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, counters })
    }

    pub async fn get(&self, url: &str, range: Option<(u64, u64)>) -> anyhow::Result<Bytes> {
        let mut req = self.client.get(url);
        if let Some((offset, len)) = range {
            req = req.header("Range", format!("bytes={}-{}", offset, offset + len - 1));
        }
        let resp = req.send().await?.error_for_status()?;
        let body = resp.bytes().await?;
        self.counters
            .origin_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(body)
    }

    pub async fn text(&self, url: &str) -> anyhow::Result<String> {
        let body = self.get(url, None).await?;
        String::from_utf8(body.to_vec()).context("playlist is not UTF-8")
    }
}

/// The channel's variants from its manifest: one per variant (and audio rendition) of a
/// master playlist, or the manifest itself when it is a media playlist.
pub fn variants(
    manifest_url: &str,
    manifest: &str,
    swarm_base: &str,
) -> Result<Vec<Variant>, String> {
    hls::streams(manifest)
        .into_iter()
        .map(|s| {
            let swarm_id =
                swarm_id::stream_swarm_id(swarm_base, s.stream_type, &s.identity.short_id());
            let info_hash = InfoHash::from_binary_str(&swarm_id::info_hash(&swarm_id))
                .map_err(|e| format!("info hash of {swarm_id}: {e:?}"))?;
            Ok(Variant {
                info_hash,
                swarm_id,
                playlist_url: if s.uri.is_empty() {
                    manifest_url.to_owned()
                } else {
                    playlist::resolve(manifest_url, &s.uri)
                },
            })
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
        match origin.text(&variant.playlist_url).await.and_then(|t| {
            playlist::parse_media(&t, &variant.playlist_url, true).map_err(anyhow::Error::msg)
        }) {
            Ok(p) => {
                wait = p.reload_interval();
                let fresh: Vec<&Segment> = p
                    .segments
                    .iter()
                    .filter(|s| !known.contains(&s.id))
                    .collect();
                for seg in fresh {
                    match origin.get(&seg.url, seg.byte_range).await {
                        Ok(data) => {
                            known.insert(seg.id);
                            held.push_back(seg.id);
                            if node.add_segment(swarm, seg.id, data).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(url = %seg.url, "segment fetch failed: {e:#}"),
                    }
                }
                let keep = p.segments.len() + LIVE_KEEP_BEHIND;
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
            Err(e) => tracing::warn!(url = %variant.playlist_url, "playlist fetch failed: {e:#}"),
        }
        tokio::time::sleep(wait).await;
    }
}

/// Serves VOD variants: fetches what viewers are at (and a few segments ahead) from the
/// disk cache or the origin.
pub async fn run_vod(
    origin: Origin,
    variants: Vec<Variant>,
    cache: Option<DiskCache>,
    mut demand: mpsc::Receiver<SwarmDemand>,
    node: NodeHandle,
) {
    let mut segments: HashMap<usize, Vec<Segment>> = HashMap::new();
    let mut held: Vec<VecDeque<i64>> = vec![VecDeque::new(); variants.len()];
    while let Some(SwarmDemand { swarm: key, demand }) = demand.recv().await {
        let Some(swarm) = variants.iter().position(|v| v.info_hash == key) else {
            continue;
        };
        let variant = &variants[swarm];
        if let std::collections::hash_map::Entry::Vacant(e) = segments.entry(swarm) {
            match origin.text(&variant.playlist_url).await.and_then(|t| {
                playlist::parse_media(&t, &variant.playlist_url, false).map_err(anyhow::Error::msg)
            }) {
                Ok(p) => {
                    e.insert(p.segments);
                }
                Err(e) => {
                    tracing::warn!(url = %variant.playlist_url, "playlist fetch failed: {e:#}");
                    continue;
                }
            }
        }
        let list = &segments[&swarm];
        let mut wanted: BTreeSet<i64> = BTreeSet::new();
        for id in demand
            .missing
            .into_iter()
            .chain(demand.announced.iter().max().copied())
        {
            wanted.extend(id..=id + VOD_LOOKAHEAD);
        }
        for id in wanted {
            if held[swarm].contains(&id) {
                continue;
            }
            let Some(seg) = usize::try_from(id).ok().and_then(|i| list.get(i)) else {
                continue;
            };
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
                        tracing::warn!(url = %seg.url, "segment fetch failed: {e:#}");
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
        assert_eq!(v[0].playlist_url, "http://o/live/x/index.m3u8?t=1");
        assert!(v[0]
            .swarm_id
            .starts_with("v2-http://o/live/x/index.m3u8-main-"));
        assert_eq!(v[0].info_hash.to_binary_string().len(), 20);
    }

    #[test]
    fn master_playlist_gives_one_swarm_per_variant() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n";
        let v = variants("http://o/abr/master.m3u8", text, "http://o/abr/master.m3u8").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].playlist_url, "http://o/abr/720p/index.m3u8");
        assert_ne!(v[0].info_hash, v[1].info_hash);
    }
}
