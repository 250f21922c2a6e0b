//! How a seeder joins swarms: a WebTorrent tracker ("signal") client over WebSocket that
//! announces the seeder's swarms, hands the offers the tracker relays to the [`NodeHandle`]
//! and sends its answers back. Like a browser peer, it also sends offers of its own with each
//! announce, so that viewers already watching connect at once rather than at their next
//! announce; their answers come back through the tracker. It connects to `signal1`, fails over to `signal2` when
//! signal1 is down, and goes back to signal1 as soon as it answers again. Used by the
//! super-peer workers and `swarmcast peer`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use wire::tracker::{
    decode_server, encode_client, AnnounceEvent, AnnounceRequest, AnswerRequest, ClientMessage,
    InfoHash, Offer, OfferId, PeerId, ServerMessage, Signal,
};

use crate::node::NodeHandle;

/// Offers being answered at once at most; more are left to time out at the viewer, who
/// offers again at its next announce.
const MAX_PENDING_OFFERS: usize = 64;

/// Our own offers wait this long for an answer, as a browser's do.
const OFFER_TTL: Duration = Duration::from_secs(50);

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
    /// Time between announces until the tracker says otherwise (its `interval`).
    pub announce_every: Duration,
    /// Offers of our own sent with each announce of each swarm (0: answer offers only).
    /// After the first announce, only swarms the tracker counts other peers in get offers.
    pub offers_per_announce: usize,
}

impl SignalConfig {
    pub fn new(signal1: String, peer_id: PeerId, info_hashes: Vec<InfoHash>) -> Self {
        Self {
            signal1,
            signal2: None,
            peer_id,
            info_hashes,
            probe_primary_every: Duration::from_secs(5),
            announce_every: Duration::from_secs(30),
            offers_per_announce: 10,
        }
    }
}

/// A tracker URL with the `token` query parameter a tracker started with `--token` wants
/// (as the SDK adds it); the URL as it is for an empty token.
pub fn with_token(url: &str, token: &str) -> String {
    if token.is_empty() {
        return url.to_owned();
    }
    let encoded: String = token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}token={encoded}")
}

/// A tracker URL fit for logs and status: its token replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("token", _)) => "token=***".to_owned(),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// What the client reports to its owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalStatus {
    /// The tracker URL we are connected to.
    pub tracker: Option<String>,
    /// Other peers in our swarms, as the tracker last counted them.
    pub swarm_peers: u64,
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

/// Runs until the node stops: keeps the seeder announced on signal1 or signal2.
pub async fn run(config: SignalConfig, node: NodeHandle, status: watch::Sender<SignalStatus>) {
    let mut failover = Failover::new(config.signal1.clone(), config.signal2.clone());
    let mut next: Option<Ws> = None;
    let pending = Arc::new(Semaphore::new(MAX_PENDING_OFFERS));
    loop {
        let url = failover.current().to_owned();
        let ws = match next.take() {
            Some(ws) => Ok(ws),
            None => connect(&url).await,
        };
        match ws {
            Ok(ws) => {
                failover.on_connected();
                status.send_modify(|s| s.tracker = Some(redacted(&url)));
                let outcome = session(ws, &config, &failover, &node, &pending, &status).await;
                status.send_modify(|s| s.tracker = None);
                match outcome {
                    Ended::PrimaryBack(ws) => {
                        tracing::info!(
                            url = redacted(failover.primary()),
                            "tracker signal1 is back"
                        );
                        failover.back_to_primary();
                        next = Some(*ws);
                    }
                    Ended::NodeStopped => return,
                    Ended::Closed(why) => {
                        tracing::warn!(url = redacted(&url), "tracker connection ended: {why}");
                        let pause = failover.on_failure();
                        tokio::time::sleep(pause.max(Duration::from_millis(200))).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(url = redacted(&url), "cannot reach tracker: {e:#}");
                let pause = failover.on_failure();
                tokio::time::sleep(pause).await;
            }
        }
    }
}

enum Ended {
    Closed(String),
    PrimaryBack(Box<Ws>),
    NodeStopped,
}

fn announce(
    config: &SignalConfig,
    info_hash: &InfoHash,
    event: AnnounceEvent,
    offers: Vec<Offer>,
) -> Message {
    let msg = ClientMessage::Announce(AnnounceRequest {
        info_hash: *info_hash,
        peer_id: config.peer_id,
        event,
        left: Some(0.0),
        numwant: Some(offers.len() as f64),
        offers,
    });
    Message::text(encode_client(&msg))
}

/// Our offers the tracker carries, by offer id: the connection waiting for the answer.
#[derive(Default)]
struct OwnOffers {
    pending: HashMap<OfferId, (ConnectionIdOf, InfoHash, Instant)>,
}

type ConnectionIdOf = rtc::ConnectionId;

impl OwnOffers {
    /// Offers for one swarm's announce, made by the node and remembered.
    async fn make(&mut self, node: &NodeHandle, swarm: InfoHash, count: usize) -> Vec<Offer> {
        let now = Instant::now();
        self.pending
            .retain(|_, (_, _, at)| now.duration_since(*at) < OFFER_TTL);
        if count == 0 {
            return Vec::new();
        }
        let Ok(made) = node.create_offers(swarm, count).await else {
            return Vec::new();
        };
        made.into_iter()
            .map(|(connection, sdp)| {
                let offer_id = random_offer_id();
                self.pending.insert(offer_id, (connection, swarm, now));
                Offer {
                    offer_id,
                    offer: Signal::new("offer", &sdp),
                }
            })
            .collect()
    }

    /// The connection an answer is for, if it answers an offer of ours in that swarm.
    fn answered(&mut self, swarm: &InfoHash, offer_id: &OfferId) -> Option<ConnectionIdOf> {
        match self.pending.get(offer_id) {
            Some((_, s, _)) if s == swarm => self.pending.remove(offer_id).map(|(c, _, _)| c),
            _ => None,
        }
    }
}

fn random_offer_id() -> OfferId {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the OS random source");
    for b in &mut bytes {
        *b = ALNUM[usize::from(*b) % ALNUM.len()];
    }
    OfferId::from_bytes(&bytes).expect("20 bytes make an offer id")
}

async fn session(
    ws: Ws,
    config: &SignalConfig,
    failover: &Failover,
    node: &NodeHandle,
    pending: &Arc<Semaphore>,
    status: &watch::Sender<SignalStatus>,
) -> Ended {
    let (mut sink, mut stream) = ws.split();
    let mut own = OwnOffers::default();
    for hash in &config.info_hashes {
        let offers = own.make(node, *hash, config.offers_per_announce).await;
        if let Err(e) = sink
            .send(announce(config, hash, AnnounceEvent::Started, offers))
            .await
        {
            return Ended::Closed(e.to_string());
        }
    }
    tracing::info!(
        url = redacted(failover.current()),
        swarms = config.info_hashes.len(),
        "announced to the tracker"
    );
    let mut swarm_counts = vec![0u64; config.info_hashes.len()];
    let (answers_tx, mut answers) = mpsc::channel::<Message>(64);
    let every = config.announce_every.max(Duration::from_secs(1));
    let mut reannounce = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
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
                            let total = swarm_counts.iter().sum();
                            status.send_if_modified(|s| std::mem::replace(&mut s.swarm_peers, total) != total);
                        }
                        if r.interval > 0 {
                            let every = Duration::from_secs(u64::from(r.interval).clamp(5, 120));
                            if every != reannounce.period() {
                                reannounce = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                            }
                        }
                    }
                    Ok(ServerMessage::Offer(o)) => {
                        // Another server (a worker of the same channel): two ICE-lite ends
                        // never connect, and servers have nothing to take from each other.
                        if !config.info_hashes.contains(&o.info_hash) || o.peer_id.0.starts_with(crate::peer_id::PREFIX) {
                            continue;
                        }
                        let Some(sdp) = o.offer.sdp() else { continue };
                        let Ok(permit) = pending.clone().try_acquire_owned() else {
                            continue; // saturated: let the offer time out
                        };
                        let (node, answers_tx, peer_id) = (node.clone(), answers_tx.clone(), config.peer_id);
                        tokio::spawn(async move {
                            let _permit = permit;
                            match node.accept_offer(o.info_hash, sdp).await {
                                Ok(sdp) => {
                                    let msg = ClientMessage::Answer(AnswerRequest {
                                        info_hash: o.info_hash,
                                        peer_id,
                                        to_peer_id: o.peer_id,
                                        offer_id: o.offer_id,
                                        answer: Signal::new("answer", &sdp),
                                    });
                                    let _ = answers_tx.send(Message::text(encode_client(&msg))).await;
                                }
                                Err(e) => tracing::debug!("offer not answered: {e}"),
                            }
                        });
                    }
                    Ok(ServerMessage::Answer(a)) => {
                        let Some(connection) = own.answered(&a.info_hash, &a.offer_id) else {
                            continue; // not ours, or expired
                        };
                        let Some(sdp) = a.answer.sdp() else { continue };
                        let node = node.clone();
                        tokio::spawn(async move {
                            if let Err(e) = node.accept_answer(connection, sdp).await {
                                tracing::debug!("answer not taken: {e}");
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
                if node.is_stopped() {
                    return Ended::NodeStopped;
                }
                for (i, hash) in config.info_hashes.iter().enumerate() {
                    // Offers only where the tracker counts someone to give them to.
                    let count = if swarm_counts[i] > 0 { config.offers_per_announce } else { 0 };
                    let offers = own.make(node, *hash, count).await;
                    if let Err(e) = sink.send(announce(config, hash, AnnounceEvent::Update, offers)).await {
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
    fn tokens_are_added_as_the_sdk_adds_them() {
        assert_eq!(with_token("ws://t:8000", ""), "ws://t:8000");
        assert_eq!(
            with_token("ws://t:8000", "a b&c"),
            "ws://t:8000?token=a%20b%26c"
        );
        assert_eq!(
            with_token("wss://t/announce?x=1", "k"),
            "wss://t/announce?x=1&token=k"
        );
        assert_eq!(
            redacted("wss://t/a?x=1&token=secret"),
            "wss://t/a?x=1&token=***"
        );
        assert_eq!(redacted("ws://t:8000"), "ws://t:8000");
    }

    #[test]
    fn single_tracker_retries_with_growing_pauses() {
        let mut f = Failover::new("ws://a".into(), None);
        let pauses: Vec<Duration> = (0..10).map(|_| f.on_failure()).collect();
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert!(pauses[9] <= Duration::from_secs(30));
        assert_eq!(f.current(), "ws://a");
    }
}
