//! A `swarmcast superpeer` master process for tests: started in a fresh folder from a `.env`,
//! its log kept, its REST API called over plain HTTP/1.1.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

pub const BIN: &str = env!("CARGO_BIN_EXE_swarmcast");
pub const TOKEN: &str = "s3cret-token";

pub struct Master {
    pub child: Child,
    pub port: u16,
    /// Everything the master and its workers wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Master {
    /// Starts `swarmcast superpeer` in a fresh folder holding `env` as its `.env`.
    pub fn start(env: &str) -> Self {
        Self::start_with(env, &[], &[])
    }

    /// Same, with extra environment variables and flags.
    pub fn start_with(env: &str, vars: &[(&str, &str)], flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), env).unwrap();
        Self::start_in(dir, vars, flags)
    }

    /// Starts it in `dir`, which holds its `.env`.
    pub fn start_in(dir: tempfile::TempDir, vars: &[(&str, &str)], flags: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("superpeer")
            .args(flags)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[master] {line}");
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
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
            log,
            _dir: dir,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, Value) {
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

    pub fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.request(method, path, Some(TOKEN), body.to_string().as_bytes())
    }

    pub fn stats(&self) -> Value {
        let (status, v) = self.call("GET", "/stats", Value::Null);
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Polls `/stats` until `pred` holds (bounded).
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
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

impl Master {
    /// `GET /stats` with `token`.
    pub fn stats_with(&self, token: &str) -> Value {
        let (status, v) = self.request("GET", "/stats", Some(token), b"");
        assert_eq!(status, 200, "{v}");
        v
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        common::terminate(&mut self.child);
    }
}

pub fn b64(s: &str) -> String {
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
