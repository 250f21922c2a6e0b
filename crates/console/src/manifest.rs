//! Whether a channel is live or VOD, from its manifest, so seeds carry the right `live` flag
//! (a live worker polls the playlist; a VOD worker fetches on demand through its disk cache).
//! The manifest is read by the shared `manifest` crate (HLS: live unless `#EXT-X-ENDLIST` or
//! `#EXT-X-PLAYLIST-TYPE:VOD`, a master playlist as live as its first variant; DASH:
//! `type="dynamic"` is live); a manifest it cannot read is reported with the reason.

use manifest::Classified;

/// Fetches `url` (following one master playlist to its first variant) and says whether the
/// stream is live, and why.
pub async fn is_live(
    http: &outbound::GuardedClient,
    url: &str,
) -> Result<(bool, &'static str), String> {
    let shown = |u: &reqwest::Url| wire::redact::url(u.as_str());
    let mut url = reqwest::Url::parse(url)
        .map_err(|_| format!("`{}` is not a manifest URL", wire::redact::url(url)))?;
    for _ in 0..2 {
        let (_, body) = fetch(http, &url).await?;
        match manifest::classify(&body) {
            Err(e) => return Err(format!("{}: {e}", shown(&url))),
            Ok(Classified::Stream { live, why }) => return Ok((live, why)),
            Ok(Classified::Master { variant }) => {
                url = url
                    .join(&variant)
                    .map_err(|e| format!("{}: bad variant URI: {e}", shown(&url)))?;
            }
        }
    }
    Err(format!(
        "{}: a master playlist inside a master playlist",
        shown(&url)
    ))
}

/// Manifests bigger than this are not read (a live playlist is a few KB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Fetches a manifest (or a list of them): its final URL after redirects and its text.
/// `None`: no host is allowed, so nothing is read.
pub async fn fetch_text(
    http: Option<&outbound::GuardedClient>,
    url: &str,
) -> Result<(String, String), String> {
    let shown = wire::redact::url(url);
    let url = reqwest::Url::parse(url).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
    let Some(http) = http else {
        return Err(format!(
            "{shown}: not read: manifests are read only from the hosts of --origin-host, \
             and none is set"
        ));
    };
    fetch(http, &url).await
}

/// Errors name the URL without its query, which may hold a token.
async fn fetch(
    http: &outbound::GuardedClient,
    url: &reqwest::Url,
) -> Result<(String, String), String> {
    let shown = wire::redact::url(url.as_str());
    let request = http
        .get(url.as_str())
        .map_err(|e| format!("{shown}: refused: {e}"))?;
    let resp = crate::http::send(request, crate::http::Retry::Once)
        .await
        .map_err(|e| format!("{shown}: {}", crate::http::describe(&e.without_url())))?;
    if !resp.status().is_success() {
        return Err(format!("{shown}: HTTP {}", resp.status()));
    }
    let final_url = resp.url().to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{shown}: {}", crate::http::describe(&e.without_url())))?;
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{shown}: manifest over {MAX_MANIFEST_BYTES} bytes"));
    }
    Ok((final_url, String::from_utf8_lossy(&body).into_owned()))
}

/// `live` of a seed: the operator's choice, else the manifest's answer, else `fallback`.
/// Returns the flag and the words for the decision log.
/// Without a client (no `--origin-host`), manifests are not read.
pub async fn decide_live(
    http: Option<&outbound::GuardedClient>,
    channel: &str,
    explicit: Option<bool>,
    fallback: bool,
) -> (bool, String) {
    if let Some(live) = explicit {
        return (live, format!("{} as asked", live_word(live)));
    }
    let Some(http) = http else {
        return (
            fallback,
            format!(
                "{} by default (the console reads manifests only from {} hosts, and none is set)",
                live_word(fallback),
                crate::config::ORIGIN_HOSTS_SETTING
            ),
        );
    };
    match is_live(http, channel).await {
        Ok((live, why)) => (live, format!("{}: {why}", live_word(live))),
        Err(e) => {
            let channel = wire::redact::url(channel);
            tracing::warn!(%channel, error = %e, "cannot tell live from VOD; using the default");
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
