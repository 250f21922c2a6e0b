//! The web parts built into the binary, so that an installed `swarmcast` needs no source
//! tree: the console's dashboard, the demo player page, hls.js and the SDK's browser bundles.
//!
//! `build.rs` copies them from the npm build; a part that was not built is left out (the
//! build warns) and [`missing`] names it. Folders given on the command line (`--dashboard`,
//! `--mount`, `--assets`) still take precedence, for development.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::include_dir;
pub use include_dir::Dir;

static WEB: Dir<'static> = include_dir!("$OUT_DIR/web");

/// The console's dashboard (`web/dashboard/dist`), if it was built.
pub fn dashboard() -> Option<&'static Dir<'static>> {
    part("dashboard")
}

/// What the media origin serves beside the media, as URL prefix and folder: the player page
/// at `/player`, hls.js at `/vendor/hls.js/hls.min.js` and the SDK's browser bundles at
/// `/vendor/swarmcast/hlsjs.iife.js`, `/vendor/swarmcast-shaka/shaka.iife.js`,
/// `/vendor/swarmcast-core/core.iife.js` and `/vendor/swarmcast-media/` (`media.iife.js`,
/// `sw.js`). Parts that were not built are not listed.
pub fn site() -> Vec<(String, &'static Dir<'static>)> {
    let vendor = WEB.get_dir("vendor").into_iter().flat_map(|v| v.dirs());
    part("player")
        .into_iter()
        .chain(vendor)
        .filter(|d| d.entries().iter().next().is_some())
        .map(|d| (format!("/{}", d.path().display()), d))
        .collect()
}

/// The parts the npm build had not made when this binary was built (empty when complete).
pub fn missing() -> Vec<&'static str> {
    WEB.get_file("MISSING")
        .and_then(|f| f.contents_utf8())
        .map(|s| s.lines().filter(|l| !l.is_empty()).collect())
        .unwrap_or_default()
}

fn part(name: &str) -> Option<&'static Dir<'static>> {
    WEB.get_dir(name)
        .filter(|d| d.entries().iter().next().is_some())
}

/// How [`serve`] answers a path that names no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// 404.
    Status,
    /// `index.html`, for a single-page app with client-side routes.
    Index,
}

/// Answers a GET or HEAD for `uri` (relative to the folder) with the embedded file, typed by
/// its extension. `/` and paths ending in `/` mean their `index.html`.
pub fn serve(
    dir: &'static Dir<'static>,
    method: &Method,
    uri: &Uri,
    not_found: NotFound,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let mut path = uri.path().trim_start_matches('/').to_owned();
    if path.is_empty() || path.ends_with('/') {
        path.push_str("index.html");
    }
    let file = dir.get_file(dir.path().join(&path)).or_else(|| {
        (not_found == NotFound::Index).then(|| dir.get_file(dir.path().join("index.html")))?
    });
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mime = mime_guess::from_path(file.path()).first_or_octet_stream();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(file.contents())
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(file.contents().len()),
    );
    response
}

/// An axum service for [`serve`], to nest under a prefix or use as a fallback.
pub fn service(dir: &'static Dir<'static>, not_found: NotFound) -> axum::routing::MethodRouter {
    axum::routing::any(move |method: Method, uri: Uri| async move {
        serve(dir, &method, &uri, not_found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use include_dir::{DirEntry, File};

    static SITE: Dir<'static> = Dir::new(
        "site",
        &[
            DirEntry::File(File::new("site/index.html", b"<p>home")),
            DirEntry::File(File::new("site/app.js", b"run()")),
        ],
    );

    fn get(path: &str, not_found: NotFound) -> Response {
        serve(&SITE, &Method::GET, &path.parse().unwrap(), not_found)
    }

    fn content_type(r: &Response) -> &str {
        r.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[test]
    fn files_are_typed_by_extension_and_folders_mean_their_index() {
        let js = get("/app.js", NotFound::Status);
        assert_eq!(js.status(), StatusCode::OK);
        assert!(content_type(&js).contains("javascript"));
        assert_eq!(js.headers()[header::CONTENT_LENGTH], "5");
        let index = get("/", NotFound::Status);
        assert_eq!(index.status(), StatusCode::OK);
        assert!(content_type(&index).starts_with("text/html"));
    }

    #[test]
    fn unknown_paths_are_404_or_the_index_of_a_single_page_app() {
        assert_eq!(
            get("/nope.js", NotFound::Status).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/../site/app.js", NotFound::Status).status(),
            StatusCode::NOT_FOUND
        );
        let route = get("/super-peers", NotFound::Index);
        assert_eq!(route.status(), StatusCode::OK);
        assert!(content_type(&route).starts_with("text/html"));
    }

    #[test]
    fn head_has_no_body_and_other_methods_are_refused() {
        let head = serve(
            &SITE,
            &Method::HEAD,
            &"/app.js".parse().unwrap(),
            NotFound::Status,
        );
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
        let post = serve(
            &SITE,
            &Method::POST,
            &"/app.js".parse().unwrap(),
            NotFound::Status,
        );
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
