//! `swarmcast peer`: a seeding peer for P2P Media Loader swarms.
//!
//! It downloads every segment of every variant of a VOD HLS playlist from the origin, derives
//! the swarm ids P2P Media Loader 2.3 derives for those variants, joins the swarms through a
//! WebTorrent tracker like any browser peer (it answers the offers the tracker relays), and
//! serves the segments over WebRTC data channels from one UDP socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use swarm::node::{NodeConfig, NodeHandle};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wire::swarm_id::{hls, info_hash, stream_swarm_id, swarm_base};
use wire::tracker::{
    decode_server, encode_client, AnnounceEvent, AnnounceRequest, AnswerRequest, ClientMessage,
    Id20, ServerMessage, Signal,
};

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

    /// Our 20-character peer id in the swarms; random `-SC0001-…` by default.
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
        Some(id) if id.len() == 20 && id.is_ascii() => id.clone(),
        Some(id) => bail!("peer id `{id}` must be 20 ASCII characters"),
        None => random_peer_id(),
    };
    let mut config = NodeConfig {
        udp_listen: args.udp,
        advertised_addr: args.advertise,
        sctp_mtu: args.sctp_mtu,
        hold: Duration::from_millis(args.ack_hold_ms),
        ..NodeConfig::default()
    };
    config.session.max_message_size = args.max_message_size as usize;
    let node = swarm::node::spawn(config)
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
        peer_id,
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
    let tracker = args.tracker.clone().map(|url| {
        let hashes: Vec<String> = swarms.iter().map(|s| s.info_hash.clone()).collect();
        tokio::spawn(tracker_loop(
            url,
            peer_id.clone(),
            hashes,
            node.clone(),
            args.announce_interval,
        ))
    });
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
    match node.accept_offer(&hash, sdp).await {
        Ok(answer) => (StatusCode::OK, answer),
        Err(e) => (StatusCode::BAD_REQUEST, e),
    }
}

async fn http_stats(
    State((node, _)): State<ApiState>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let s = node
        .stats()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(serde_json::json!({
        "connections": s.connections,
        "openSessions": s.open_sessions,
        "sessionsClosedMalformed": s.sessions_closed_malformed,
        "bytesSent": s.bytes_sent,
        "uploadsCompleted": s.uploads_completed,
        "segmentsHeld": s.segments_held,
        "udp": {
            "datagramsSent": s.udp.datagrams_sent,
            "sends": s.udp.sends,
            "datagramsReceived": s.udp.datagrams_received,
            "receives": s.udp.receives,
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
            node.add_segment(&hash, id, data)
                .await
                .map_err(anyhow::Error::msg)?;
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

fn random_peer_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).unwrap_or_default();
    let tail: String = random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("-SC0001-{tail}")
}

/// Joins the swarms through the tracker, answers relayed offers, re-announces; reconnects
/// with a bounded backoff when the socket drops.
async fn tracker_loop(
    url: String,
    peer_id: String,
    hashes: Vec<String>,
    node: NodeHandle,
    interval: u64,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match tracker_session(&url, &peer_id, &hashes, &node, interval).await {
            Ok(()) => tracing::info!("tracker closed the connection"),
            Err(e) => tracing::warn!("tracker {url}: {e:#}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

async fn tracker_session(
    url: &str,
    peer_id: &str,
    hashes: &[String],
    node: &NodeHandle,
    interval: u64,
) -> anyhow::Result<()> {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("cannot connect")?;
    let (mut sink, mut stream) = ws.split();
    let our_id = Id20::from_binary_str(peer_id).map_err(|e| anyhow::anyhow!("peer id: {e:?}"))?;
    let announce = |hash: &str, event| -> anyhow::Result<String> {
        let info_hash =
            Id20::from_binary_str(hash).map_err(|e| anyhow::anyhow!("info hash: {e:?}"))?;
        Ok(encode_client(&ClientMessage::Announce(AnnounceRequest {
            info_hash,
            peer_id: our_id,
            event,
            left: Some(0.0),
            numwant: Some(0.0),
            offers: Vec::new(),
        })))
    };
    for hash in hashes {
        sink.send(Message::text(announce(hash, AnnounceEvent::Started)?))
            .await?;
    }
    tracing::info!(url, swarms = hashes.len(), "announced to the tracker");
    let (answers_tx, mut answers) = mpsc::channel::<String>(64);
    let mut every = Duration::from_secs(interval.max(1));
    let mut next_announce = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let frame = match frame {
                    None => return Ok(()),
                    Some(frame) => frame?,
                };
                let bytes = match frame {
                    Message::Text(t) => t.as_bytes().to_vec(),
                    Message::Binary(b) => b.to_vec(),
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                match decode_server(&bytes) {
                    Ok(ServerMessage::Offer(offer)) => {
                        let node = node.clone();
                        let answers = answers_tx.clone();
                        tokio::spawn(async move {
                            let Some(sdp) = offer.offer.sdp() else { return };
                            let hash = offer.info_hash.to_binary_string();
                            match node.accept_offer(&hash, sdp).await {
                                Ok(answer) => {
                                    let reply = encode_client(&ClientMessage::Answer(AnswerRequest {
                                        info_hash: offer.info_hash,
                                        peer_id: our_id,
                                        to_peer_id: offer.peer_id,
                                        offer_id: offer.offer_id,
                                        answer: Signal::new("answer", &answer),
                                    }));
                                    let _ = answers.send(reply).await;
                                }
                                Err(e) => tracing::debug!("offer refused: {e}"),
                            }
                        });
                    }
                    Ok(ServerMessage::AnnounceResponse(r)) if r.interval > 0 => {
                        every = Duration::from_secs(u64::from(r.interval));
                    }
                    Ok(ServerMessage::Error(e)) => tracing::warn!("tracker: {}", e.reason),
                    Ok(_) => {}
                    Err(e) => tracing::debug!("unreadable tracker frame: {e}"),
                }
            }
            Some(answer) = answers.recv() => sink.send(Message::text(answer)).await?,
            () = tokio::time::sleep_until(next_announce) => {
                for hash in hashes {
                    sink.send(Message::text(announce(hash, AnnounceEvent::Update)?)).await?;
                }
                next_announce = tokio::time::Instant::now() + every;
            }
        }
    }
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

    #[test]
    fn peer_ids_are_20_ascii_chars() {
        let id = random_peer_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("-SC0001-"));
    }
}
