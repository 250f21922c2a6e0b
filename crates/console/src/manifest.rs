//! Whether a channel is live or VOD, from its manifest, so seeds carry the right `live` flag
//! (a live worker polls the playlist; a VOD worker fetches on demand through its disk cache).
//!
//! HLS: a media playlist is live unless it has `#EXT-X-ENDLIST` or `#EXT-X-PLAYLIST-TYPE:VOD`;
//! a master playlist is as live as its first variant. DASH: `type="dynamic"` is live.

/// What one manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An HLS media playlist or a DASH MPD: live or not.
    Stream { live: bool, why: &'static str },
    /// An HLS master playlist: look at this variant (URI as written, maybe relative).
    Master { variant: String },
}

/// Classifies a manifest body; `None` when it is neither HLS nor DASH.
pub fn classify(body: &str) -> Option<Manifest> {
    let text = body.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("#EXTM3U") {
        return Some(classify_hls(text));
    }
    if text.starts_with("<?xml") || text.starts_with("<MPD") {
        let mpd = text.find("<MPD").map(|i| &text[i..])?;
        let head = &mpd[..mpd.find('>').unwrap_or(mpd.len())];
        let live = head.contains("type=\"dynamic\"") || head.contains("type='dynamic'");
        let why = if live {
            "the MPD is dynamic"
        } else {
            "the MPD is static"
        };
        return Some(Manifest::Stream { live, why });
    }
    None
}

fn classify_hls(text: &str) -> Manifest {
    let mut expect_variant = false;
    let mut first_variant = None;
    for line in text.lines().map(str::trim) {
        if line == "#EXT-X-ENDLIST" {
            return Manifest::Stream {
                live: false,
                why: "the playlist has EXT-X-ENDLIST",
            };
        }
        if line
            .strip_prefix("#EXT-X-PLAYLIST-TYPE:")
            .is_some_and(|t| t.trim() == "VOD")
        {
            return Manifest::Stream {
                live: false,
                why: "the playlist type is VOD",
            };
        }
        if line.starts_with("#EXT-X-STREAM-INF") {
            expect_variant = true;
        } else if expect_variant && !line.is_empty() && !line.starts_with('#') {
            first_variant.get_or_insert_with(|| line.to_owned());
            expect_variant = false;
        }
    }
    match first_variant {
        Some(variant) => Manifest::Master { variant },
        None => Manifest::Stream {
            live: true,
            why: "the playlist has no EXT-X-ENDLIST",
        },
    }
}

/// Fetches `url` (following one master playlist to its first variant) and says whether the
/// stream is live, and why.
pub async fn is_live(http: &reqwest::Client, url: &str) -> Result<(bool, &'static str), String> {
    let mut url = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not a manifest URL"))?;
    for _ in 0..2 {
        let (_, body) = fetch(http, &url).await?;
        match classify(&body) {
            None => return Err(format!("{url} is neither an HLS playlist nor a DASH MPD")),
            Some(Manifest::Stream { live, why }) => return Ok((live, why)),
            Some(Manifest::Master { variant }) => {
                url = url
                    .join(&variant)
                    .map_err(|e| format!("{url}: bad variant URI `{variant}`: {e}"))?;
            }
        }
    }
    Err(format!("{url}: a master playlist inside a master playlist"))
}

/// Manifests bigger than this are not read (a live playlist is a few KB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Fetches a manifest (or a list of them): its final URL after redirects and its text.
pub async fn fetch_text(http: &reqwest::Client, url: &str) -> Result<(String, String), String> {
    let url = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    fetch(http, &url).await
}

async fn fetch(http: &reqwest::Client, url: &reqwest::Url) -> Result<(String, String), String> {
    let resp = crate::superpeer::send(http.get(url.clone()), crate::superpeer::Retry::Once)
        .await
        .map_err(|e| format!("{url}: {}", crate::superpeer::describe(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let final_url = resp.url().to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{url}: {}", crate::superpeer::describe(&e)))?;
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{url}: manifest over {MAX_MANIFEST_BYTES} bytes"));
    }
    Ok((final_url, String::from_utf8_lossy(&body).into_owned()))
}

/// `live` of a seed: the operator's choice, else the manifest's answer, else `fallback`.
/// Returns the flag and the words for the decision log.
pub async fn decide_live(
    http: &reqwest::Client,
    channel: &str,
    explicit: Option<bool>,
    fallback: bool,
) -> (bool, String) {
    if let Some(live) = explicit {
        return (live, format!("{} as asked", live_word(live)));
    }
    match is_live(http, channel).await {
        Ok((live, why)) => (live, format!("{}: {why}", live_word(live))),
        Err(e) => {
            tracing::warn!(channel, error = %e, "cannot tell live from VOD; using the default");
            (
                fallback,
                format!(
                    "{} by default (manifest unreadable: {e})",
                    live_word(fallback)
                ),
            )
        }
    }
}

fn live_word(live: bool) -> &'static str {
    if live {
        "live"
    } else {
        "VOD"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_media_playlists() {
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\ns7.ts\n";
        assert!(matches!(
            classify(live),
            Some(Manifest::Stream { live: true, .. })
        ));
        let event = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2,\ns0.ts\n";
        assert!(matches!(
            classify(event),
            Some(Manifest::Stream { live: true, .. })
        ));
        let vod = format!("{live}#EXT-X-ENDLIST\n");
        assert!(matches!(
            classify(&vod),
            Some(Manifest::Stream { live: false, .. })
        ));
        let typed = "#EXTM3U\r\n#EXT-X-PLAYLIST-TYPE:VOD\r\n#EXTINF:2,\r\ns0.ts\r\n";
        assert!(matches!(
            classify(typed),
            Some(Manifest::Stream { live: false, .. })
        ));
    }

    #[test]
    fn master_playlists_point_at_their_first_variant() {
        let master = "\u{feff}#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"a/index.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000\n\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000\nhigh/index.m3u8\n";
        assert_eq!(
            classify(master),
            Some(Manifest::Master {
                variant: "low/index.m3u8".into()
            })
        );
    }

    #[test]
    fn dash_and_others() {
        let dynamic = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\">";
        assert!(matches!(
            classify(dynamic),
            Some(Manifest::Stream { live: true, .. })
        ));
        let fixed = "<MPD type=\"static\" mediaPresentationDuration=\"PT60S\"><Period/></MPD>";
        assert!(matches!(
            classify(fixed),
            Some(Manifest::Stream { live: false, .. })
        ));
        assert_eq!(classify("<html>not found</html>"), None);
        assert_eq!(classify(""), None);
    }
}
