//! Resolving the references a manifest makes (segment, playlist and base URLs) against the
//! URL it was fetched from.

/// Resolves `reference` against `base` (absolute URL, scheme-relative, absolute path or
/// relative path with `.` and `..`); the base's query and fragment are dropped.
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let Some(scheme_end) = base.find("://") else {
        return reference.to_owned();
    };
    // `http://host` has the path `/`.
    let with_root;
    let base = if base[scheme_end + 3..].contains('/') {
        base
    } else {
        with_root = format!("{base}/");
        &with_root
    };
    let host_end = base[scheme_end + 3..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + 3 + i);
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{}//{rest}", &base[..scheme_end + 1]);
    }
    if reference.starts_with('/') {
        return format!("{}{reference}", &base[..host_end]);
    }
    if reference.is_empty() {
        return base.to_owned();
    }
    let dir_end = base[host_end..]
        .rfind('/')
        .map_or(base.len(), |i| host_end + i + 1);
    let mut path: Vec<&str> = base[host_end..dir_end].split('/').collect();
    path.pop(); // the empty piece after the last '/'
    let (reference, query) = match reference.find('?') {
        Some(i) => (&reference[..i], &reference[i..]),
        None => (reference, ""),
    };
    for piece in reference.split('/') {
        match piece {
            "." => {}
            ".." => {
                if path.len() > 1 {
                    path.pop();
                }
            }
            p => path.push(p),
        }
    }
    format!("{}{}{query}", &base[..host_end], path.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_urls() {
        let base = "http://o:8080/live/hls-ts/index.m3u8?x=1";
        assert_eq!(
            resolve(base, "seg1.ts"),
            "http://o:8080/live/hls-ts/seg1.ts"
        );
        assert_eq!(
            resolve(base, "../a/b.ts?t=2"),
            "http://o:8080/live/a/b.ts?t=2"
        );
        assert_eq!(resolve(base, "/x.ts"), "http://o:8080/x.ts");
        assert_eq!(resolve(base, "https://cdn/y.ts"), "https://cdn/y.ts");
        assert_eq!(resolve(base, "//cdn/z.ts"), "http://cdn/z.ts");
        assert_eq!(resolve("http://o", "a.ts"), "http://o/a.ts");
        assert_eq!(resolve("http://o/d/", "a/"), "http://o/d/a/");
        assert_eq!(resolve("http://o/d/m.mpd", ""), "http://o/d/m.mpd");
    }
}
