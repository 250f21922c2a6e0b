//! The swarms of the operator's channels, for a private tracker: which info_hashes it takes
//! and which channel each belongs to. They are derived from each channel's HLS manifest
//! exactly as P2P Media Loader and our SDK derive them ([`wire::swarm_id`]): one swarm per
//! variant and audio rendition. Pure: the caller reads the list and fetches the manifests.
//!
//! A channel list has one channel a line, `#` comments and blank lines aside:
//! - `https://cdn.example.com/live/news/index.m3u8`: the channel id is the manifest URL
//!   without its query (P2P Media Loader's default);
//! - `news https://cdn.example.com/live/news/index.m3u8?token=abc`: a custom channel id (the
//!   player's `swarmId` / `channelId`), then the manifest to read the variants from.

use std::collections::HashMap;
use std::sync::Arc;

use wire::swarm_id::{self, hls};
use wire::tracker::InfoHash;

/// One line of a channel list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEntry {
    /// The custom channel id, if the line gave one.
    pub custom_id: Option<String>,
    pub manifest_url: String,
}

/// Reads a channel list; errors name the line.
pub fn parse_list(text: &str) -> Result<Vec<ChannelEntry>, String> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (custom_id, url) = match fields[..] {
            [url] => (None, url),
            [id, url] => (Some(id.to_owned()), url),
            _ => {
                return Err(format!(
                    "line {}: expected MANIFEST_URL or CHANNEL_ID MANIFEST_URL",
                    i + 1
                ))
            }
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("line {}: `{url}` is not an http(s) URL", i + 1));
        }
        entries.push(ChannelEntry {
            custom_id,
            manifest_url: url.to_owned(),
        });
    }
    Ok(entries)
}

/// The info_hashes of the operator's channels, each with its channel id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmList {
    by_hash: HashMap<InfoHash, Arc<str>>,
    channels: usize,
}

impl SwarmList {
    /// Adds the swarms of one channel from its manifest (`final_url`: where the manifest was
    /// read from, after redirects); returns how many. An empty result means the text is not an
    /// HLS playlist.
    pub fn add(&mut self, entry: &ChannelEntry, final_url: &str, manifest: &str) -> usize {
        let base = swarm_id::swarm_base(final_url, entry.custom_id.as_deref());
        let channel: Arc<str> = Arc::from(base);
        let mut added = 0;
        for stream in hls::streams(manifest) {
            let id =
                swarm_id::stream_swarm_id(base, stream.stream_type, &stream.identity.short_id());
            let Ok(hash) = InfoHash::from_binary_str(&swarm_id::info_hash(&id)) else {
                continue;
            };
            self.by_hash.insert(hash, Arc::clone(&channel));
            added += 1;
        }
        self.channels += usize::from(added > 0);
        added
    }

    /// The channel an info_hash belongs to, if it is one of the list's.
    pub fn channel_of(&self, info_hash: &InfoHash) -> Option<&str> {
        self.by_hash.get(info_hash).map(|c| &**c)
    }

    /// Swarms in the list.
    pub fn swarms(&self) -> usize {
        self.by_hash.len()
    }

    /// Channels that gave at least one swarm.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n";

    #[test]
    fn lists_parse_with_comments_and_custom_ids() {
        let list = parse_list(
            "# ours\n\nhttps://cdn.example/a.m3u8\nnews  https://cdn.example/b.m3u8?t=1\n",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].custom_id, None);
        assert_eq!(list[1].custom_id.as_deref(), Some("news"));
        assert!(parse_list("a b c").unwrap_err().starts_with("line 1:"));
        assert!(parse_list("\nftp://x").unwrap_err().starts_with("line 2:"));
    }

    #[test]
    fn swarms_are_those_the_players_derive() {
        let entry = &parse_list("https://cdn.example/live/master.m3u8").unwrap()[0];
        let mut list = SwarmList::default();
        assert_eq!(
            list.add(
                entry,
                "https://cdn.example/live/master.m3u8?token=x",
                MASTER
            ),
            2
        );
        // The swarm id of the 360p variant, as P2P Media Loader forms it.
        let short = hls::streams(MASTER)[0].identity.short_id();
        let id = format!("v2-https://cdn.example/live/master.m3u8-main-{short}");
        let hash = InfoHash::from_binary_str(&swarm_id::info_hash(&id)).unwrap();
        assert_eq!(
            list.channel_of(&hash),
            Some("https://cdn.example/live/master.m3u8")
        );
        let other = InfoHash::from_binary_str("LF5ru/aNcTeuFIVnksyB").unwrap();
        assert_eq!(list.channel_of(&other), None);

        let custom = &parse_list("news https://cdn.example/n.m3u8").unwrap()[0];
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";
        assert_eq!(list.add(custom, "https://cdn.example/n.m3u8", media), 1);
        assert_eq!(list.add(custom, "https://cdn.example/n.m3u8", "<html>"), 0);
        assert_eq!((list.swarms(), list.channels()), (3, 2));
    }
}
