//! The super peer's safe defaults against a real master process: an API other machines can
//! reach is refused without a token, a world-readable `.env` holding the token is named, no
//! token reaches the log, and seeds whose channel URL leads to a refused address (loopback,
//! private, link-local, metadata, a name resolving to loopback, a redirect to loopback) are
//! refused with 403 before any worker starts, while a listener there sees no connection.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

mod common;
mod superpeer_support;

use common::{listener, playlist_response};
use superpeer_support::{b64, Master, BIN};

fn redirect_to(location: &str) -> String {
    format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

#[test]
fn an_open_api_is_refused_before_it_listens() {
    // (Started with allowOpen it listens on every interface: e2e/tests/security-defaults
    // checks that inside its own network namespace.)
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "listenPort=0\n").unwrap();
    let out = Command::new(BIN)
        .arg("superpeer")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to serve the REST API on 0.0.0.0:0 without an access token")
            && stderr.contains("accessToken")
            && stderr.contains("listenHost=127.0.0.1")
            && stderr.contains("allowOpen=true"),
        "{stderr}"
    );
    assert!(!stderr.contains("REST API on http://"), "{stderr}");
}

#[test]
fn tokens_stay_out_of_the_log_and_a_readable_env_file_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let (origin, _) = listener("127.0.0.1", playlist_response());
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    // signal1 carries a tracker token; nothing listens there, so the worker logs its failures.
    std::fs::write(
        &env,
        "listenPort=0\nlistenHost=127.0.0.1\naccessToken=master-secret-1\n\
         signal1=ws://127.0.0.1:9/announce?token=tracker-secret-2\noriginHosts=127.0.0.1\n\
         statsIntervalMs=200\ncacheDir=cache\n",
    )
    .unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    let m = Master::start_in(dir, &[("RUST_LOG", "debug")], &[]);
    assert!(
        m.log()
            .contains("holds accessToken and every user of this machine can read it")
            && m.log().contains("chmod 600"),
        "{}",
        m.log()
    );
    assert_eq!(
        m.request("POST", "/ping", Some("wrong-secret-3"), b"").0,
        401
    );
    // A channel URL with a token in its query, whose playlist lists a segment the origin
    // does not serve: the worker logs the failed fetches.
    let url = format!("http://{origin}/live/index.m3u8?token=origin-secret-4");
    let (status, v) = m.request(
        "POST",
        "/seed",
        Some("master-secret-1"),
        json!({"list": [{"channel": b64(&url), "live": true, "token": "customer-secret-5"}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !(m.log().contains("cannot reach tracker") && m.log().contains("segment fetch failed")) {
        assert!(
            std::time::Instant::now() < until,
            "worker failures not logged:\n{}",
            m.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = m.stats_with("master-secret-1");
    let log = m.log();
    for secret in [
        "master-secret-1",
        "tracker-secret-2",
        "wrong-secret-3",
        "origin-secret-4",
        "customer-secret-5",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(!stats.to_string().contains("tracker-secret-2"), "{stats}");
}

#[test]
fn seeds_that_lead_to_refused_addresses_start_no_worker() {
    // Allowed: any host with public addresses, and 127.0.0.3 (the stand-in origins).
    // Everything else on loopback is refused; the hidden listener must see no connection.
    let (hidden, hidden_seen) = listener("127.0.0.1", playlist_response());
    let (redirector, _) = listener("127.0.0.3", redirect_to(&format!("http://{hidden}/x.m3u8")));
    let (origin, origin_seen) = listener("127.0.0.3", playlist_response());
    let m = Master::start(
        "listenPort=0\nlistenHost=127.0.0.1\naccessToken=t\nsignal1=ws://127.0.0.1:9/\n\
         originHosts=*,127.0.0.3\ncacheDir=cache\n",
    );
    let port = hidden.port();
    let cases = [
        (
            format!("http://{hidden}/live/index.m3u8"),
            "127.0.0.1 is a loopback address",
        ),
        (
            "http://10.20.30.40/live/index.m3u8".to_owned(),
            "10.20.30.40 is a private address",
        ),
        (
            "http://192.168.1.1/index.m3u8".to_owned(),
            "a private address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "a cloud metadata address",
        ),
        (
            "http://169.254.10.1/x.m3u8".to_owned(),
            "a link-local address",
        ),
        ("http://[fe80::1]/x.m3u8".to_owned(), "a link-local address"),
        (
            "http://[::ffff:127.0.0.1]:9/x.m3u8".to_owned(),
            "a loopback address",
        ),
        (
            format!("http://localhost:{port}/live/index.m3u8"),
            "localhost resolves to",
        ),
        (
            format!("http://{redirector}/live/index.m3u8"),
            "redirect refused: 127.0.0.1 is a loopback address",
        ),
    ];
    for (url, why) in &cases {
        let (status, v) = m.request(
            "POST",
            "/seed",
            Some("t"),
            json!({"list": [{"channel": b64(url)}]})
                .to_string()
                .as_bytes(),
        );
        let error = v["error"].as_str().unwrap_or_default();
        assert_eq!(status, 403, "{url}: {v}");
        assert!(
            error.starts_with("list[0].channel: ") && error.contains(why),
            "{url}: {error}"
        );
        assert!(
            error.contains("originHosts"),
            "the error says what to configure: {error}"
        );
    }
    // `url` is checked the same way, and named.
    let (status, v) = m.request(
        "POST",
        "/seed",
        Some("t"),
        json!({"list": [{"channel": b64("news"), "url": format!("http://{hidden}/x.m3u8")}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("list[0].url: "),
        "{v}"
    );
    // A seed's own tracker must be on a configured tracker host.
    let (status, v) = m.request(
        "POST",
        "/seed",
        Some("t"),
        json!({"list": [{"channel": b64(&format!("http://{origin}/a.m3u8")), "signal1": "ws://10.0.0.9:6379/"}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("list[0].signal1: 10.0.0.9 is not a tracker host"),
        "{v}"
    );

    let stats = m.stats_with("t");
    assert_eq!(stats["workers"], json!([]), "no worker started: {stats}");
    assert_eq!(stats["channels"], json!([]), "no channel kept: {stats}");
    assert_eq!(
        hidden_seen.load(Ordering::SeqCst),
        0,
        "a refused address was reached"
    );

    // The control: an allowed origin is seeded (its playlist was requested once by the check).
    let (status, v) = m.request(
        "POST",
        "/seed",
        Some("t"),
        json!({"list": [{"channel": b64(&format!("http://{origin}/live/index.m3u8"))}]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["channels"][0]["action"], "started", "{v}");
    assert!(origin_seen.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        hidden_seen.load(Ordering::SeqCst),
        0,
        "a refused address was reached"
    );
    let _: Value = v;
}
