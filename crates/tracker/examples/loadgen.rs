//! Load generator for WebTorrent trackers (ours or any other), used by `bench/tracker`.
//!
//! `loadgen load URL CONNECTIONS TORRENTS OFFERS SECONDS [--rate N]`: every connection
//! announces with OFFERS offers, reads every frame, answers every offer it gets at once.
//! Without `--rate` the load is a closed loop: a connection announces again when its
//! announce response arrives, so the generator finds the tracker's maximum throughput (and
//! its latencies are mostly queueing). With `--rate N` it is open: N announces per second
//! in total, spread evenly over the connections, each sent at its scheduled time whatever
//! the responses do (a separate writer per connection), so a slow tracker cannot slow the
//! load down and hide its own latency. SDPs carry the scheduled send time (for answers: when
//! the offer was read), so each relayed offer or answer yields one relay latency (client →
//! tracker → client) that includes any delay in sending. Prints one JSON line with rates,
//! delivery ratios and latency percentiles, and in the open loop how late the generator
//! itself sent its announces (`send_lag_p99_ms`: when it is large, the generator's core, not
//! the tracker, is behind). Client sockets set TCP_NODELAY, as browsers do.
//!
//! URL may be a comma-separated list of the nodes of a cluster: connection i goes to node
//! (i / TORRENTS) mod nodes, so every torrent's peers are spread over all nodes (connection
//! i announces torrent i mod TORRENTS).
//!
//! `loadgen idle URL CONNECTIONS SECONDS`: opens CONNECTIONS WebSocket connections, each
//! announcing once, prints `idle ready` and holds them for SECONDS.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
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
    eprintln!("usage: loadgen load URL CONNECTIONS TORRENTS OFFERS SECONDS [--rate ANNOUNCES_PER_S] | loadgen idle URL CONNECTIONS SECONDS");
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
            let rate = match args.get(7).map(String::as_str) {
                None => None,
                Some("--rate") => Some(arg::<f64>(&args, 8)).filter(|r| *r > 0.0),
                Some(_) => usage(),
            };
            let load = Load {
                connections: arg(&args, 3),
                torrents: arg(&args, 4),
                offers: arg(&args, 5),
                seconds: arg(&args, 6),
                rate,
            };
            run_load(&args[2], load).await
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

struct Load {
    connections: usize,
    torrents: usize,
    offers: usize,
    seconds: u64,
    /// Announces per second in total (open loop), or `None` for a closed loop.
    rate: Option<f64>,
}

/// What every connection of a load run shares.
struct Run {
    counters: Counters,
    base: Instant,
    offers: usize,
    /// Sending stops here; reading goes on until `deadline`.
    stop_sending: Instant,
    deadline: Instant,
    /// Latencies of messages sent before this (micros since `base`) are warm-up.
    measured_from_us: u64,
    /// Open loop: how late each announce was sent after its scheduled time, in micros.
    send_lags: Mutex<Vec<u32>>,
}

impl Run {
    fn micros(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
}

async fn run_load(url: &str, load: Load) {
    let base = Instant::now();
    let warm_up = Duration::from_secs(2);
    let deadline = base + Duration::from_secs(load.seconds) + warm_up;
    let run = Arc::new(Run {
        counters: Counters::default(),
        base,
        offers: load.offers,
        stop_sending: deadline - warm_up,
        deadline,
        measured_from_us: warm_up.as_micros() as u64,
        send_lags: Mutex::default(),
    });
    let counters = &run.counters;
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let mut tasks = Vec::new();
    let connections = load.connections;
    let urls: Vec<&str> = url.split(',').collect();
    for i in 0..connections {
        let url = urls[(i / load.torrents.max(1)) % urls.len()];
        let (url, run, latencies) = (url.to_owned(), run.clone(), latencies.clone());
        let hash = info_hash(i % load.torrents);
        // Open loop: one announce per `period` per connection, connection i offset by
        // i/rate so that the sends are spread evenly.
        let pacing = load.rate.map(|rate| {
            let period = Duration::from_secs_f64(connections as f64 / rate);
            (period, Duration::from_secs_f64(i as f64 / rate))
        });
        tasks.push(tokio::spawn(async move {
            // TCP_NODELAY: with Nagle, a small frame sent while the previous one is not yet
            // acknowledged waits for the peer's delayed ACK (up to 40 ms on Linux).
            // A small read buffer: tungstenite zeroes it before every read.
            let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
            let connect =
                tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
            let connect = tokio::time::timeout_at(run.deadline.into(), connect);
            let Ok(Ok((ws, _))) = connect.await else {
                run.counters.failed_connections.fetch_add(1, Relaxed);
                return;
            };
            let lat = match pacing {
                None => run_peer(ws, i, hash, &run).await,
                Some((period, phase)) => run_paced_peer(ws, i, hash, period, phase, &run).await,
            };
            latencies.lock().unwrap().extend(lat);
        }));
        // Ramp up gently so the handshakes do not all collide.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // Measure the steady state: from 2 s after start for `seconds`.
    tokio::time::sleep_until((base + warm_up).into()).await;
    let start = snapshot(counters);
    let measured_from = Instant::now();
    tokio::time::sleep_until(run.stop_sending.into()).await;
    let end = snapshot(counters);
    let elapsed = measured_from.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let c = counters;
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    let mut lags = std::mem::take(&mut *run.send_lags.lock().unwrap());
    lat.sort_unstable();
    lags.sort_unstable();
    let pct = |p: f64| percentile_ms(&lat, p);
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
            "target_announces_per_s": load.rate,
            "offers_per_s": rate(2),
            "answers_per_s": rate(3),
            "offers_delivered": ratio(&c.offers_received, &c.offers_expected),
            "answers_delivered": ratio(&c.answers_received, &c.answers_sent),
            "relay_p50_ms": pct(0.5),
            "relay_p99_ms": pct(0.99),
            "send_lag_p99_ms": percentile_ms(&lags, 0.99),
            "errors": c.errors.load(Relaxed),
            "failed_connections": c.failed_connections.load(Relaxed),
        })
    );
}

/// The `p` quantile of sorted microsecond samples, in milliseconds (0 without samples).
fn percentile_ms(samples: &[u32], p: f64) -> f64 {
    let i = ((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1));
    samples.get(i).map_or(0.0, |us| f64::from(*us) / 1000.0)
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

/// Closed loop: announces again as soon as the previous announce is answered.
async fn run_peer(mut ws: Ws, i: usize, hash: String, run: &Run) -> Vec<u32> {
    let (c, offers, base, deadline, stop_sending) = (
        &run.counters,
        run.offers,
        run.base,
        run.deadline,
        run.stop_sending,
    );
    let me = peer_id(i);
    let mut latencies = Vec::new();
    let mut sequence = 0u64;
    let micros = || base.elapsed().as_micros() as u64;
    let announce = |sequence: &mut u64| announce_with_offers(i, &hash, offers, sequence, micros());
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
        let Ok(v) = serde_json::from_str::<Incoming>(&text) else {
            continue;
        };
        if v.failure.is_some() {
            c.errors.fetch_add(1, Relaxed);
        }
        if let Some(t) = sent_at(&v.offer) {
            c.offers_received.fetch_add(1, Relaxed);
            latencies.push(micros().saturating_sub(t) as u32);
            let answer = answer_to(&v, &hash, &me, micros());
            // Every send is bounded by the deadline: a tracker that stops reading must not
            // hang the generator.
            let send = tokio::time::timeout_at(deadline.into(), ws.send(Message::text(answer)));
            if Instant::now() < stop_sending && matches!(send.await, Ok(Ok(()))) {
                c.answers_sent.fetch_add(1, Relaxed);
            }
        } else if let Some(t) = sent_at(&v.answer) {
            c.answers_received.fetch_add(1, Relaxed);
            latencies.push(micros().saturating_sub(t) as u32);
        } else if v.interval.is_some() || v.complete.is_some() {
            c.responses.fetch_add(1, Relaxed);
            let peers = v.complete.unwrap_or(0) + v.incomplete.unwrap_or(0);
            if in_flight {
                c.offers_expected
                    .fetch_add(peers.saturating_sub(1).min(offers as u64), Relaxed);
            }
            in_flight = false;
            if Instant::now() < stop_sending {
                let send = ws.send(Message::text(announce(&mut sequence)));
                if !matches!(
                    tokio::time::timeout_at(deadline.into(), send).await,
                    Ok(Ok(()))
                ) {
                    break;
                }
                in_flight = true;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    latencies
}

/// The fields of a tracker frame the generator looks at, parsed without building a tree
/// (the generator shares a core and must not be the bottleneck).
#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(borrow)]
    offer: Option<Sdp<'a>>,
    #[serde(borrow)]
    answer: Option<Sdp<'a>>,
    #[serde(borrow)]
    peer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    offer_id: Option<Cow<'a, str>>,
    complete: Option<u64>,
    incomplete: Option<u64>,
    interval: Option<u64>,
    #[serde(rename = "failure reason")]
    failure: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct Sdp<'a> {
    #[serde(borrow)]
    sdp: Cow<'a, str>,
}

/// The send time (micros since the run's start) an offer's or answer's SDP carries.
fn sent_at(sdp: &Option<Sdp<'_>>) -> Option<u64> {
    sdp.as_ref()?.sdp.strip_prefix("t=")?.parse().ok()
}

/// The answer to a received offer, carrying `now_us`.
fn answer_to(offer: &Incoming<'_>, hash: &str, me: &str, now_us: u64) -> String {
    let quoted = |s: &Option<Cow<'_, str>>| {
        serde_json::to_string(s.as_deref().unwrap_or_default()).unwrap_or_default()
    };
    format!(
        r#"{{"action":"announce","info_hash":"{hash}","peer_id":"{me}","to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"t={now_us}"}}}}"#,
        quoted(&offer.peer_id),
        quoted(&offer.offer_id)
    )
}

/// An announce with `offers` offers whose SDPs carry `sent_us`.
/// Written by hand: the ids and hashes are plain ASCII, and the generator must stay cheap.
fn announce_with_offers(
    i: usize,
    hash: &str,
    offers: usize,
    sequence: &mut u64,
    sent_us: u64,
) -> String {
    use std::fmt::Write;
    let mut s = format!(
        r#"{{"action":"announce","info_hash":"{hash}","peer_id":"{}","numwant":{offers},"event":"started","offers":["#,
        peer_id(i)
    );
    for k in 0..offers {
        *sequence += 1;
        let comma = if k == 0 { "" } else { "," };
        let _ = write!(
            s,
            r#"{comma}{{"offer_id":"{i:08}-{:011}","offer":{{"type":"offer","sdp":"t={sent_us}"}}}}"#,
            *sequence % 100_000_000_000
        );
    }
    s.push_str("]}");
    s
}

/// Open loop: sends an announce every `period` (first after `phase`) on schedule, whatever
/// the responses do, and reads everything in between, answering offers at once. One loop,
/// no split socket: the timer and the socket are polled together, and the answers to all the
/// frames already read go out with one flush.
async fn run_paced_peer(
    mut ws: Ws,
    i: usize,
    hash: String,
    period: Duration,
    phase: Duration,
    run: &Run,
) -> Vec<u32> {
    use futures_util::FutureExt;
    let c = &run.counters;
    let me = peer_id(i);
    let mut latencies = Vec::new();
    // How late each announce went out: the generator's own share of the latency.
    let mut send_lags = Vec::new();
    let mut sequence = 0u64;
    // Announces sent and not yet answered: some trackers (aquatic_ws) answer answers too, so
    // the offers due are counted for as many responses as announces were sent.
    let mut unanswered = 0u32;
    let mut next = run.base + phase;
    let mut sending = true;
    let tick = tokio::time::sleep_until(next.into());
    tokio::pin!(tick);
    let end = tokio::time::sleep_until(run.deadline.into());
    tokio::pin!(end);
    loop {
        let msg = tokio::select! {
            biased;
            () = &mut end => break,
            () = &mut tick, if sending => {
                if next >= run.stop_sending {
                    sending = false;
                    continue;
                }
                // The scheduled time, not now: a late send counts in the latency.
                let scheduled = next.duration_since(run.base).as_micros() as u64;
                let announce =
                    announce_with_offers(i, &hash, run.offers, &mut sequence, scheduled);
                unanswered += 1;
                let send = ws.send(Message::text(announce));
                if !matches!(tokio::time::timeout_at(run.deadline.into(), send).await, Ok(Ok(()))) {
                    break;
                }
                if scheduled >= run.measured_from_us {
                    let lag = Instant::now().saturating_duration_since(next);
                    send_lags.push(lag.as_micros() as u32);
                }
                next += period;
                tick.as_mut().reset(next.into());
                continue;
            }
            msg = ws.next() => msg,
        };
        let mut msg = msg;
        let mut answers = 0u64;
        let mut closed = false;
        // This frame and every one already read: answers are fed, then flushed once.
        loop {
            let Some(Ok(frame)) = msg else {
                closed = true;
                break;
            };
            if let Message::Text(text) = frame {
                c.frames.fetch_add(1, Relaxed);
                if let Ok(v) = serde_json::from_str::<Incoming>(&text) {
                    if v.failure.is_some() {
                        c.errors.fetch_add(1, Relaxed);
                    }
                    let now = run.micros();
                    if let Some(t) = sent_at(&v.offer) {
                        c.offers_received.fetch_add(1, Relaxed);
                        if t >= run.measured_from_us {
                            latencies.push(now.saturating_sub(t) as u32);
                        }
                        if Instant::now() < run.stop_sending
                            && ws
                                .feed(Message::text(answer_to(&v, &hash, &me, now)))
                                .await
                                .is_ok()
                        {
                            answers += 1;
                        }
                    } else if let Some(t) = sent_at(&v.answer) {
                        c.answers_received.fetch_add(1, Relaxed);
                        if t >= run.measured_from_us {
                            latencies.push(now.saturating_sub(t) as u32);
                        }
                    } else if v.interval.is_some() || v.complete.is_some() {
                        c.responses.fetch_add(1, Relaxed);
                        if unanswered > 0 {
                            unanswered -= 1;
                            let peers = v.complete.unwrap_or(0) + v.incomplete.unwrap_or(0);
                            c.offers_expected
                                .fetch_add(peers.saturating_sub(1).min(run.offers as u64), Relaxed);
                        }
                    }
                }
            }
            match ws.next().now_or_never() {
                Some(more) => msg = more,
                None => break,
            }
        }
        if answers > 0 {
            let flush = tokio::time::timeout_at(run.deadline.into(), ws.flush());
            if !matches!(flush.await, Ok(Ok(()))) {
                break;
            }
            c.answers_sent.fetch_add(answers, Relaxed);
        }
        if closed {
            break;
        }
    }
    run.send_lags.lock().unwrap().extend(send_lags);
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
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
