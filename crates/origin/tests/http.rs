//! The origin over real HTTP on 127.0.0.1: files, ranges, CORS, live loops, counters, bad input.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use origin::{router, OriginConfig};

struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` verbatim (so paths are not normalised by a client library).
fn raw(addr: SocketAddr, request: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full HTTP head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head,
        body: buf[split + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> Answer {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"),
    )
}

fn write_media(root: &Path) {
    std::fs::create_dir_all(root.join("vod")).unwrap();
    let mut playlist = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n",
    );
    for i in 0..4 {
        playlist.push_str(&format!("#EXTINF:2.0,\nseg_{i:03}.ts\n"));
        std::fs::write(root.join(format!("vod/seg_{i:03}.ts")), vec![i as u8; 1000]).unwrap();
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(root.join("vod/index.m3u8"), playlist).unwrap();
    std::fs::write(
        root.join("master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nvod/index.m3u8\n",
    )
    .unwrap();
    std::fs::write(root.join("broken.m3u8"), "this is not a playlist").unwrap();
    std::fs::create_dir_all(root.join("dash")).unwrap();
    std::fs::write(
        root.join("dash/manifest.mpd"),
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S"><Period>
        <AdaptationSet contentType="video"><Representation id="v" bandwidth="1">
        <SegmentTemplate timescale="1" media="c-$Number$.m4s" startNumber="1" duration="2"/>
        </Representation></AdaptationSet></Period></MPD>"#,
    )
    .unwrap();
    for (n, bytes) in [(1, &b"one"[..]), (2, b"two"), (3, b"three"), (4, b"four")] {
        std::fs::write(root.join(format!("dash/c-{n}.m4s")), bytes).unwrap();
    }
    std::fs::write(root.join("dash/list.mpd"), "<MPD><Period/></MPD>").unwrap();
}

fn start() -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_media(dir.path());
    let app = router(OriginConfig {
        root: dir.path().into(),
        mounts: vec![],
        embedded: vec![],
        live_window: 3,
    });
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (addr, dir)
}

#[test]
fn serves_files_with_media_types_ranges_and_cors() {
    let (addr, _dir) = start();
    let a = get(addr, "/vod/seg_001.ts", "Origin: http://page.test\r\n");
    assert_eq!(a.status, 200);
    assert_eq!(a.body, vec![1u8; 1000]);
    assert_eq!(a.header("content-type"), Some("video/mp2t"));
    assert_eq!(a.header("accept-ranges"), Some("bytes"));
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));

    let a = get(addr, "/vod/index.m3u8", "");
    assert_eq!(
        a.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );

    let a = get(addr, "/vod/seg_002.ts", "Range: bytes=10-19\r\n");
    assert_eq!(a.status, 206);
    assert_eq!(a.body, vec![2u8; 10]);
    assert_eq!(a.header("content-range"), Some("bytes 10-19/1000"));

    let a = get(addr, "/vod/seg_002.ts", "Range: bytes=990-\r\n");
    assert_eq!(a.status, 206);
    assert_eq!(a.body.len(), 10);
}

#[test]
fn answers_preflight_requests() {
    let (addr, _dir) = start();
    let a = raw(
        addr,
        "OPTIONS /vod/seg_000.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: http://page.test\r\n\
         Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: range\r\n\r\n",
    );
    assert!(a.status == 200 || a.status == 204, "status {}", a.status);
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    assert!(a
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));
}

#[test]
fn bad_input_gets_a_4xx_never_a_crash() {
    let (addr, _dir) = start();
    for path in [
        "/../etc/passwd",
        "/vod/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/vod/%2E%2E/%2e%2e/x",
    ] {
        assert_eq!(get(addr, path, "").status, 400, "{path}");
    }
    assert_eq!(get(addr, "/live/../../etc/passwd", "").status, 400);
    assert_eq!(get(addr, "/no/such/file.ts", "").status, 404);
    assert_eq!(get(addr, "/live/no/such.m3u8", "").status, 404);
    assert_eq!(get(addr, "/live/broken.m3u8", "").status, 422);
    assert_eq!(get(addr, "/live/no/such.mpd", "").status, 404);
    let unloopable = get(addr, "/live/dash/list.mpd", "");
    assert_eq!(unloopable.status, 422);
    assert!(String::from_utf8_lossy(&unloopable.body).contains("cannot be looped"));
    // Unsatisfiable and malformed ranges.
    assert_eq!(
        get(addr, "/vod/seg_000.ts", "Range: bytes=5000-6000\r\n").status,
        416
    );
    for range in ["bytes=abc", "bytes=9-3", "items=0-1", "bytes=-"] {
        let status = get(addr, "/vod/seg_000.ts", &format!("Range: {range}\r\n")).status;
        assert!(status == 200 || status == 416, "{range}: {status}");
    }
    // The server is still up after all that.
    assert_eq!(get(addr, "/vod/seg_000.ts", "").status, 200);
}

#[test]
fn replays_vod_as_live_with_unique_segment_urls() {
    let (addr, _dir) = start();
    let a = get(addr, "/live/vod/index.m3u8", "");
    assert_eq!(a.status, 200);
    let text = String::from_utf8(a.body.clone()).unwrap();
    assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
    assert!(text.contains("seg_000.ts?seq=0"), "{text}");
    assert_eq!(text.matches("#EXTINF").count(), 3, "{text}");
    assert_eq!(a.header("cache-control"), Some("no-cache"));

    let seg = get(addr, "/live/vod/seg_001.ts?seq=5", "Range: bytes=0-3\r\n");
    assert_eq!(seg.status, 206);
    assert_eq!(seg.body, vec![1u8; 4]);

    // A master playlist keeps its relative variant URIs, which resolve under /live/.
    let master = get(addr, "/live/master.m3u8", "");
    assert!(String::from_utf8(master.body)
        .unwrap()
        .contains("vod/index.m3u8"));
}

#[test]
fn replays_vod_dash_as_a_dynamic_mpd() {
    let (addr, _dir) = start();
    let a = get(addr, "/live/dash/manifest.mpd", "");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/dash+xml"));
    assert_eq!(a.header("cache-control"), Some("no-cache"));
    let text = String::from_utf8(a.body).unwrap();
    let mpd = manifest::dash::Mpd::parse(&text, "http://o/live/dash/manifest.mpd").unwrap();
    assert!(mpd.live, "{text}");
    let now = mpd.availability_start + 6.0;
    let listed = mpd.segments("v", now).unwrap().segments;
    assert_eq!(listed.len(), 3, "{text}");
    assert_eq!(listed[1].url, "http://o/live/dash/c-2.m4s?loop=0");
    let seg = get(addr, "/live/dash/c-2.m4s?loop=0", "");
    assert_eq!((seg.status, seg.body.as_slice()), (200, &b"two"[..]));
}

#[test]
fn a_live_stream_publishes_the_digests_of_its_window() {
    let (addr, _dir) = start();
    let a = get(addr, "/live/vod/segments-sha256.json", "");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("cache-control"), Some("no-cache"));
    let m = wire::integrity::DigestManifest::parse(&a.body).unwrap();
    // The window (3 segments) of a stream that began one window before the origin.
    assert_eq!(
        m.files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["seg_000.ts", "seg_001.ts", "seg_002.ts"]
    );
    let digest = wire::integrity::sha256_hex(&[1u8; 1000]);
    assert_eq!(m.lookup("seg_001.ts", None), Some(digest.as_str()));
    assert_eq!(
        get(addr, "/live/nowhere/segments-sha256.json", "").status,
        404
    );
    assert_eq!(
        get(addr, "/live/segments-sha256.json", "").status,
        404,
        "no stream at the root"
    );
}

#[test]
fn a_live_dash_stream_publishes_the_digests_of_its_window() {
    let (addr, dir) = start();
    let text = String::from_utf8(get(addr, "/live/dash/manifest.mpd", "").body).unwrap();
    let a = get(addr, "/live/dash/segments-sha256.json", "");
    assert_eq!(a.status, 200);
    let m = wire::integrity::DigestManifest::parse(&a.body).unwrap();
    let mpd = manifest::dash::Mpd::parse(&text, "http://o/live/dash/manifest.mpd").unwrap();
    // Every segment the MPD lists (by file name, as players look it up) with its file's digest.
    let listed = mpd.segments("v", f64::MAX).unwrap().segments;
    assert_eq!(listed.len(), 3, "a window of 3 segments: {text}");
    for seg in &listed {
        let url = seg.url.strip_prefix("http://o/live/dash/").unwrap();
        let (name, query) = url.split_once('?').unwrap();
        assert!(query.starts_with("loop="), "{url}");
        let bytes = std::fs::read(dir.path().join("dash").join(name)).unwrap();
        let digest = wire::integrity::sha256_hex(&bytes);
        assert_eq!(m.lookup(name, None), Some(digest.as_str()), "{name}");
        let served = get(addr, &format!("/live/dash/{url}"), "");
        assert_eq!(wire::integrity::sha256_hex(&served.body), digest);
    }
}

#[test]
fn counts_bytes_served_per_directory() {
    let (addr, _dir) = start();
    get(addr, "/vod/seg_000.ts", "");
    get(addr, "/vod/seg_001.ts", "Range: bytes=0-99\r\n");
    get(addr, "/live/vod/seg_001.ts?seq=1", "");
    get(addr, "/missing.ts", "");
    let stats = String::from_utf8(get(addr, "/__stats", "").body).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["dirs"]["/vod/"]["bytes"], 1100);
    assert_eq!(stats["dirs"]["/vod/"]["requests"], 2);
    assert_eq!(stats["dirs"]["/live/vod/"]["bytes"], 1000);
    let live = get(addr, "/__stats?prefix=/live/", "");
    let live: serde_json::Value = serde_json::from_slice(&live.body).unwrap();
    assert_eq!(live["total"]["bytes"], 1000);
    let reset = raw(
        addr,
        "DELETE /__stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(reset.status, 204);
    let after: serde_json::Value = serde_json::from_slice(&get(addr, "/__stats", "").body).unwrap();
    assert_eq!(after["total"]["bytes"], 0);
}
