//! URLs as logs and stats may show them: without their query and user info, where tokens
//! and signatures travel (`?token=`, signed CDN URLs, `user:password@`).

/// `url` without user info, query and fragment; a query is shown as `?…`.
pub fn url(url: &str) -> String {
    let (before_fragment, _) = url.split_once('#').unwrap_or((url, ""));
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, _)) => (base, "?…"),
        None => (before_fragment, ""),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    };
    format!("{base}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_and_credentials_are_cut() {
        assert_eq!(
            super::url("wss://t.example/announce?token=s3cret&x=1"),
            "wss://t.example/announce?…"
        );
        assert_eq!(
            super::url("http://user:pw@cdn.example:8080/a.m3u8#t"),
            "http://cdn.example:8080/a.m3u8"
        );
        assert_eq!(super::url("ws://127.0.0.1:8000"), "ws://127.0.0.1:8000");
        assert_eq!(super::url("not a url?token=x"), "not a url?…");
    }
}
