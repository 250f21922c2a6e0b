//! A worker process: seeds one channel. Reads its [`WorkerSpec`] from stdin, reports
//! [`WorkerEvent`]s on stdout, exits when stdin closes.

pub mod cache;
#[cfg(feature = "webrtc")]
pub mod engine;
pub mod lifeline;
pub mod media;
pub mod playlist;
pub mod signal;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::protocol::{MasterCommand, WorkerCounters, WorkerEvent, WorkerSpec};

/// Kernel buffer of the worker's UDP socket each way. With the 208 KiB default, the SACKs of a
/// few dozen viewers overflow it and every lost one costs SCTP a 1 s retransmission timeout
/// (bench/superpeer/README.md).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Live counters of a worker, shared by its tasks and reported to the master.
#[derive(Debug, Default)]
pub struct Counters {
    pub peers: AtomicU64,
    pub swarm_peers: AtomicU64,
    pub uploaded_bytes: AtomicU64,
    pub origin_bytes: AtomicU64,
    pub segments: AtomicU64,
    pub swarms: AtomicU64,
    pub signal: Mutex<Option<String>>,
}

impl Counters {
    pub fn snapshot(&self) -> WorkerCounters {
        WorkerCounters {
            peers: self.peers.load(Ordering::Relaxed),
            swarm_peers: self.swarm_peers.load(Ordering::Relaxed),
            uploaded_bytes: self.uploaded_bytes.load(Ordering::Relaxed),
            origin_bytes: self.origin_bytes.load(Ordering::Relaxed),
            segments: self.segments.load(Ordering::Relaxed),
            swarms: self.swarms.load(Ordering::Relaxed),
            signal: self
                .signal
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// Writes one event line on stdout; a closed stdout means the master is gone.
pub fn emit(event: &WorkerEvent) {
    let line = serde_json::to_string(event).expect("events serialize");
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Entry point of `swarmcast superpeer-worker`.
pub async fn run() -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let first = stdin
        .next_line()
        .await?
        .context("stdin closed before the worker spec")?;
    let spec: WorkerSpec = serde_json::from_str(&first).context("bad worker spec")?;
    lifeline::bind_to_master(spec.master_pid)?;
    tracing::info!(channel = %spec.seed.channel_id, "worker starting");

    let counters = Arc::new(Counters::default());
    let max_connections = Arc::new(AtomicU64::new(u64::from(spec.seed.max_connections)));

    // Commands from the master; EOF means stop now.
    let commands = {
        let max_connections = max_connections.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdin.next_line().await {
                match serde_json::from_str::<MasterCommand>(&line) {
                    Ok(MasterCommand::Update { seed }) => {
                        max_connections.store(u64::from(seed.max_connections), Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!("ignoring bad command ({e}): {line}"),
                }
            }
        })
    };

    let advertised_ip = match spec.public_ip {
        Some(ip) => ip,
        None => route_ip(&spec.seed.signal1).await,
    };
    let bind_ip = if advertised_ip.is_loopback() {
        advertised_ip
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let socket = swarm::node::bind_udp(SocketAddr::new(bind_ip, spec.udp_port), SOCKET_BUFFER)
        .with_context(|| format!("cannot bind UDP port {}", spec.udp_port))?;
    let udp_port = socket.local_addr()?.port();
    let peer_id = signal::new_peer_id();
    emit(&WorkerEvent::Ready {
        udp_port,
        peer_id: String::from_utf8_lossy(&peer_id.0).into_owned(),
    });
    let reporter = {
        let counters = counters.clone();
        let every = Duration::from_millis(spec.stats_interval_ms.max(50));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                emit(&WorkerEvent::Stats(counters.snapshot()));
            }
        })
    };
    let seeding = tokio::spawn(seed(
        spec,
        socket,
        SocketAddr::new(advertised_ip, udp_port),
        peer_id,
        max_connections,
        counters,
    ));
    let _ = commands.await;
    reporter.abort();
    seeding.abort();
    tracing::info!("stdin closed: worker exiting");
    Ok(())
}

/// The local address that routes to the tracker's host: the address viewers on the same
/// network reach us at when no `publicIp` is configured.
async fn route_ip(signal_url: &str) -> IpAddr {
    let host_port = signal_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1");
    let target = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    let probe = async {
        let addr = tokio::net::lookup_host(target).await.ok()?.next()?;
        let sock = tokio::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .await
            .ok()?;
        sock.connect(addr).await.ok()?;
        Some(sock.local_addr().ok()?.ip())
    };
    probe.await.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Finds the channel's swarms, then runs the engine, the tracker client and the media side.
async fn seed(
    spec: WorkerSpec,
    socket: tokio::net::UdpSocket,
    advertised: SocketAddr,
    peer_id: wire::tracker::PeerId,
    max_connections: Arc<AtomicU64>,
    counters: Arc<Counters>,
) -> anyhow::Result<()> {
    let origin = media::Origin::new(counters.clone())?;
    let seed = &spec.seed;
    let mut pause = Duration::from_millis(500);
    let variants = loop {
        match origin.text(&seed.url).await {
            Ok(text) => {
                let v = media::variants(&seed.url, &text, &seed.swarm_base);
                if !v.is_empty() {
                    break v;
                }
                tracing::warn!(url = %seed.url, "manifest lists no stream");
            }
            Err(e) => tracing::warn!(url = %seed.url, "manifest fetch failed: {e:#}"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    };
    for v in &variants {
        tracing::info!(swarm_id = %v.swarm_id, info_hash = %v.info_hash, "joining swarm");
    }
    let info_hashes = variants
        .iter()
        .map(|v| wire::tracker::Id20::from_binary_str(&v.info_hash))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad info hash: {e:?}"))?;
    let (offer_tx, offer_rx) = tokio::sync::mpsc::channel::<signal::OfferRequest>(256);
    let (media_tx, media_rx) = tokio::sync::mpsc::channel::<media::MediaUpdate>(64);
    let (demand_tx, demand_rx) = tokio::sync::mpsc::channel::<media::SwarmDemand>(256);
    let mut tasks = tokio::task::JoinSet::<anyhow::Result<()>>::new();
    #[cfg(feature = "webrtc")]
    {
        let engine = engine::EngineConfig {
            socket,
            advertised,
            swarms: variants.len(),
            max_connections,
        };
        tasks.spawn(engine::run(
            engine,
            offer_rx,
            media_rx,
            demand_tx,
            counters.clone(),
        ));
    }
    #[cfg(not(feature = "webrtc"))]
    {
        // Built without the WebRTC endpoint: join the swarms, fetch, but answer no offers.
        let _ = (socket, advertised, max_connections, demand_tx);
        let (mut offer_rx, mut media_rx) = (offer_rx, media_rx);
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    Some(o) = offer_rx.recv() => { let _ = o.reply.send(None); }
                    Some(_) = media_rx.recv() => {}
                    else => return Ok(()),
                }
            }
        });
    }
    let signal_config = signal::SignalConfig {
        signal1: seed.signal1.clone(),
        signal2: seed.signal2.clone(),
        peer_id,
        info_hashes,
        probe_primary_every: Duration::from_secs(5),
    };
    let c = counters.clone();
    tasks.spawn(async move {
        signal::run(signal_config, offer_tx, c).await;
        Ok(())
    });
    if seed.live {
        for (i, v) in variants.into_iter().enumerate() {
            let (origin, tx) = (origin.clone(), media_tx.clone());
            tasks.spawn(async move {
                media::run_live(origin, i, v, tx).await;
                Ok(())
            });
        }
    } else {
        let cache = match &spec.cache_dir {
            Some(dir) => Some(cache::DiskCache::open(
                dir,
                spec.cache_size_mb * 1024 * 1024,
            )?),
            None => None,
        };
        tasks.spawn(async move {
            media::run_vod(origin, variants, cache, demand_rx, media_tx).await;
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            // The engine failing leaves nothing to serve with: exit so the master sees it.
            tracing::error!("worker task failed: {e:#}");
            std::process::exit(2);
        }
    }
    Ok(())
}
