//! Channels the operator lists: channel URLs, or indexes of them (a text file or M3U list of
//! channel URLs, one per line). Viewers that report no SDK stats (plain P2P Media Loader)
//! reach the tracker as bare info-hashes; deriving each listed channel's swarm ids from its
//! manifest, as P2P Media Loader derives them, gives those swarms their channel, so they are
//! ranked and seeded like channels our SDK reports.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use wire::swarm_id;

use crate::tracker::SwarmEntry;

/// Entries read from one index at most.
pub const MAX_INDEX_ENTRIES: usize = 1000;

/// What a listed URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A channel's manifest (an HLS playlist).
    Channel,
    /// A list of channel manifest URLs.
    Index,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Channel => "channel",
            Kind::Index => "index",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "channel" => Some(Kind::Channel),
            "index" => Some(Kind::Index),
            _ => None,
        }
    }
}

/// One channel learnt from the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListedChannel {
    /// The URL as listed (or as read from an index).
    pub url: String,
    /// The channel id: the manifest's final URL without its query (P2P Media Loader's swarm
    /// base), what our SDK reports and what a super peer is told to seed.
    pub channel: String,
    /// The tracker info-hashes (hex) of its streams.
    pub info_hashes: Vec<String>,
    /// Why nothing could be derived, when so.
    pub error: Option<String>,
}

impl ListedChannel {
    /// The URL a super peer must fetch when the channel id alone does not do (a query such
    /// as a token, or a redirect).
    pub fn seed_url(&self) -> Option<&str> {
        (self.error.is_none() && self.url != self.channel).then_some(self.url.as_str())
    }
}

/// Checks a URL an operator lists: http(s) with a host; a query (a token) is kept.
pub fn validate_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim();
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| format!("invalid URL `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "URL `{url}` must be http:// or https:// with a host"
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!("URL `{url}` must not have a fragment"));
    }
    Ok(trimmed.to_owned())
}

/// A manifest's swarms: `final_url` is where the manifest was read from after redirects.
pub fn derive(url: &str, final_url: &str, body: &str) -> ListedChannel {
    let channel = swarm_id::swarm_base(final_url, None).to_owned();
    let text = body.trim_start_matches('\u{feff}').trim_start();
    let (info_hashes, error) = if text.starts_with("#EXTM3U") {
        let hashes: Vec<String> = swarm_id::hls::swarms(&channel, text)
            .iter()
            .map(|s| swarm_id::info_hash_hex(&s.info_hash))
            .collect();
        (hashes, None)
    } else if text.starts_with("<?xml") || text.starts_with("<MPD") {
        (
            Vec::new(),
            Some("a DASH MPD: only HLS channels are matched to swarms by URL".to_owned()),
        )
    } else {
        (
            Vec::new(),
            Some("neither an HLS playlist nor a DASH MPD".to_owned()),
        )
    };
    ListedChannel {
        url: url.to_owned(),
        channel,
        info_hashes,
        error,
    }
}

/// The channel URLs of an index: every line that is not blank or a `#` comment (so plain
/// lists and M3U channel lists both read), resolved against the index's URL. Only http(s).
pub fn index_entries(index_url: &str, body: &str) -> Result<Vec<String>, String> {
    let base =
        reqwest::Url::parse(index_url).map_err(|e| format!("`{index_url}` is not a URL: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let url = base
            .join(line)
            .map_err(|e| format!("bad channel URL `{line}` in the index: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("channel URL `{line}` in the index is not http(s)"));
        }
        if out.len() == MAX_INDEX_ENTRIES {
            return Err(format!(
                "the index lists more than {MAX_INDEX_ENTRIES} channels"
            ));
        }
        let url = url.to_string();
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// Gives swarms the tracker knows only by info-hash the channel they belong to.
pub fn attribute(swarms: &mut [SwarmEntry], channels: &[ListedChannel]) {
    let by_hash: HashMap<&str, &str> = channels
        .iter()
        .flat_map(|c| {
            c.info_hashes
                .iter()
                .map(|h| (h.as_str(), c.channel.as_str()))
        })
        .collect();
    for s in swarms.iter_mut().filter(|s| s.channel.is_none()) {
        if let Some(channel) = by_hash.get(s.info_hash.to_ascii_lowercase().as_str()) {
            s.channel = Some((*channel).to_owned());
        }
    }
}

/// Reads the listed URLs: each channel's manifest, each index and then its channels' manifests.
pub async fn resolve(http: &reqwest::Client, listed: &[(Kind, String)]) -> Vec<ListedChannel> {
    let mut urls: Vec<String> = Vec::new();
    let mut out: Vec<ListedChannel> = Vec::new();
    for (kind, url) in listed {
        match kind {
            Kind::Channel => urls.push(url.clone()),
            Kind::Index => match fetch_index(http, url).await {
                Ok(entries) => urls.extend(entries),
                Err(e) => out.push(ListedChannel {
                    url: url.clone(),
                    error: Some(e),
                    ..ListedChannel::default()
                }),
            },
        }
    }
    let mut seen = std::collections::HashSet::new();
    urls.retain(|u| seen.insert(u.clone()));
    for url in urls {
        out.push(match crate::manifest::fetch_text(http, &url).await {
            Ok((final_url, body)) => derive(&url, &final_url, &body),
            Err(e) => ListedChannel {
                channel: swarm_id::swarm_base(&url, None).to_owned(),
                url,
                error: Some(e),
                ..ListedChannel::default()
            },
        });
    }
    out
}

async fn fetch_index(http: &reqwest::Client, url: &str) -> Result<Vec<String>, String> {
    let (final_url, body) = crate::manifest::fetch_text(http, url).await?;
    index_entries(&final_url, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm(info_hash: &str, channel: Option<&str>) -> SwarmEntry {
        SwarmEntry {
            info_hash: info_hash.into(),
            peers: 3,
            channel: channel.map(str::to_owned),
            ..SwarmEntry::default()
        }
    }

    #[test]
    fn a_media_playlist_is_one_swarm_with_the_ids_viewers_use() {
        let body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n";
        let c = derive(
            "http://o/live/a.m3u8?token=x",
            "http://o/live/a.m3u8?token=x",
            body,
        );
        assert_eq!(c.channel, "http://o/live/a.m3u8");
        assert_eq!(c.seed_url(), Some("http://o/live/a.m3u8?token=x"));
        let id = swarm_id::stream_swarm_id(
            "http://o/live/a.m3u8",
            swarm_id::StreamType::Main,
            &swarm_id::StreamIdentity::default().short_id(),
        );
        assert_eq!(
            c.info_hashes,
            vec![swarm_id::info_hash_hex(&swarm_id::info_hash(&id))]
        );
        assert_eq!(c.error, None);
    }

    #[test]
    fn a_master_playlist_has_a_swarm_per_stream_and_redirects_change_the_channel() {
        let master =
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"en.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"a\"\nlow.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO=\"a\"\nhigh.m3u8\n";
        let c = derive("http://o/ch", "http://cdn/ch/master.m3u8", master);
        assert_eq!(c.channel, "http://cdn/ch/master.m3u8");
        assert_eq!(c.info_hashes.len(), 3);
        assert_eq!(c.seed_url(), Some("http://o/ch"));
    }

    #[test]
    fn what_is_not_hls_says_why() {
        let c = derive("http://o/a.mpd", "http://o/a.mpd", "<MPD type=\"static\"/>");
        assert!(c.info_hashes.is_empty());
        assert!(c.error.as_deref().unwrap().contains("DASH"));
        let c = derive("http://o/a", "http://o/a", "<html>");
        assert!(c.error.as_deref().unwrap().contains("neither"));
        assert_eq!(c.seed_url(), None, "nothing to seed from an error");
    }

    #[test]
    fn indexes_read_plain_and_m3u_lists_relative_to_themselves() {
        let plain = "http://o/a.m3u8\n\n  b/index.m3u8  \n# a comment\nhttp://o/a.m3u8\n";
        assert_eq!(
            index_entries("http://o/list.txt", plain).unwrap(),
            vec!["http://o/a.m3u8", "http://o/b/index.m3u8"]
        );
        let m3u = "#EXTM3U\n#EXTINF:-1 tvg-id=\"one\",One\nhttps://cdn/one.m3u8\n";
        assert_eq!(
            index_entries("http://o/tv.m3u", m3u).unwrap(),
            vec!["https://cdn/one.m3u8"]
        );
        let bad = index_entries("http://o/i", "file:///etc/passwd\n").unwrap_err();
        assert!(bad.contains("not http(s)"), "{bad}");
        let many: String = (0..=MAX_INDEX_ENTRIES)
            .map(|i| format!("c{i}.m3u8\n"))
            .collect();
        assert!(index_entries("http://o/i", &many)
            .unwrap_err()
            .contains("more than"));
    }

    #[test]
    fn swarms_without_a_channel_get_the_listed_one() {
        let c = ListedChannel {
            url: "http://o/a.m3u8".into(),
            channel: "http://o/a.m3u8".into(),
            info_hashes: vec!["aa".repeat(20)],
            error: None,
        };
        let mut swarms = [
            swarm(&"AA".repeat(20), None),
            swarm(&"bb".repeat(20), None),
            swarm(&"aa".repeat(20), Some("http://reported")),
        ];
        attribute(&mut swarms, &[c]);
        assert_eq!(swarms[0].channel.as_deref(), Some("http://o/a.m3u8"));
        assert_eq!(swarms[1].channel, None);
        assert_eq!(
            swarms[2].channel.as_deref(),
            Some("http://reported"),
            "a channel the SDK reported stays"
        );
    }
}
