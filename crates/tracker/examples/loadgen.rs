//! Load generator for WebTorrent trackers (ours or any other), used by `bench/tracker`.
//!
//! `loadgen load URL CONNECTIONS TORRENTS OFFERS SECONDS`: every connection announces with
//! OFFERS offers, reads every frame, answers every offer it gets at once, and announces
//! again when its announce response arrives. SDPs carry the send time, so each relayed
//! offer or answer yields one tracker relay latency (client → tracker → client). Prints one
//! JSON line with rates, delivery ratios and latency percentiles.
//!
//! `loadgen idle URL CONNECTIONS SECONDS`: opens CONNECTIONS WebSocket connections, each
//! announcing once, prints `idle ready` and holds them for SECONDS.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    responses: AtomicU64,
    offers_received: AtomicU64,
    offers_expected: AtomicU64,
    answers_sent: AtomicU64,
    answers_received: AtomicU64,
    errors: AtomicU64,
    failed_connections: AtomicU64,
}

fn usage() -> ! {
    eprintln!("usage: loadgen load URL CONNECTIONS TORRENTS OFFERS SECONDS | loadgen idle URL CONNECTIONS SECONDS");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") => {
            load(
                &args[2],
                arg(&args, 3),
                arg(&args, 4),
                arg(&args, 5),
                arg(&args, 6),
            )
            .await
        }
        Some("idle") => idle(&args[2], arg(&args, 3), arg(&args, 4)).await,
        _ => usage(),
    }
}

fn info_hash(t: usize) -> String {
    format!("loadgen-torrent-{t:04}")
}

fn peer_id(i: usize) -> String {
    format!("-LG0001-{i:012}")
}

async fn load(url: &str, connections: usize, torrents: usize, offers: usize, seconds: u64) {
    let base = Instant::now();
    let counters = Arc::new(Counters::default());
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let deadline = base + Duration::from_secs(seconds) + Duration::from_secs(2);
    let mut tasks = Vec::new();
    for i in 0..connections {
        let (url, counters, latencies) = (url.to_owned(), counters.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                counters.failed_connections.fetch_add(1, Relaxed);
                return;
            };
            let lat = run_peer(
                ws,
                i,
                info_hash(i % torrents),
                offers,
                base,
                deadline,
                &counters,
            )
            .await;
            latencies.lock().unwrap().extend(lat);
        }));
        // Ramp up gently so the handshakes do not all collide.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // Measure the steady state: from 2 s after start for `seconds`.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = snapshot(&counters);
    let measured_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let end = snapshot(&counters);
    let elapsed = measured_from.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let c = &counters;
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    let rate = |i: usize| (end[i] - start[i]) as f64 / elapsed;
    let ratio = |a: &AtomicU64, b: &AtomicU64| {
        let b = b.load(Relaxed);
        if b == 0 {
            1.0
        } else {
            a.load(Relaxed) as f64 / b as f64
        }
    };
    println!(
        "{}",
        json!({
            "responses_per_s": rate(0),
            "announce_responses_per_s": rate(1),
            "offers_per_s": rate(2),
            "answers_per_s": rate(3),
            "offers_delivered": ratio(&c.offers_received, &c.offers_expected),
            "answers_delivered": ratio(&c.answers_received, &c.answers_sent),
            "relay_p50_ms": pct(0.5),
            "relay_p99_ms": pct(0.99),
            "errors": c.errors.load(Relaxed),
            "failed_connections": c.failed_connections.load(Relaxed),
        })
    );
}

fn snapshot(c: &Counters) -> [u64; 4] {
    [
        c.frames.load(Relaxed),
        c.responses.load(Relaxed),
        c.offers_received.load(Relaxed),
        c.answers_received.load(Relaxed),
    ]
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn run_peer(
    mut ws: Ws,
    i: usize,
    hash: String,
    offers: usize,
    base: Instant,
    deadline: Instant,
    c: &Counters,
) -> Vec<u32> {
    let me = peer_id(i);
    let mut latencies = Vec::new();
    let mut sequence = 0u64;
    let stop_sending = deadline - Duration::from_secs(2);
    let micros = || base.elapsed().as_micros() as u64;
    let announce = |sequence: &mut u64| {
        let list: Vec<Value> = (0..offers)
            .map(|_| {
                *sequence += 1;
                json!({"offer_id": format!("{i:08}-{:011}", *sequence % 100_000_000_000), "offer": {"type": "offer", "sdp": format!("t={}", micros())}})
            })
            .collect();
        json!({"action": "announce", "info_hash": hash, "peer_id": me, "numwant": offers, "event": "started", "offers": list}).to_string()
    };
    if ws
        .send(Message::text(announce(&mut sequence)))
        .await
        .is_err()
    {
        return latencies;
    }
    let mut in_flight = true;
    loop {
        let next = tokio::time::timeout_at(deadline.into(), ws.next()).await;
        let Ok(Some(Ok(msg))) = next else { break };
        let Message::Text(text) = msg else { continue };
        c.frames.fetch_add(1, Relaxed);
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if v.get("failure reason").is_some() {
            c.errors.fetch_add(1, Relaxed);
        }
        let sent_at = |key: &str| {
            v[key]["sdp"]
                .as_str()
                .and_then(|s| s.strip_prefix("t="))
                .and_then(|t| t.parse::<u64>().ok())
        };
        if let Some(t) = sent_at("offer") {
            c.offers_received.fetch_add(1, Relaxed);
            latencies.push(micros().saturating_sub(t) as u32);
            let answer = json!({"action": "announce", "info_hash": hash, "peer_id": me, "to_peer_id": v["peer_id"], "offer_id": v["offer_id"], "answer": {"type": "answer", "sdp": format!("t={}", micros())}});
            if Instant::now() < stop_sending
                && ws.send(Message::text(answer.to_string())).await.is_ok()
            {
                c.answers_sent.fetch_add(1, Relaxed);
            }
        } else if let Some(t) = sent_at("answer") {
            c.answers_received.fetch_add(1, Relaxed);
            latencies.push(micros().saturating_sub(t) as u32);
        } else if v.get("interval").is_some() || v.get("complete").is_some() {
            c.responses.fetch_add(1, Relaxed);
            let peers = v["complete"].as_u64().unwrap_or(0) + v["incomplete"].as_u64().unwrap_or(0);
            if in_flight {
                c.offers_expected
                    .fetch_add(peers.saturating_sub(1).min(offers as u64), Relaxed);
            }
            in_flight = false;
            if Instant::now() < stop_sending {
                if ws
                    .send(Message::text(announce(&mut sequence)))
                    .await
                    .is_err()
                {
                    break;
                }
                in_flight = true;
            }
        }
    }
    let _ = ws.close(None).await;
    latencies
}

async fn idle(url: &str, connections: usize, seconds: u64) {
    let mut sockets = Vec::with_capacity(connections);
    let mut failed = 0;
    for i in 0..connections {
        match tokio_tungstenite::connect_async(url).await {
            Ok((mut ws, _)) => {
                let announce = json!({"action": "announce", "info_hash": info_hash(i % 100), "peer_id": peer_id(i), "numwant": 0, "event": "started"});
                let _ = ws.send(Message::text(announce.to_string())).await;
                let _ = ws.next().await;
                sockets.push(ws);
            }
            Err(_) => failed += 1,
        }
    }
    println!("idle ready: {} connections, {failed} failed", sockets.len());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}
