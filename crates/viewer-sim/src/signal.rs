//! Joining through the tracker the way a bittorrent-tracker client (P2P Media Loader) does:
//! announce with offers over a WebSocket, wait for an answer relayed from the super peer.

use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wire::tracker::{
    decode_server, encode_client, AnnounceEvent, AnnounceRequest, ClientMessage, InfoHash, Offer,
    OfferId, PeerId, ServerMessage, Signal,
};

/// Offers per announce (P2P Media Loader asks for 10 peers).
pub const OFFERS_PER_ANNOUNCE: usize = 10;

/// A P2P-Media-Loader-style peer id: the simulator's client prefix and 12 random
/// alphanumerics.
pub fn random_peer_id() -> PeerId {
    PeerId::peer_id(b"-SV0001-", std::array::from_fn(|_| fastrand::u8(..)))
}

fn random_offer_id() -> OfferId {
    let raw: Vec<u8> = (0..20).map(|_| fastrand::alphanumeric() as u8).collect();
    OfferId::from_bytes(&raw).expect("20 bytes")
}

/// Announces `sdp` until an answer comes back, re-announcing every `retry` (the tracker sends
/// each offer to a random swarm member, and the other simulated viewers never answer), at
/// most `attempts` times. Leaves the swarm before returning, so that joining viewers see a
/// small swarm: the WebRTC connection does not depend on the tracker once answered.
pub async fn exchange(
    tracker: &str,
    info_hash: InfoHash,
    peer_id: PeerId,
    offer_sdp: &str,
    retry: Duration,
    attempts: u32,
) -> anyhow::Result<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(tracker)
        .await
        .context("tracker connection")?;
    let mut answer = None;
    'attempts: for attempt in 0..attempts {
        // bittorrent-tracker makes one peer connection per offer; we put the same SDP under
        // every offer id, since only the super peer answers and it gets at most one of them.
        let offers: Vec<Offer> = (0..OFFERS_PER_ANNOUNCE)
            .map(|_| Offer {
                offer_id: random_offer_id(),
                offer: Signal::new("offer", offer_sdp),
            })
            .collect();
        let ids: Vec<OfferId> = offers.iter().map(|o| o.offer_id).collect();
        let announce = ClientMessage::Announce(AnnounceRequest {
            info_hash,
            peer_id,
            event: if attempt == 0 {
                AnnounceEvent::Started
            } else {
                AnnounceEvent::Update
            },
            left: None,
            numwant: Some(OFFERS_PER_ANNOUNCE as f64),
            offers,
        });
        ws.send(Message::text(encode_client(&announce))).await?;
        let until = tokio::time::Instant::now() + retry;
        loop {
            let frame = match tokio::time::timeout_at(until, ws.next()).await {
                Err(_) => continue 'attempts,
                Ok(None) => bail!("tracker closed the connection"),
                Ok(Some(frame)) => frame?,
            };
            let Message::Text(text) = frame else { continue };
            // Offers relayed from other simulated viewers are ignored (they time out).
            if let Ok(ServerMessage::Answer(a)) = decode_server(text.as_bytes()) {
                if ids.contains(&a.offer_id) {
                    answer = a.answer.sdp();
                    break 'attempts;
                }
            }
        }
    }
    let leave = ClientMessage::Announce(AnnounceRequest {
        info_hash,
        peer_id,
        event: AnnounceEvent::Stopped,
        left: None,
        numwant: Some(0.0),
        offers: Vec::new(),
    });
    let _ = ws.send(Message::text(encode_client(&leave))).await;
    let _ = ws.close(None).await;
    answer.context("no answer from the super peer")
}
