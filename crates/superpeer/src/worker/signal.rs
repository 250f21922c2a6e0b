//! The worker's tracker ("signal") connection: a WebTorrent tracker client over WebSocket
//! that announces the channel's swarms, hands relayed offers to the engine and sends its
//! answers back. It connects to `signal1`, fails over to `signal2` when signal1 is down,
//! and goes back to signal1 as soon as it answers again.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use wire::tracker::{
    decode_server, encode_client, AnnounceEvent, AnnounceRequest, AnswerRequest, ClientMessage,
    Id20, InfoHash, PeerId, ServerMessage, Signal,
};

use super::Counters;

/// An offer for the engine; it replies with the answer SDP, or `None` to decline.
#[derive(Debug)]
pub struct OfferRequest {
    /// Index of the swarm (into the announced info-hashes).
    pub swarm: usize,
    pub sdp: String,
    pub reply: oneshot::Sender<Option<String>>,
}

/// Which tracker to use next; pure so the failover rules are tested without sockets.
#[derive(Debug, Clone)]
pub struct Failover {
    urls: Vec<String>,
    current: usize,
    /// Connection attempts that failed in a row over all URLs.
    failures: u32,
}

impl Failover {
    pub fn new(signal1: String, signal2: Option<String>) -> Self {
        Self {
            urls: std::iter::once(signal1).chain(signal2).collect(),
            current: 0,
            failures: 0,
        }
    }

    pub fn current(&self) -> &str {
        &self.urls[self.current]
    }

    pub fn on_primary(&self) -> bool {
        self.current == 0
    }

    pub fn primary(&self) -> &str {
        &self.urls[0]
    }

    pub fn on_connected(&mut self) {
        self.failures = 0;
    }

    /// The current URL failed (or dropped us): move to the other one. Returns how long to
    /// wait first: nothing when switching, a growing pause once every URL failed in a row.
    pub fn on_failure(&mut self) -> Duration {
        self.failures += 1;
        self.current = (self.current + 1) % self.urls.len();
        let rounds = self.failures / self.urls.len() as u32;
        if !self.failures.is_multiple_of(self.urls.len() as u32) {
            Duration::ZERO
        } else {
            Duration::from_millis(500 * (1u64 << rounds.min(6))).min(Duration::from_secs(30))
        }
    }

    /// signal1 answered again while we were on signal2.
    pub fn back_to_primary(&mut self) {
        self.current = 0;
        self.failures = 0;
    }
}

/// Settings of the tracker client.
#[derive(Debug, Clone)]
pub struct SignalConfig {
    pub signal1: String,
    pub signal2: Option<String>,
    pub peer_id: PeerId,
    pub info_hashes: Vec<InfoHash>,
    /// While on signal2, how often signal1 is tried again.
    pub probe_primary_every: Duration,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connect timed out"))??;
    Ok(ws)
}

/// Runs forever: keeps the worker announced on signal1 or signal2.
pub async fn run(
    config: SignalConfig,
    offers: mpsc::Sender<OfferRequest>,
    counters: Arc<Counters>,
) {
    let mut failover = Failover::new(config.signal1.clone(), config.signal2.clone());
    let mut next: Option<Ws> = None;
    loop {
        let url = failover.current().to_owned();
        let ws = match next.take() {
            Some(ws) => Ok(ws),
            None => connect(&url).await,
        };
        match ws {
            Ok(ws) => {
                failover.on_connected();
                tracing::info!(%url, "connected to tracker");
                set_signal(&counters, Some(&url));
                let outcome = session(ws, &config, &failover, &offers, &counters).await;
                set_signal(&counters, None);
                match outcome {
                    Ended::PrimaryBack(ws) => {
                        tracing::info!(url = failover.primary(), "tracker signal1 is back");
                        failover.back_to_primary();
                        next = Some(*ws);
                    }
                    Ended::Closed(why) => {
                        tracing::warn!(%url, "tracker connection ended: {why}");
                        let pause = failover.on_failure();
                        tokio::time::sleep(pause.max(Duration::from_millis(200))).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(%url, "cannot reach tracker: {e:#}");
                let pause = failover.on_failure();
                tokio::time::sleep(pause).await;
            }
        }
    }
}

fn set_signal(counters: &Counters, url: Option<&str>) {
    *counters.signal.lock().unwrap_or_else(|p| p.into_inner()) = url.map(str::to_owned);
}

enum Ended {
    Closed(String),
    PrimaryBack(Box<Ws>),
}

fn announce(config: &SignalConfig, info_hash: &InfoHash, event: AnnounceEvent) -> Message {
    let msg = ClientMessage::Announce(AnnounceRequest {
        info_hash: *info_hash,
        peer_id: config.peer_id,
        event,
        left: Some(0.0),
        numwant: Some(0.0),
        offers: Vec::new(),
    });
    Message::text(encode_client(&msg))
}

async fn session(
    ws: Ws,
    config: &SignalConfig,
    failover: &Failover,
    offers: &mpsc::Sender<OfferRequest>,
    counters: &Counters,
) -> Ended {
    let (mut sink, mut stream) = ws.split();
    for hash in &config.info_hashes {
        if let Err(e) = sink
            .send(announce(config, hash, AnnounceEvent::Started))
            .await
        {
            return Ended::Closed(e.to_string());
        }
    }
    counters
        .swarms
        .store(config.info_hashes.len() as u64, Ordering::Relaxed);
    let mut swarm_counts = vec![0u64; config.info_hashes.len()];
    let (answers_tx, mut answers) = mpsc::channel::<Message>(64);
    let mut reannounce = tokio::time::interval(Duration::from_secs(30));
    reannounce.tick().await;
    let mut probe = tokio::time::interval(config.probe_primary_every);
    probe.tick().await;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Ended::Closed("closed by tracker".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ended::Closed(e.to_string()),
                };
                match decode_server(text.as_bytes()) {
                    Ok(ServerMessage::AnnounceResponse(r)) => {
                        if let Some(i) = config.info_hashes.iter().position(|h| *h == r.info_hash) {
                            // The tracker counts us too.
                            swarm_counts[i] = u64::from(r.complete + r.incomplete).saturating_sub(1);
                            counters.swarm_peers.store(swarm_counts.iter().sum(), Ordering::Relaxed);
                        }
                        if r.interval > 0 {
                            let every = Duration::from_secs(u64::from(r.interval).clamp(5, 120));
                            if every != reannounce.period() {
                                reannounce = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                            }
                        }
                    }
                    Ok(ServerMessage::Offer(o)) => {
                        let Some(swarm) = config.info_hashes.iter().position(|h| *h == o.info_hash) else {
                            continue;
                        };
                        let Some(sdp) = o.offer.sdp() else { continue };
                        let (reply, answer) = oneshot::channel();
                        if offers.try_send(OfferRequest { swarm, sdp, reply }).is_err() {
                            continue; // engine saturated: let the offer time out
                        }
                        let answers_tx = answers_tx.clone();
                        let (info_hash, peer_id) = (o.info_hash, config.peer_id);
                        tokio::spawn(async move {
                            if let Ok(Some(sdp)) = answer.await {
                                let msg = ClientMessage::Answer(AnswerRequest {
                                    info_hash,
                                    peer_id,
                                    to_peer_id: o.peer_id,
                                    offer_id: o.offer_id,
                                    answer: Signal::new("answer", &sdp),
                                });
                                let _ = answers_tx.send(Message::text(encode_client(&msg))).await;
                            }
                        });
                    }
                    Ok(ServerMessage::Error(e)) => tracing::warn!("tracker error: {}", e.reason),
                    Ok(_) => {}
                    Err(e) => tracing::debug!("undecodable tracker frame: {e}"),
                }
            }
            Some(answer) = answers.recv() => {
                if let Err(e) = sink.send(answer).await {
                    return Ended::Closed(e.to_string());
                }
            }
            _ = reannounce.tick() => {
                for hash in &config.info_hashes {
                    if let Err(e) = sink.send(announce(config, hash, AnnounceEvent::Update)).await {
                        return Ended::Closed(e.to_string());
                    }
                }
            }
            _ = probe.tick(), if !failover.on_primary() => {
                if let Ok(ws) = connect(failover.primary()).await {
                    let _ = sink.close().await;
                    return Ended::PrimaryBack(Box::new(ws));
                }
            }
        }
    }
}

/// A P2P-Media-Loader-style peer id: `-SC0001-` and 12 random alphanumerics (ASCII, 20
/// characters, one per worker).
pub fn new_peer_id() -> PeerId {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).expect("OS randomness");
    let mut id = *b"-SC0001-000000000000";
    for (slot, r) in id[8..].iter_mut().zip(random) {
        *slot = ALNUM[usize::from(r) % ALNUM.len()];
    }
    Id20(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_over_and_backs_off_only_after_a_full_round() {
        let mut f = Failover::new("ws://a".into(), Some("ws://b".into()));
        assert_eq!(f.current(), "ws://a");
        assert_eq!(f.on_failure(), Duration::ZERO);
        assert_eq!(f.current(), "ws://b");
        assert!(!f.on_primary());
        assert!(f.on_failure() > Duration::ZERO, "both down: pause");
        assert_eq!(f.current(), "ws://a");
        f.on_failure();
        f.on_connected();
        assert_eq!(f.current(), "ws://b");
        f.back_to_primary();
        assert!(f.on_primary());
    }

    #[test]
    fn single_tracker_retries_with_growing_pauses() {
        let mut f = Failover::new("ws://a".into(), None);
        let pauses: Vec<Duration> = (0..10).map(|_| f.on_failure()).collect();
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert!(pauses[9] <= Duration::from_secs(30));
        assert_eq!(f.current(), "ws://a");
    }

    #[test]
    fn peer_ids_are_ascii_and_distinct() {
        let (a, b) = (new_peer_id(), new_peer_id());
        assert_ne!(a, b);
        assert!(a.0.iter().all(u8::is_ascii_alphanumeric_or_dash));
    }

    trait AsciiId {
        fn is_ascii_alphanumeric_or_dash(&self) -> bool;
    }
    impl AsciiId for u8 {
        fn is_ascii_alphanumeric_or_dash(&self) -> bool {
            self.is_ascii_alphanumeric() || *self == b'-'
        }
    }
}
