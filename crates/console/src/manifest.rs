//! Whether a channel is live or VOD, from its manifest, so seeds carry the right `live` flag
//! (a live worker polls the playlist; a VOD worker fetches on demand through its disk cache).
//! The manifest is read by the shared `manifest` crate (HLS: live unless `#EXT-X-ENDLIST` or
//! `#EXT-X-PLAYLIST-TYPE:VOD`, a master playlist as live as its first variant; DASH:
//! `type="dynamic"` is live); a manifest it cannot read is reported with the reason.

use manifest::Classified;

/// Fetches `url` (following one master playlist to its first variant) and says whether the
/// stream is live, and why.
pub async fn is_live(http: &reqwest::Client, url: &str) -> Result<(bool, &'static str), String> {
    let mut url = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not a manifest URL"))?;
    for _ in 0..2 {
        let body = fetch(http, &url).await?;
        match manifest::classify(&body) {
            Err(e) => return Err(format!("{url}: {e}")),
            Ok(Classified::Stream { live, why }) => return Ok((live, why)),
            Ok(Classified::Master { variant }) => {
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

async fn fetch(http: &reqwest::Client, url: &reqwest::Url) -> Result<String, String> {
    let resp = crate::superpeer::send(http.get(url.clone()), crate::superpeer::Retry::Once)
        .await
        .map_err(|e| format!("{url}: {}", crate::superpeer::describe(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{url}: {}", crate::superpeer::describe(&e)))?;
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{url}: manifest over {MAX_MANIFEST_BYTES} bytes"));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
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
    fn words_for_the_decision_log() {
        assert_eq!(live_word(true), "live");
        assert_eq!(live_word(false), "VOD");
    }
}
