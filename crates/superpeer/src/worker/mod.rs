//! A worker process: seeds one channel. Reads its [`WorkerSpec`] from stdin, reports
//! [`WorkerEvent`]s on stdout, exits when stdin closes.
//!
//! The worker is what feeds a [`swarm::node`]: it finds the channel's swarms, fetches media
//! from the origin into the node's stores ([`media`]), joins the swarms through the tracker
//! ([`swarm::signal`]) and reports the node's counters. Serving browsers is the node's job,
//! the same loop `swarmcast peer` runs.

pub mod cache;
pub mod lifeline;
pub mod media;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::FutureExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::protocol::{MasterCommand, WorkerCounters, WorkerEvent, WorkerSpec};

/// Kernel buffer of the worker's UDP socket each way. With the 208 KiB default, the SACKs of a
/// few dozen viewers overflow it and every lost one costs SCTP a 1 s retransmission timeout
/// (bench/superpeer/README.md).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// How long a viewer's offer may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the node's counters are copied into the worker's.
const NODE_STATS_EVERY: Duration = Duration::from_millis(250);

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
    /// Why the channel's manifest cannot be used right now, if it cannot.
    pub manifest_error: Mutex<Option<String>>,
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
            manifest_error: self
                .manifest_error
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
    tracing::info!(channel = %wire::redact::url(&spec.seed.channel_id), "worker starting");

    let counters = Arc::new(Counters::default());
    let (max_connections, max_connections_rx) = watch::channel(spec.seed.max_connections as usize);

    // Commands from the master; EOF means stop now.
    let commands = tokio::spawn(async move {
        while let Ok(Some(line)) = stdin.next_line().await {
            match serde_json::from_str::<MasterCommand>(&line) {
                Ok(MasterCommand::Update { seed }) => {
                    max_connections.send_replace(seed.max_connections as usize);
                }
                Err(e) => tracing::warn!("ignoring bad command ({e}): {line}"),
            }
        }
    });

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
    let peer_id = swarm::peer_id::random();
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
        max_connections_rx,
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

/// The channel's variants from its manifest, retried (with backoff) until it lists some.
async fn manifest_variants(
    origin: &media::Origin,
    seed: &crate::master::validate::SeedSpec,
) -> Vec<media::Variant> {
    let mut pause = Duration::from_millis(500);
    let shown_url = wire::redact::url(&seed.url);
    loop {
        let problem = match origin.text(&seed.url).await {
            Ok(text) => match media::variants(&seed.url, &text, &seed.swarm_base) {
                Ok(v) if !v.is_empty() => return v,
                Ok(_) => "the manifest lists no stream".to_owned(),
                Err(e) => e,
            },
            Err(e) => format!("fetch failed: {e:#}"),
        };
        tracing::warn!(url = %shown_url, "manifest unusable: {problem}");
        origin.report_manifest_error(Some(format!("{shown_url}: {problem}")));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// What the master's configuration sets of the worker's sending (`viewerBufferKB`,
/// `viewerMessageKB`, `sendBudgetMB`).
#[derive(Debug, Clone, Copy)]
struct SendLimits {
    viewer_buffer_kb: u64,
    viewer_message_kb: u64,
    send_budget_mb: u64,
}

/// The worker's node: its sending limits and the worker's fixed socket and timing choices.
fn node_config(
    limits: SendLimits,
    advertised: SocketAddr,
    max_connections: usize,
) -> swarm::node::NodeConfig {
    let kib = |n: u64| {
        usize::try_from(n)
            .unwrap_or(usize::MAX / 1024)
            .saturating_mul(1024)
    };
    let viewer_buffer = kib(limits.viewer_buffer_kb);
    swarm::node::NodeConfig {
        advertised_addr: Some(advertised),
        // Our `a=max-message-size`, and the size segment data is cut into.
        session: swarm::session::SessionConfig {
            // SCTP's own limit: a 64 KiB setting means 65535 bytes.
            max_message_size: kib(limits.viewer_message_kb).min(65_535),
            ..swarm::session::SessionConfig::default()
        },
        // A channel stops receiving data above this many unacknowledged bytes and resumes at
        // half of it.
        high_water: viewer_buffer,
        low_water: viewer_buffer / 2,
        send_budget: kib(limits.send_budget_mb).saturating_mul(1024),
        socket_buffer: SOCKET_BUFFER,
        connect_timeout: CONNECT_TIMEOUT,
        max_connections,
        // Measured: holding acknowledgements saves the worker no CPU and delays deliveries
        // (docs/superpeer.md, "Sizing").
        hold: Duration::ZERO,
        ..swarm::node::NodeConfig::default()
    }
}

/// Finds the channel's swarms, then runs the node, the tracker client and the media side.
async fn seed(
    spec: WorkerSpec,
    socket: tokio::net::UdpSocket,
    advertised: SocketAddr,
    peer_id: wire::tracker::PeerId,
    mut max_connections: watch::Receiver<usize>,
    counters: Arc<Counters>,
) -> anyhow::Result<()> {
    let policy = outbound::Policy::parse(&spec.origin_hosts, crate::config::ORIGIN_HOSTS_SETTING)
        .map_err(anyhow::Error::msg)?;
    let origin = media::Origin::new(counters.clone(), policy)?;
    let seed = &spec.seed;
    let shown_url = wire::redact::url(&seed.url);
    let mut pause = Duration::from_millis(500);
    let (variants, known) = if media::is_progressive(&seed.url) {
        let piece_length = seed.piece_length.unwrap_or(media::PIECE_LENGTH);
        let variant = media::file_variant(&seed.url, &seed.swarm_base, piece_length)
            .map_err(anyhow::Error::msg)?;
        let length = loop {
            match origin.length(&seed.url).await {
                Ok(n) => break n,
                Err(e) => tracing::warn!(url = %shown_url, "file length unknown: {e:#}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        };
        let pieces = media::file_pieces(&seed.url, length, piece_length);
        (vec![variant], HashMap::from([(0, pieces)]))
    } else {
        (manifest_variants(&origin, seed).await, HashMap::new())
    };
    origin.report_manifest_error(None);
    for v in &variants {
        tracing::info!(swarm_id = %v.swarm_id, info_hash = ?v.info_hash, "joining swarm");
    }
    counters
        .swarms
        .store(variants.len() as u64, Ordering::Relaxed);
    let limits = SendLimits {
        viewer_buffer_kb: spec.viewer_buffer_kb,
        viewer_message_kb: spec.viewer_message_kb,
        send_budget_mb: spec.send_budget_mb,
    };
    let node_config = node_config(limits, advertised, *max_connections.borrow_and_update());
    let (node, demand) = swarm::node::spawn_on(socket, node_config)?;
    let mut tasks = tokio::task::JoinSet::<anyhow::Result<()>>::new();

    // The master may change maxConnections at any time.
    let n = node.clone();
    tasks.spawn(async move {
        while max_connections.changed().await.is_ok() {
            let max = *max_connections.borrow_and_update();
            n.set_max_connections(max).await?;
        }
        Ok(())
    });

    // The node's counters, for the master.
    let (n, c) = (node.clone(), counters.clone());
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(NODE_STATS_EVERY);
        loop {
            tick.tick().await;
            let s = n.stats().await?.seeder;
            c.peers.store(s.open_sessions as u64, Ordering::Relaxed);
            c.uploaded_bytes.store(s.uploaded_bytes, Ordering::Relaxed);
            c.segments.store(s.segments_held as u64, Ordering::Relaxed);
        }
    });

    // The seed's token reaches the tracker, as a viewer's does (`?token=`).
    let mut signal_config = swarm::signal::SignalConfig::new(
        swarm::signal::with_token(&seed.signal1, &seed.token),
        peer_id,
        variants.iter().map(|v| v.info_hash).collect(),
    );
    signal_config.signal2 = seed
        .signal2
        .as_deref()
        .map(|url| swarm::signal::with_token(url, &seed.token));
    if !spec.make_offers {
        signal_config.offers_per_announce = 0;
    }
    let (status_tx, mut status) = watch::channel(swarm::signal::SignalStatus::default());
    tasks.spawn(swarm::signal::run(signal_config, node.clone(), status_tx).map(Ok));
    let c = counters.clone();
    tasks.spawn(async move {
        while status.changed().await.is_ok() {
            let s = status.borrow_and_update().clone();
            c.swarm_peers.store(s.swarm_peers, Ordering::Relaxed);
            *c.signal.lock().unwrap_or_else(|p| p.into_inner()) = s.tracker;
        }
        Ok(())
    });

    // A file has no live edge: it is always seeded on demand.
    if seed.live && known.is_empty() {
        for v in variants {
            tasks.spawn(media::run_live(origin.clone(), v, node.clone()).map(Ok));
        }
    } else {
        let cache = match &spec.cache_dir {
            Some(dir) => Some(cache::DiskCache::open(
                dir,
                spec.cache_size_mb * 1024 * 1024,
            )?),
            None => None,
        };
        tasks.spawn(media::run_vod(origin, variants, known, cache, demand, node.clone()).map(Ok));
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            // The node failing leaves nothing to serve with: exit so the master sees it.
            tracing::error!("worker task failed: {e:#}");
            std::process::exit(2);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_config_follows_the_send_limits() {
        let addr = SocketAddr::from(([203, 0, 113, 7], 40000));
        let limits = |viewer_message_kb| SendLimits {
            viewer_buffer_kb: 96,
            viewer_message_kb,
            send_budget_mb: 16,
        };
        let c = node_config(limits(8), addr, 500);
        assert_eq!(c.session.max_message_size, 8 * 1024);
        assert_eq!((c.high_water, c.low_water), (96 * 1024, 48 * 1024));
        assert_eq!(c.send_budget, 16 * 1024 * 1024);
        assert_eq!((c.advertised_addr, c.max_connections), (Some(addr), 500));
        // SCTP takes at most 65535 bytes in one message.
        assert_eq!(
            node_config(limits(64), addr, 1).session.max_message_size,
            65_535
        );
    }
}
