//! Media manifests as the servers need them, sans-IO: which streams a channel has (one
//! swarm each, named as P2P Media Loader names them), which segments each stream lists and
//! the id P2P Media Loader gives every segment, and whether the channel is live.
//!
//! - [`hls`]: HLS master and media playlists, parsed by `m3u8-rs`; ids as P2P Media Loader's
//!   hls.js integration gives them (media sequence when live, position when VOD).
//! - [`dash`]: DASH MPDs, parsed by `roxmltree`: `SegmentTemplate` with `$Number$` or
//!   `SegmentTimeline`/`$Time$`, `SegmentList`, `SegmentBase` (through `wire::mp4`'s sidx parser); ids as P2P
//!   Media Loader's Shaka integration gives them (`trunc(start time / 0.5 s)`).
//! - [`classify`]: what a manifest body is (HLS master, HLS media, DASH) and whether it is live.
//! - [`url::resolve`]: relative references in manifests.
//!
//! The super-peer worker and the console both read manifests through this crate; fetching
//! them is the caller's business.

pub mod dash;
pub mod hls;
pub mod url;

/// One segment of a stream, with everything needed to fetch it and to name it in a swarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// P2P Media Loader's `externalId` of the segment.
    pub id: i64,
    /// Absolute URL.
    pub url: String,
    /// `(offset, length)` of the segment's bytes within `url`, when it is a byte range.
    pub byte_range: Option<(u64, u64)>,
    /// Start on the presentation timeline, seconds.
    pub start: f64,
    /// Seconds.
    pub duration: f64,
}

/// Why a manifest cannot be used. The message names what is wrong, for logs and `/stats`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not an HLS playlist: {0}")]
    Hls(String),
    #[error("not a usable DASH MPD: {0}")]
    Dash(String),
    #[error("neither an HLS playlist nor a DASH MPD")]
    Unknown,
    #[error("bad segment index (sidx): {0}")]
    Sidx(String),
}

/// What a manifest body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// An HLS media playlist or a DASH MPD, live or not, and the words that say why.
    Stream { live: bool, why: &'static str },
    /// An HLS master playlist: its first variant (URI as written) tells live from VOD.
    Master { variant: String },
}

/// Whether the body looks like a DASH MPD rather than an HLS playlist.
pub fn is_dash(body: &str) -> bool {
    let text = body.trim_start_matches('\u{feff}').trim_start();
    text.starts_with("<?xml") || text.starts_with("<MPD")
}

/// Classifies a manifest body: HLS (master or media) or DASH, live or not.
pub fn classify(body: &str) -> Result<Classified, ManifestError> {
    let text = body.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("#EXTM3U") {
        return hls::classify(text);
    }
    if is_dash(text) {
        let mpd = dash::Mpd::parse(text, "http://manifest/")?;
        return Ok(Classified::Stream {
            live: mpd.live,
            why: if mpd.live {
                "the MPD is dynamic"
            } else {
                "the MPD is static"
            },
        });
    }
    Err(ManifestError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_hls_and_dash() {
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\ns7.ts\n";
        assert!(matches!(
            classify(live),
            Ok(Classified::Stream { live: true, .. })
        ));
        let vod = format!("{live}#EXT-X-ENDLIST\n");
        assert!(matches!(
            classify(&vod),
            Ok(Classified::Stream { live: false, .. })
        ));
        let dynamic = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" availabilityStartTime=\"1970-01-01T00:00:00Z\"><Period start=\"PT0S\"/></MPD>";
        assert!(matches!(
            classify(dynamic),
            Ok(Classified::Stream { live: true, .. })
        ));
        let fixed = "<MPD type=\"static\" mediaPresentationDuration=\"PT60S\"><Period/></MPD>";
        assert!(matches!(
            classify(fixed),
            Ok(Classified::Stream { live: false, .. })
        ));
        assert_eq!(
            classify("<html>not found</html>"),
            Err(ManifestError::Unknown)
        );
        assert_eq!(classify(""), Err(ManifestError::Unknown));
        assert!(matches!(
            classify("<MPD type=\"static\""),
            Err(ManifestError::Dash(_))
        ));
    }
}
