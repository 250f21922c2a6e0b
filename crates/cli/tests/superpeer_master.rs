//! The super peer's REST contract and worker lifecycle, against a real master process with
//! real worker processes (the built `swarmcast` binary).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_swarmcast");
const TOKEN: &str = "s3cret-token";

struct Master {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Master {
    /// Starts `swarmcast superpeer` in a fresh folder holding `env` as its `.env`.
    fn start(env: &str) -> Self {
        Self::start_with(env, &[], &[])
    }

    /// Same, with extra environment variables and flags.
    fn start_with(env: &str, vars: &[(&str, &str)], flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), env).unwrap();
        let mut child = Command::new(BIN)
            .arg("superpeer")
            .args(flags)
            .envs(vars.iter().copied())
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[master] {line}");
                if let Some(rest) = line.split("REST API on http://").nth(1) {
                    let port: u16 = rest.trim().rsplit(':').next().unwrap().parse().unwrap();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("master did not start");
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("X-ACCESS-TOKEN: {t}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        // A rejected oversized body may close the connection before we finish writing.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
        (status, value)
    }

    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.request(method, path, Some(TOKEN), body.to_string().as_bytes())
    }

    fn stats(&self) -> Value {
        let (status, v) = self.call("GET", "/stats", Value::Null);
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Polls `/stats` until `pred` holds (bounded).
    fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.stats();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        common::terminate(&mut self.child);
    }
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a process is still alive (present and not a zombie).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_dead(pid: u64) {
    let until = Instant::now() + Duration::from_secs(30);
    while alive(pid) {
        assert!(Instant::now() < until, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pids(stats: &Value) -> Vec<u64> {
    stats["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] != "stopping")
        .map(|w| w["pid"].as_u64().unwrap())
        .collect()
}

/// No tracker listens there: workers keep retrying, which is all these tests need.
const ENV: &str = "listenPort=0\nlistenHost=127.0.0.1\naccessToken=s3cret-token\nsignal1=ws://127.0.0.1:9/\nmaxBodyBytes=65536\nstatsIntervalMs=200\nrestartBackoffMinMs=200\ncacheDir=cache\n";

fn channel(n: u32) -> String {
    b64(&format!("http://127.0.0.1:9/live/ch{n}/index.m3u8"))
}

#[test]
fn rest_contract() {
    let m = Master::start(ENV);

    // Access token: missing or wrong -> 401, changes nothing.
    for token in [None, Some("wrong"), Some("s3cret-token-but-longer")] {
        let (status, v) = m.request("POST", "/ping", token, b"{}");
        assert_eq!(status, 401, "{token:?}: {v}");
        let (status, _) = m.request("POST", "/stop_all", token, b"");
        assert_eq!(status, 401);
    }
    let (status, v) = m.call("POST", "/ping", json!({}));
    assert_eq!((status, &v["workers"]), (200, &json!(0)), "{v}");

    // Bad bodies -> 400 naming the field; nothing applied.
    let (status, v) = m.request("POST", "/seed", Some(TOKEN), b"{\"list\": [");
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("body:"), "{v}");
    let bad = json!({"list": [{"channel": channel(1)}, {"channel": "%%%not base64"}]});
    let (status, v) = m.call("POST", "/seed", bad);
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap().starts_with("list[1].channel:"),
        "{v}"
    );
    let bad = json!({"list": [{"channel": channel(1), "maxConnections": -3}]});
    let (status, v) = m.call("POST", "/seed", bad);
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap().contains("maxConnections"),
        "{v}"
    );
    let (status, v) = m.call("POST", "/ping", json!({"bandwidth": "lots"}));
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap().starts_with("bandwidth:"),
        "{v}"
    );
    assert!(
        pids(&m.stats()).is_empty(),
        "a rejected seed must start nothing"
    );

    // Oversized body -> 413.
    let huge = format!("{{\"list\": [], \"pad\": \"{}\"}}", "x".repeat(100_000));
    let (status, _) = m.request("POST", "/seed", Some(TOKEN), huge.as_bytes());
    assert_eq!(status, 413);

    // Seed two channels: one worker process each.
    let (status, v) = m.call(
        "POST",
        "/seed",
        json!({"list": [
            {"channel": channel(1), "label": "one", "live": true, "token": "t"},
            {"channel": channel(2), "label": "two", "keepAlive": true, "maxConnections": 10}
        ]}),
    );
    assert_eq!(status, 200, "{v}");
    let s = m.wait_for("two running workers", |s| {
        let w = s["workers"].as_array().unwrap();
        w.iter()
            .filter(|w| w["state"] == "running" && w["memoryMB"].as_f64() > Some(0.0))
            .count()
            == 2
    });
    let ps = pids(&s);
    for &pid in &ps {
        assert!(alive(pid), "worker {pid} is a process");
    }
    let w = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["label"] == "one")
        .unwrap();
    for key in [
        "pid",
        "channel",
        "label",
        "live",
        "peers",
        "uploadedKB",
        "originKB",
        "cpu",
        "memoryMB",
        "uptime",
        "restarts",
        "signal",
    ] {
        assert!(w.get(key).is_some(), "stats lack {key}: {w}");
    }
    assert_eq!(w["live"], true);
    assert_eq!(w["channel"], channel(1));
    assert_eq!(w["maxConnections"], 80, "default maxConnections");
    assert!(w["memoryMB"].as_f64().unwrap() > 0.0, "{w}");
    let one = w["pid"].as_u64().unwrap();

    // Per worker and per channel.
    let (status, v) = m.call("GET", &format!("/stats/{one}"), Value::Null);
    assert_eq!((status, &v["label"]), (200, &json!("one")), "{v}");
    let (status, v) = m.call("GET", &format!("/stats/{}", channel(2)), Value::Null);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["workers"][0]["label"], "two");
    assert_eq!(v["workers"][0]["maxConnections"], 10);

    // Unknown pid -> 404 everywhere; a bad pid -> 400.
    for (method, path) in [
        ("GET", "/stats/4000000000"),
        ("POST", "/stop/4000000000"),
        ("POST", "/restart/4000000000"),
    ] {
        let (status, v) = m.call(method, path, Value::Null);
        assert_eq!(status, 404, "{method} {path}: {v}");
    }
    let (status, _) = m.call("POST", "/stop/abc", Value::Null);
    assert_eq!(status, 400);
    let (status, _) = m.call("GET", &format!("/stats/{}", channel(7)), Value::Null);
    assert_eq!(status, 404);

    // Update in place: same pid, new label.
    let (status, v) = m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(1), "label": "uno", "live": true, "token": "t"}]}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["channels"][0]["action"], "updated");
    let (_, v) = m.call("GET", &format!("/stats/{one}"), Value::Null);
    assert_eq!(v["label"], "uno");

    // Restart: a new process, counted.
    let (status, _) = m.call("POST", &format!("/restart/{one}"), Value::Null);
    assert_eq!(status, 200);
    let s = m.wait_for("restarted worker", |s| {
        s["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["label"] == "uno" && w["restarts"] == 1 && w["state"] == "running")
    });
    wait_dead(one);
    assert!(!pids(&s).contains(&one));

    // Forced worker count: the lower-priority... here the newer channel yields.
    let (status, v) = m.call("POST", "/ping", json!({"workers": 1, "bandwidth": 1000}));
    assert_eq!(status, 200);
    assert_eq!(v["workers"], 1, "{v}");
    let s = m.wait_for("one worker", |s| pids(s).len() == 1);
    assert_eq!(s["capacity"]["workers"], 1);
    // A forced count is exact: three workers for two channels, each channel with one at least.
    let (status, _) = m.call("POST", "/ping", json!({"workers": 3}));
    assert_eq!(status, 200);
    let s = m.wait_for("three workers", |s| pids(s).len() == 3);
    assert_eq!(s["capacity"]["workers"], 3);
    let labels: std::collections::BTreeSet<String> = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["channel"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(labels.len(), 2, "both channels have a worker: {s}");

    // Stop one, then all: processes end.
    let ps = pids(&s);
    let (status, _) = m.call("POST", &format!("/stop/{}", ps[0]), Value::Null);
    assert_eq!(status, 200);
    wait_dead(ps[0]);
    let (status, v) = m.call("POST", "/stop_all", Value::Null);
    assert_eq!(status, 200, "{v}");
    for pid in &ps[1..] {
        wait_dead(*pid);
    }
    m.wait_for("no workers", |s| {
        s["workers"].as_array().unwrap().is_empty()
    });

    // Unknown endpoints are JSON 404s.
    let (status, v) = m.call("GET", "/nope", Value::Null);
    assert_eq!(status, 404, "{v}");
}

#[test]
fn priority_decides_who_yields_when_capacity_is_short() {
    let m = Master::start(&format!("{ENV}maxWorkers=1\n"));
    let (status, _) = m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(1), "label": "low", "priority": 1}]}),
    );
    assert_eq!(status, 200);
    m.wait_for("low running", |s| s["workers"][0]["label"] == "low");
    let (_, v) = m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(2), "label": "high", "priority": 5}]}),
    );
    assert_eq!(v["channels"][0]["action"], "started", "{v}");
    let s = m.wait_for("high replaces low", |s| {
        let w = s["workers"].as_array().unwrap();
        w.len() == 1 && w[0]["label"] == "high"
    });
    let low = s["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "low")
        .unwrap();
    assert_eq!(low["queued"], true, "{s:#}");
}

#[test]
fn killed_keepalive_worker_is_restarted() {
    let m = Master::start(ENV);
    m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(3), "keepAlive": true}]}),
    );
    let s = m.wait_for("worker", |s| pids(s).len() == 1);
    let first = pids(&s)[0];
    assert!(Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap()
        .success());
    let s = m.wait_for("restarted worker", |s| {
        let w = &s["workers"];
        w.as_array().unwrap().len() == 1
            && w[0]["pid"].as_u64() != Some(first)
            && w[0]["restarts"] == 1
    });
    assert!(alive(pids(&s)[0]));
}

#[test]
fn a_seed_change_that_restarts_a_channel_leaves_one_worker() {
    let m = Master::start(&format!("{ENV}maxWorkers=4\n"));
    let seed = |token: &str| {
        m.call(
            "POST",
            "/seed",
            json!({"list": [{"channel": channel(8), "token": token}]}),
        )
    };
    seed("a");
    let s = m.wait_for("worker", |s| pids(s).len() == 1);
    let first = pids(&s)[0];
    for (n, token) in ["b", "c"].into_iter().enumerate() {
        let (status, v) = seed(token);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["channels"][0]["action"], "restarted", "{v}");
        assert_eq!(
            v["channels"][0]["queued"], false,
            "a restarting channel is not queued: {v}"
        );
        let restarts = n as u64 + 1;
        m.wait_for("the restarted worker", |s| {
            s["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["restarts"] == restarts && w["state"] == "running")
        });
        // The stopped worker's place goes to its restart only, not also to a fresh worker.
        for _ in 0..10 {
            let s = m.stats();
            assert_eq!(pids(&s).len(), 1, "one worker for the channel: {s:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    wait_dead(first);
}

#[test]
fn killed_plain_worker_is_not_restarted() {
    let m = Master::start(ENV);
    m.call("POST", "/seed", json!({"list": [{"channel": channel(4)}]}));
    let s = m.wait_for("worker", |s| pids(s).len() == 1);
    let first = pids(&s)[0];
    Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    m.wait_for("channel dropped", |s| {
        s["workers"].as_array().unwrap().is_empty() && s["channels"].as_array().unwrap().is_empty()
    });
}

#[test]
fn idle_workers_are_reaped() {
    let m = Master::start(&format!("{ENV}reapAfterSecs=1\n"));
    let (status, seeded) = m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(5)}, {"channel": channel(6), "keepAlive": true}]}),
    );
    assert_eq!(status, 200, "{seeded}");
    // The plain worker may be reaped before a poll sees both, so take the pids from /seed.
    let started: Vec<u64> = seeded["channels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap())
        })
        .collect();
    assert_eq!(started.len(), 2, "{seeded}");
    let s2 = m.wait_for("plain one reaped", |s| {
        pids(s).len() == 1 && s["channels"].as_array().unwrap().len() == 1
    });
    assert_eq!(
        s2["channels"][0]["channel"],
        channel(6),
        "the keepAlive channel stays"
    );
    for pid in started {
        if !pids(&s2).contains(&pid) {
            wait_dead(pid);
        }
    }
}

#[test]
fn no_worker_outlives_a_killed_master() {
    let mut m = Master::start(ENV);
    m.call(
        "POST",
        "/seed",
        json!({"list": [{"channel": channel(1), "keepAlive": true}, {"channel": channel(2)}]}),
    );
    let s = m.wait_for("two workers", |s| pids(s).len() == 2);
    let workers = pids(&s);
    m.child.kill().unwrap(); // SIGKILL: no chance to clean up
    m.child.wait().unwrap();
    for pid in workers {
        wait_dead(pid);
    }
}

#[test]
fn config_comes_from_dotenv_env_and_flags() {
    // `.env` sets the token, the environment overrides it, a flag overrides the environment.
    let m = Master::start_with(
        "listenPort=0\nlistenHost=127.0.0.1\naccessToken=from-dotenv\n",
        &[("accessToken", "from-env")],
        &[],
    );
    assert_eq!(m.request("POST", "/ping", Some("from-env"), b"").0, 200);
    assert_eq!(m.request("POST", "/ping", Some("from-dotenv"), b"").0, 401);
    drop(m);
    let m = Master::start_with(
        "listenPort=0\nlistenHost=127.0.0.1\naccessToken=from-dotenv\n",
        &[("accessToken", "from-env")],
        &["--access-token", "from-flag"],
    );
    assert_eq!(m.request("POST", "/ping", Some("from-flag"), b"").0, 200);
    assert_eq!(m.request("POST", "/ping", Some("from-env"), b"").0, 401);

    // A bad value fails at start with the key named.
    let dir = tempfile::tempdir().unwrap();
    let bad = Command::new(BIN)
        .args(["superpeer"])
        .current_dir(dir.path())
        .env("signal1", "http://not-ws")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("signal1"),
        "{bad:?}"
    );
}

/// A stand-in origin: one live media playlist, served by a background tokio runtime.
mod fake {
    use axum::routing::get;
    use axum::Router;

    pub const PLAYLIST: &str =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2.0,\nseg1.ts\n";

    pub fn app() -> Router {
        Router::new()
            .route("/live/index.m3u8", get(|| async { PLAYLIST }))
            .route("/live/seg1.ts", get(|| async { vec![0x47u8; 1880] }))
    }

    pub async fn serve(listener: tokio::net::TcpListener) {
        let _ = axum::serve(listener, app()).await;
    }
}

/// A real `swarmcast tracker` on 127.0.0.1:`port`, killed on drop.
struct Tracker(Child);

impl Tracker {
    fn start(port: u16) -> Self {
        let child = Command::new(BIN)
            .args(["tracker", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "tracker did not start on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child)
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Swarms a tracker holds, from its `GET /channels`.
fn tracker_swarms(port: u16) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /channels HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<Value>(body).unwrap_or_default()["swarms"]
        .as_u64()
        .unwrap_or(0)
}

fn reserve_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn worker_fails_over_to_signal2_and_back() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let origin = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let origin_port = origin.local_addr().unwrap().port();
    rt.spawn(fake::serve(origin));
    // signal1 is down (nothing listens on its port); signal2 is a real tracker.
    let (primary_port, backup_port) = (reserve_port(), reserve_port());
    let _backup = Tracker::start(backup_port);

    let m = Master::start(ENV);
    let signal1 = format!("ws://127.0.0.1:{primary_port}");
    let signal2 = format!("ws://127.0.0.1:{backup_port}");
    let (status, v) = m.call(
        "POST",
        "/seed",
        json!({"list": [{
            "channel": b64(&format!("http://127.0.0.1:{origin_port}/live/index.m3u8")),
            "live": true, "signal1": signal1, "signal2": signal2
        }]}),
    );
    assert_eq!(status, 200, "{v}");
    let s = m.wait_for("worker on signal2", |s| {
        s["workers"][0]["signal"] == json!(signal2)
    });
    assert!(s["workers"][0]["originKB"].as_u64().is_some());
    let until = Instant::now() + Duration::from_secs(30);
    while tracker_swarms(backup_port) == 0 {
        assert!(
            Instant::now() < until,
            "the worker announced its swarm on signal2"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // signal1 comes back: the worker returns to it and announces there.
    let _primary = Tracker::start(primary_port);
    m.wait_for("worker back on signal1", |s| {
        s["workers"][0]["signal"] == json!(signal1)
    });
    let until = Instant::now() + Duration::from_secs(30);
    while tracker_swarms(primary_port) == 0 {
        assert!(
            Instant::now() < until,
            "the worker announced its swarm on signal1"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
