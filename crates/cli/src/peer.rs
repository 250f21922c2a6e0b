//! `swarmcast peer`: a seeding peer for P2P Media Loader swarms.
//!
//! It downloads every segment of every variant of a VOD HLS playlist from the origin, derives
//! the swarm ids P2P Media Loader 2.3 derives for those variants, joins the swarms through a
//! WebTorrent tracker like any browser peer (it answers the offers the tracker relays), and
//! serves the segments over WebRTC data channels from one UDP socket: the same seeding node
//! and tracker client as the super-peer workers ([`swarm::node`], [`swarm::signal`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use swarm::node::{NodeConfig, NodeHandle};
use swarm::signal::{SignalConfig, SignalStatus};
use wire::swarm_id::{hls, info_hash, stream_swarm_id, swarm_base};
use wire::tracker::{InfoHash, PeerId};

#[derive(Args, Debug, Clone)]
pub struct PeerArgs {
    /// HLS playlist (master or media, VOD) whose segments to seed, e.g.
    /// `http://127.0.0.1:8080/hls-abr/master.m3u8`. Plain http only.
    #[arg(long)]
    pub playlist: String,

    /// WebTorrent tracker to join the swarms through (`ws://host:port`); without it the peer
    /// only answers offers posted to `--http`.
    #[arg(long)]
    pub tracker: Option<String>,

    /// A second tracker to fail over to while `--tracker` is down; the peer goes back to
    /// `--tracker` as soon as it answers again.
    #[arg(long, requires = "tracker")]
    pub backup_tracker: Option<String>,

    /// Custom channel id replacing the manifest URL in swarm ids (P2P Media Loader's
    /// `swarmId` option); it must be the one the players use.
    #[arg(long)]
    pub swarm_id: Option<String>,

    /// UDP address for all WebRTC traffic.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub udp: SocketAddr,

    /// Address browsers reach the UDP socket at (public or NAT address), as `IP` or
    /// `IP:PORT`; by default the bound one.
    #[arg(long, value_parser = parse_advertised)]
    pub advertise: Option<SocketAddr>,

    /// Optional HTTP API: `POST /offer/{info_hash}` (SDP offer in, answer out),
    /// `GET /swarms`, `GET /stats`. Meant for tests and benchmarks.
    #[arg(long)]
    pub http: Option<SocketAddr>,

    /// Our 20-character peer id in the swarms; random `-SCSP01-…` by default.
    #[arg(long)]
    pub peer_id: Option<String>,

    /// Seconds between announces to the tracker (until it says otherwise).
    #[arg(long, default_value_t = 30)]
    pub announce_interval: u64,

    /// Largest data-channel message, both ways: advertised in our answers as
    /// max-message-size, and the size segment data is cut into. Each connection keeps a buffer
    /// of this size; 65535 is P2P Media Loader's own sending size.
    #[arg(long, default_value_t = swarm::SessionConfig::default().max_message_size as u32, value_parser = clap::value_parser!(u32).range(1024..=262_144))]
    pub max_message_size: u32,

    /// Size budget in bytes of each SCTP data packet (one UDP datagram of about 40 bytes
    /// more). Unset keeps 1191, which fits every path, TURN relays and IPv6 included. Larger
    /// packets cost less CPU per byte, but datagrams are sent with don't-fragment, so a value
    /// above the path MTU stalls the connection: raise it only where every browser's path is
    /// known to carry it (docs/rtc.md, "CPU").
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=2000))]
    pub sctp_mtu: Option<u32>,

    /// While sending, milliseconds to let acknowledgements gather before reading them: one
    /// wake-up for many datagrams instead of one each (8-27% less CPU per GB in most paired
    /// benchmark runs). Adds this much, rounded up to the timer's 1 ms ticks, to each round
    /// trip while a transfer runs. 0 reads every datagram at once (docs/rtc.md, "Wake-ups").
    #[arg(long, default_value_t = swarm::node::udp::DEFAULT_HOLD.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=20))]
    pub ack_hold_ms: u64,
}

fn parse_advertised(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
        .map_err(|_| format!("`{s}` is neither IP nor IP:PORT"))
}

/// One swarm we seed.
#[derive(Debug, Clone, serde::Serialize)]
struct SeededSwarm {
    info_hash: String,
    swarm_id: String,
    playlist: String,
    segments: usize,
    bytes: usize,
}

pub fn run(args: PeerArgs) -> anyhow::Result<()> {
    crate::demo::single_thread_runtime()?.block_on(serve(args))
}

async fn serve(args: PeerArgs) -> anyhow::Result<()> {
    let peer_id = match &args.peer_id {
        Some(id) if id.len() == 20 && id.is_ascii() => {
            PeerId::from_binary_str(id).map_err(|e| anyhow::anyhow!("peer id `{id}`: {e:?}"))?
        }
        Some(id) => bail!("peer id `{id}` must be 20 ASCII characters"),
        None => swarm::peer_id::random(),
    };
    let mut config = NodeConfig {
        udp_listen: args.udp,
        advertised_addr: args.advertise,
        sctp_mtu: args.sctp_mtu,
        hold: Duration::from_millis(args.ack_hold_ms),
        ..NodeConfig::default()
    };
    config.session.max_message_size = args.max_message_size as usize;
    // This peer holds every segment: nothing to fetch on demand.
    let (node, _demand) = swarm::node::spawn(config)
        .await
        .context("cannot start the WebRTC node")?;

    let client = reqwest::Client::new();
    let swarms = load_playlist(&client, &node, &args.playlist, args.swarm_id.as_deref()).await?;
    let swarms = Arc::new(swarms);
    let mut http_addr = None;
    if let Some(addr) = args.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        http_addr = Some(listener.local_addr()?);
        let app = Router::new()
            .route("/offer/{info_hash}", post(http_offer))
            .route(
                "/swarms",
                get(|State((_, s)): State<ApiState>| async move { Json((*s).clone()) }),
            )
            .route("/stats", get(http_stats))
            .with_state((node.clone(), swarms.clone()))
            // Test and benchmark pages post offers from the origin's port.
            .layer(tower_http::cors::CorsLayer::permissive());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    tracing::info!(
        peer_id = peer_id.to_binary_string(),
        udp = %node.local_addr(),
        http = http_addr.map(|a| a.to_string()).unwrap_or_default(),
        swarms = swarms.len(),
        segments = swarms.iter().map(|s| s.segments).sum::<usize>(),
        "peer ready"
    );
    for s in swarms.iter() {
        tracing::info!(
            info_hash = s.info_hash,
            swarm_id = s.swarm_id,
            segments = s.segments,
            "seeding"
        );
    }
    let tracker = match args.tracker.clone() {
        Some(url) => {
            let hashes = swarms
                .iter()
                .map(|s| InfoHash::from_binary_str(&s.info_hash))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("info hash: {e:?}"))?;
            let mut config = SignalConfig::new(url, peer_id, hashes);
            config.signal2 = args.backup_tracker.clone();
            config.announce_every = Duration::from_secs(args.announce_interval.max(1));
            let (status, _) = tokio::sync::watch::channel(SignalStatus::default());
            Some(tokio::spawn(swarm::signal::run(
                config,
                node.clone(),
                status,
            )))
        }
        None => None,
    };
    crate::demo::shutdown_signal().await;
    if let Some(t) = tracker {
        t.abort();
    }
    Ok(())
}

type ApiState = (NodeHandle, Arc<Vec<SeededSwarm>>);

async fn http_offer(
    State((node, _)): State<ApiState>,
    Path(hash): Path<String>,
    sdp: String,
) -> (StatusCode, String) {
    let Ok(swarm) = InfoHash::from_binary_str(&hash) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("`{hash}` is not an info hash (20 characters)"),
        );
    };
    match node.accept_offer(swarm, sdp).await {
        Ok(answer) => (StatusCode::OK, answer),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn http_stats(
    State((node, _)): State<ApiState>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let s = node
        .stats()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let (seeder, udp) = (s.seeder, s.udp);
    Ok(Json(serde_json::json!({
        "connections": seeder.connections,
        "openSessions": seeder.open_sessions,
        "sessionsClosedMalformed": seeder.sessions_closed_malformed,
        "sessionsClosedSendError": seeder.sessions_closed_send_error,
        "extraChannelsIgnored": seeder.extra_channels_ignored,
        "offersRefused": seeder.offers_refused,
        "bytesSent": seeder.bytes_sent,
        "uploadedBytes": seeder.uploaded_bytes,
        "uploadsCompleted": seeder.uploads_completed,
        "uploadsCancelled": seeder.uploads_cancelled,
        "segmentsHeld": seeder.segments_held,
        "udp": {
            "datagramsSent": udp.datagrams_sent,
            "sends": udp.sends,
            "datagramsReceived": udp.datagrams_received,
            "receives": udp.receives,
        },
    })))
}

/// Fetches the playlist, every variant and every segment; puts them in the node's stores.
async fn load_playlist(
    client: &reqwest::Client,
    node: &NodeHandle,
    url: &str,
    custom_swarm_id: Option<&str>,
) -> anyhow::Result<Vec<SeededSwarm>> {
    let response = client
        .get(url)
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("GET {url}"))?;
    // P2P Media Loader uses the manifest's final URL, after redirects.
    let final_url = response.url().clone();
    let text = response.text().await?;
    let base = swarm_base(final_url.as_str(), custom_swarm_id).to_owned();
    let streams = hls::streams(&text);
    if streams.is_empty() {
        bail!("{url} lists no variants and no segments");
    }
    let mut seeded = Vec::new();
    for stream in streams {
        let (playlist_url, media) = if stream.uri.is_empty() {
            (final_url.clone(), text.clone())
        } else {
            let u = final_url.join(&stream.uri)?;
            let body = client
                .get(u.clone())
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            (u, body)
        };
        let swarm_id = stream_swarm_id(&base, stream.stream_type, &stream.identity.short_id());
        let hash = info_hash(&swarm_id);
        let key = InfoHash::from_binary_str(&hash)
            .map_err(|e| anyhow::anyhow!("info hash of {swarm_id}: {e:?}"))?;
        let mut bytes = 0;
        let segments = media_segments(&media);
        for &(id, ref uri) in &segments {
            let u = playlist_url.join(uri)?;
            let data = client
                .get(u.clone())
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            bytes += data.len();
            node.add_segment(key, id, data).await?;
        }
        seeded.push(SeededSwarm {
            info_hash: hash,
            swarm_id,
            playlist: playlist_url.to_string(),
            segments: segments.len(),
            bytes,
        });
    }
    Ok(seeded)
}

/// Segment ids and URIs of a media playlist, numbered as hls.js numbers them for P2P Media
/// Loader: the index in the playlist for VOD, the media sequence number for live.
fn media_segments(playlist: &str) -> Vec<(i64, String)> {
    let live = !playlist.contains("#EXT-X-ENDLIST");
    let first_sequence: i64 = playlist
        .lines()
        .find_map(|l| l.trim().strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    playlist
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, uri)| {
            (
                if live {
                    first_sequence + i as i64
                } else {
                    i as i64
                },
                uri.to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vod_segments_are_numbered_by_index_live_by_sequence() {
        let vod = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(
            media_segments(vod),
            [(0, "a.ts".to_owned()), (1, "b.ts".to_owned())]
        );
        let live = vod.replace("#EXT-X-ENDLIST\n", "");
        assert_eq!(
            media_segments(&live),
            [(5, "a.ts".to_owned()), (6, "b.ts".to_owned())]
        );
    }
}
