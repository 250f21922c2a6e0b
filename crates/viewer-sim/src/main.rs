//! `viewer-sim`: many simulated P2P Media Loader viewers in one process, ramped against one
//! super-peer worker until it misses segment deadlines. Used by `bench/superpeer/run.sh`.

mod procstat;
mod signal;
mod viewer;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tokio::sync::{watch, Semaphore};
use viewer::{Counters, Shared};
use webrtc_core::peer_connection::certificate::{CertificateParams, RTCCertificate};
use wire::swarm_id::{self, hls};
use wire::tracker::InfoHash;

/// Ramps simulated live viewers against one super-peer worker and prints, per step, what
/// they received in time and what the worker cost (CPU, RSS from /proc).
///
/// Each viewer has its own UDP socket and WebRTC peer connection, announces to the tracker
/// with non-trickle offers like a bittorrent-tracker client, takes the worker's answer, opens
/// a data channel, and requests a share of the live segments the worker announces, by P2P
/// Media Loader command. A segment counts as on time when it arrives complete within the
/// deadline after its request.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Tracker the worker announces to (ws://).
    #[arg(long)]
    tracker: String,
    /// The channel's manifest URL, as seeded: the viewers join the swarm of its first stream.
    #[arg(long)]
    manifest: String,
    /// Process id of the super-peer worker, for its CPU and RSS.
    #[arg(long)]
    worker_pid: u32,
    /// Other processes to report, as NAME=PID (repeatable), e.g. tracker=123.
    #[arg(long = "watch", value_name = "NAME=PID", value_parser = parse_watch)]
    watch: Vec<(String, u32)>,
    /// Viewer counts to ramp through, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,100,200,300,400,600,800,1000"
    )]
    steps: Vec<usize>,
    /// Measuring window per step, seconds.
    #[arg(long, default_value_t = 20.0)]
    hold_secs: f64,
    /// Fraction of the live segments each viewer fetches from the worker (the rest would come
    /// from other peers or HTTP); 0.4 of a 2.5 Mbit/s stream is 1 Mbit/s per viewer.
    #[arg(long, default_value_t = 0.4)]
    share: f64,
    /// Seconds from a request to the segment's last byte; default: the target duration.
    #[arg(long)]
    deadline_secs: Option<f64>,
    /// Requests start up to this many seconds after the announcement; default: half the
    /// deadline.
    #[arg(long)]
    jitter_secs: Option<f64>,
    /// Viewers announcing at once. At most 9 keeps every offer batch within the tracker's
    /// 10 targets, so each announce reaches the worker.
    #[arg(long, default_value_t = 8)]
    join_concurrency: usize,
    /// Stop ramping when more than this fraction of the requested segments is late or absent.
    #[arg(long, default_value_t = 0.01)]
    max_miss: f64,
    /// Kernel receive buffer asked for each viewer socket, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    socket_buffer: usize,
    /// Threads of the simulator's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn parse_watch(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    Ok((
        name.to_owned(),
        pid.parse().map_err(|_| "PID must be a number")?,
    ))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// The info-hash of the manifest's first stream, and its target duration (seconds).
async fn stream_of(manifest_url: &str) -> anyhow::Result<(InfoHash, f64)> {
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let body = client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            anyhow::Ok(body)
        }
    };
    let manifest = get(manifest_url.to_owned()).await.context("manifest")?;
    let stream = hls::streams(&manifest)
        .into_iter()
        .next()
        .context("the manifest lists no stream")?;
    let base = swarm_id::swarm_base(manifest_url, None);
    let id = swarm_id::stream_swarm_id(base, stream.stream_type, &stream.identity.short_id());
    let info_hash = InfoHash::from_binary_str(&swarm_id::info_hash(&id))?;
    let media = if stream.uri.is_empty() {
        manifest
    } else {
        let url = reqwest::Url::parse(manifest_url)?.join(&stream.uri)?;
        get(url.to_string()).await.context("media playlist")?
    };
    let target = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|v| v.trim().parse().ok())
        .context("the media playlist has no target duration")?;
    Ok((info_hash, target))
}

/// Counter values at one moment.
#[derive(Clone, Copy)]
struct Snapshot {
    on_time: u64,
    late: u64,
    absent: u64,
    bytes: u64,
}

fn snapshot(c: &Counters) -> Snapshot {
    Snapshot {
        on_time: c.on_time.load(Ordering::Relaxed),
        late: c.late.load(Ordering::Relaxed),
        absent: c.absent.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
    }
}

/// Busy share of all cores between two readings of /proc/stat, and the core count.
fn machine_busy(before: &[u64], after: &[u64]) -> f64 {
    let delta: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let total: u64 = delta.iter().sum();
    let idle = delta.get(3).copied().unwrap_or(0) + delta.get(4).copied().unwrap_or(0);
    if total == 0 {
        0.0
    } else {
        1.0 - idle as f64 / total as f64
    }
}

fn machine_ticks() -> Vec<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

struct Row {
    viewers: usize,
    connected: u64,
    mbps: f64,
    resolved: u64,
    miss: f64,
    p50_ms: u32,
    p99_ms: u32,
    worker_cores: f64,
    worker_rss_mb: f64,
    worker_peak_mb: f64,
    sim_cores: f64,
    others_cores: f64,
    machine_busy: f64,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (info_hash, target) = stream_of(&args.manifest).await?;
    let deadline = args.deadline_secs.unwrap_or(target);
    let jitter = args.jitter_secs.unwrap_or(deadline / 2.0);
    let provider = webrtc_core::crypto::default_provider()?;
    let certificate = RTCCertificate::generate(
        provider.crypto(),
        webrtc_core::crypto::SignatureScheme::EcdsaP256Sha256,
        CertificateParams::new(vec!["viewer-sim".to_owned()])?,
    )?;
    let shared = Arc::new(Shared {
        tracker: args.tracker.clone(),
        info_hash,
        share: args.share,
        jitter: Duration::from_secs_f64(jitter),
        deadline: Duration::from_secs_f64(deadline),
        socket_buffer: args.socket_buffer,
        certificate,
        join_permits: Semaphore::new(args.join_concurrency.max(1)),
        counters: Counters::default(),
    });
    let worker = args.worker_pid.to_string();
    if procstat::sample(&worker).is_none() {
        bail!("no process {worker}");
    }
    println!(
        "viewer-sim: swarm of {}, target duration {target} s; each viewer fetches {:.0}% of the \
         segments, deadline {deadline} s after the request, requests spread over {jitter} s",
        args.manifest,
        args.share * 100.0
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let counters = &shared.counters;
    for &n in &args.steps {
        let joining_since = Instant::now();
        while tasks.len() < n {
            let index = tasks.len() as u64;
            tasks.push(tokio::spawn(viewer::run(
                shared.clone(),
                index,
                stop_rx.clone(),
            )));
        }
        // Wait until every viewer is connected or has given up.
        let join_limit = Duration::from_secs(60 + n as u64 / 5);
        loop {
            let connected = counters.connected.load(Ordering::Relaxed);
            let failed = counters.join_failures.load(Ordering::Relaxed)
                + counters.dropped.load(Ordering::Relaxed);
            if connected + failed >= n as u64 || joining_since.elapsed() > join_limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let connected = counters.connected.load(Ordering::Relaxed);
        println!(
            "step {n}: {connected} viewers connected ({} join failures, {} dropped) after {:.1} s",
            counters.join_failures.load(Ordering::Relaxed),
            counters.dropped.load(Ordering::Relaxed),
            joining_since.elapsed().as_secs_f64()
        );
        // Let every viewer reach its steady state: a new segment, its requests, deliveries.
        tokio::time::sleep(Duration::from_secs_f64(target + jitter + deadline)).await;
        if let Ok(mut v) = counters.delivery_ms.lock() {
            v.clear();
        }
        let before = snapshot(counters);
        let (Some(w0), Some(s0)) = (procstat::sample(&worker), procstat::sample("self")) else {
            bail!("the worker is gone");
        };
        let others0: Vec<_> = args
            .watch
            .iter()
            .filter_map(|(_, pid)| procstat::sample(&pid.to_string()))
            .collect();
        let m0 = machine_ticks();
        tokio::time::sleep(Duration::from_secs_f64(args.hold_secs)).await;
        let after = snapshot(counters);
        let (Some(w1), Some(s1)) = (procstat::sample(&worker), procstat::sample("self")) else {
            bail!("the worker is gone");
        };
        let others1: Vec<_> = args
            .watch
            .iter()
            .filter_map(|(_, pid)| procstat::sample(&pid.to_string()))
            .collect();
        let m1 = machine_ticks();
        let secs = w1.at.duration_since(w0.at).as_secs_f64();
        let on_time = after.on_time - before.on_time;
        let missed = (after.late - before.late) + (after.absent - before.absent);
        let resolved = on_time + missed;
        let mut delivery = counters
            .delivery_ms
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        delivery.sort_unstable();
        let pct = |p: f64| -> u32 {
            if delivery.is_empty() {
                0
            } else {
                delivery[((delivery.len() - 1) as f64 * p) as usize]
            }
        };
        let row = Row {
            viewers: n,
            connected: counters.connected.load(Ordering::Relaxed),
            mbps: (after.bytes - before.bytes) as f64 * 8.0 / 1e6 / secs,
            resolved,
            miss: if resolved == 0 {
                1.0
            } else {
                missed as f64 / resolved as f64
            },
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            worker_cores: procstat::cores(&w0, &w1),
            worker_rss_mb: w1.rss_kib as f64 / 1024.0,
            worker_peak_mb: w1.peak_kib as f64 / 1024.0,
            sim_cores: procstat::cores(&s0, &s1),
            others_cores: others0
                .iter()
                .zip(&others1)
                .map(|(a, b)| procstat::cores(a, b))
                .sum(),
            machine_busy: machine_busy(&m0, &m1),
        };
        println!(
            "step {n}: {:.0} Mbit/s, {} segments, {:.2}% missed, delivery p50 {} ms p99 {} ms, \
             worker {:.2} cores {:.0} MB, simulator {:.2} cores, machine {:.0}% busy",
            row.mbps,
            row.resolved,
            row.miss * 100.0,
            row.p50_ms,
            row.p99_ms,
            row.worker_cores,
            row.worker_rss_mb,
            row.sim_cores,
            row.machine_busy * 100.0
        );
        let failed = row.miss > args.max_miss || (row.connected as f64) < n as f64 * 0.99;
        rows.push(row);
        if failed {
            break;
        }
    }
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    report(&args, &rows);
    Ok(())
}

fn report(args: &Args, rows: &[Row]) {
    let others: Vec<&str> = args.watch.iter().map(|(n, _)| n.as_str()).collect();
    println!(
        "\n| viewers | connected | Mbit/s served | Mbit/s per viewer | missed | delivery p50 / p99 ms | worker CPU cores | worker RSS MB (peak) | simulator CPU cores | {} CPU cores | machine busy |",
        if others.is_empty() { "other".to_owned() } else { others.join("+") }
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2}% of {} | {} / {} | {:.2} | {:.0} ({:.0}) | {:.2} | {:.2} | {:.0}% |",
            r.viewers,
            r.connected,
            r.mbps,
            r.mbps / r.connected.max(1) as f64,
            r.miss * 100.0,
            r.resolved,
            r.p50_ms,
            r.p99_ms,
            r.worker_cores,
            r.worker_rss_mb,
            r.worker_peak_mb,
            r.sim_cores,
            r.others_cores,
            r.machine_busy * 100.0
        );
    }
    let sustained = rows
        .iter()
        .take_while(|r| r.miss <= args.max_miss && r.connected as f64 >= r.viewers as f64 * 0.99)
        .last();
    println!();
    let Some(s) = sustained else {
        println!(
            "no step was sustained (more than {:.1}% missed)",
            args.max_miss * 100.0
        );
        return;
    };
    let cores = s.worker_cores.max(0.01);
    println!("| one worker | viewers sustained | CPU cores | RSS MB | Mbit/s served | viewers per core | Mbit/s per core | MB RSS per 100 viewers |");
    println!("|---|---|---|---|---|---|---|---|");
    println!("| reference product | 200 | 1 | 400 | 200 | 200 | 200 | 200 |");
    println!(
        "| swarmcast | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} |",
        s.viewers,
        s.worker_cores,
        s.worker_rss_mb,
        s.mbps,
        s.viewers as f64 / cores,
        s.mbps / cores,
        s.worker_rss_mb * 100.0 / s.viewers as f64
    );
    println!(
        "| ratio | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
        s.viewers as f64 / 200.0,
        s.worker_cores,
        s.worker_rss_mb / 400.0,
        s.mbps / 200.0,
        s.viewers as f64 / cores / 200.0,
        s.mbps / cores / 200.0,
        s.worker_rss_mb * 100.0 / s.viewers as f64 / 200.0
    );
    if rows.len() > 1 && rows.last().map(|r| r.viewers) != Some(s.viewers) {
        println!(
            "\nthe next step ({} viewers) missed its deadlines: see its row above",
            rows.last().map_or(0, |r| r.viewers)
        );
    } else {
        println!("\nevery step was sustained: raise --steps to find the limit");
    }
}
