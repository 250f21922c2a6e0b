//! Tokens never reach the log: the tracker and the console run as processes at debug level,
//! are given their secrets, are sent wrong, expired and valid tokens, and their whole log is
//! then searched for every secret. (The super peer's log: `superpeer_security.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{listener, terminate};

const BIN: &str = env!("CARGO_BIN_EXE_swarmcast");

/// A `swarmcast` process at debug level whose stderr is kept.
struct Logged {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Logged {
    fn start(args: &[&str], vars: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        for out in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let kept = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut log = kept.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        Logged { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Bounded wait until the log holds `text`; returns the log.
    fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < until, "no `{text}` in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `scheme://ADDR` the process printed after `prefix`.
    fn listen_addr(&self, prefix: &str) -> SocketAddr {
        let log = self.wait_for(prefix);
        let rest = &log[log.find(prefix).unwrap() + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
            .unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Sends `request` and returns the status line of the answer.
fn status_line(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

fn ws_open(addr: SocketAddr, query: &str) -> String {
    status_line(
        addr,
        &format!(
            "GET /{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    )
}

fn assert_no_secret(log: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!log.contains(secret), "`{secret}` in the log:\n{log}");
    }
}

#[test]
fn the_tracker_logs_no_token() {
    let tracker = Logged::start(
        &["tracker", "--listen", "127.0.0.1:0"],
        &[
            ("SWARMCAST_TRACKER_TOKEN", "static-secret-1"),
            ("SWARMCAST_TRACKER_TOKEN_SECRET", "signing-secret-2"),
            // Nothing listens on port 1: the node logs that Redis is unreachable.
            (
                "SWARMCAST_TRACKER_REDIS",
                "redis://:redis-secret-5@127.0.0.1:1/0",
            ),
        ],
    );
    let addr = tracker.listen_addr("tracker listening on ws://");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = tracker::viewer_token::sign(b"signing-secret-2", "", now - 60);
    let valid = tracker::viewer_token::sign(b"signing-secret-2", "", now + 600);
    assert!(ws_open(addr, "?token=wrong-secret-3").contains(" 401 "));
    assert!(ws_open(addr, &format!("?token={expired}")).contains(" 401 "));
    assert!(ws_open(addr, "?token=static-secret-1").contains(" 101 "));
    assert!(ws_open(addr, &format!("?token={valid}")).contains(" 101 "));
    let line = status_line(
        addr,
        &format!("POST /stats?token=wrong-secret-4 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"),
    );
    assert!(line.contains(" 401 "), "{line}");
    // The refusals were logged (debug), without the tokens that were refused.
    tracker.wait_for("unreachable");
    let log = tracker.wait_for("refused a connection");
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    assert_no_secret(
        &log,
        &[
            "static-secret-1",
            "signing-secret-2",
            "wrong-secret-3",
            "wrong-secret-4",
            &signature(&expired),
            &signature(&valid),
            "redis-secret-5",
        ],
    );
}

#[test]
fn the_console_logs_no_token() {
    // A stand-in super peer answering 404, and a stand-in tracker likewise: the console logs
    // its failed health checks and polls.
    let (super_peer, _) = listener("127.0.0.1", String::new());
    let (tracker, _) = listener("127.0.0.1", String::new());
    let sp_spec = format!("http://{super_peer},token=sp-secret-1,label=sp");
    let tracker_url = format!("http://{tracker}");
    let console = Logged::start(
        &[
            "console",
            "--listen",
            "127.0.0.1:0",
            "--database",
            ":memory:",
            "--dashboard",
            "/nonexistent",
            "--super-peer",
            &sp_spec,
            "--tracker",
            &tracker_url,
            "--health-interval",
            "0.2",
            "--traffic-interval",
            "0.2",
        ],
        &[
            ("SWARMCAST_CONSOLE_TOKEN", "admin-secret-2"),
            ("SWARMCAST_SEED_TOKEN", "seed-secret-3"),
        ],
    );
    let addr = console.listen_addr("console listening on http://");
    let get = |auth: &str| {
        status_line(
            addr,
            &format!(
                "GET /api/super-peers HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
            ),
        )
    };
    assert!(get("Authorization: Bearer wrong-secret-4\r\n").contains(" 401 "));
    assert!(get("X-ACCESS-TOKEN: wrong-secret-5\r\n").contains(" 401 "));
    assert!(get("Authorization: Bearer admin-secret-2\r\n").contains(" 200 "));
    console.wait_for("super peer stopped");
    let log = console.wait_for("tracker poll failed");
    assert_no_secret(
        &log,
        &[
            "sp-secret-1",
            "admin-secret-2",
            "seed-secret-3",
            "wrong-secret-4",
            "wrong-secret-5",
        ],
    );
}
