//! The tracker's swarm logic as a deterministic state machine: no sockets, no clocks.
//!
//! Input: the id of the connection a message came from, the decoded message and `now`.
//! Output: messages addressed to connection ids, appended to a caller-owned buffer. The I/O
//! layer owns the sockets and delivers what comes out; tests drive this directly.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use indexmap::IndexMap;
use wire::tracker::{
    Action, AnnounceEvent, AnnounceRequest, AnnounceResponse, AnswerRequest, ClientMessage,
    ForwardedAnswer, ForwardedOffer, InfoHash, OfferId, PeerId, ScrapeFile, ScrapeRequest,
    ScrapeResponse, ServerError, ServerMessage, StatsReport,
};

use crate::config::SwarmConfig;
use crate::qoe::QoeBook;
use crate::stats::{ChannelTotals, StatsBook};

/// Identifies one client connection; chosen by the I/O layer, never reused.
///
/// In a cluster, each other tracker node is one pseudo-connection ([`ConnId::remote`]): its
/// peers live in the swarms like local ones, and what is addressed to them comes out as
/// [`Relay`]s instead of [`Outgoing`] messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    const REMOTE: u64 = 1 << 63;

    /// The pseudo-connection of the other node numbered `index`.
    pub fn remote(index: u32) -> ConnId {
        ConnId(Self::REMOTE | u64::from(index))
    }

    /// Whether this stands for another node of the cluster (local ids never reach 2^63).
    pub fn is_remote(self) -> bool {
        self.0 & Self::REMOTE != 0
    }
}

/// An offer or answer for a peer that lives on another node (`node`, a remote [`ConnId`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    pub node: ConnId,
    /// The peer it is for (an offer's target; an answer's offerer).
    pub to_peer: PeerId,
    /// A [`ServerMessage::Offer`] or [`ServerMessage::Answer`].
    pub msg: ServerMessage,
}

/// A change of a local peer's membership, for the other nodes of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Joined, or became a seeder or a leecher again.
    Join {
        info_hash: InfoHash,
        peer_id: PeerId,
        seeder: bool,
    },
    Leave {
        info_hash: InfoHash,
        peer_id: PeerId,
    },
}

/// A message for one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub to: ConnId,
    pub msg: ServerMessage,
}

/// One peer of one swarm.
#[derive(Debug)]
struct Peer {
    conn: ConnId,
    seeder: bool,
    expires: Instant,
    /// Offers relayed *to* this peer that it may still answer, oldest first.
    pending: VecDeque<PendingOffer>,
}

#[derive(Debug)]
struct PendingOffer {
    from: PeerId,
    offer_id: OfferId,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Swarm {
    peers: IndexMap<PeerId, Peer>,
    seeders: u32,
}

impl Swarm {
    fn counts(&self) -> (u32, u32) {
        let total = self.peers.len() as u32;
        (self.seeders, total - self.seeders)
    }

    fn remove(&mut self, peer_id: &PeerId) -> Option<Peer> {
        let peer = self.peers.swap_remove(peer_id)?;
        if peer.seeder {
            self.seeders -= 1;
        }
        Some(peer)
    }
}

/// Swarm counts for the channel API.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmSummary {
    pub info_hash: InfoHash,
    pub peers: u32,
    pub seeders: u32,
    pub leechers: u32,
    /// The channel id reported by our SDK for this info_hash, with its aggregates.
    pub channel: Option<(String, ChannelTotals)>,
}

/// Totals for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub swarms: usize,
    pub peers: usize,
    pub seeders: usize,
    pub channels: usize,
    pub viewers: usize,
    /// Of `peers`, those that live on other nodes of a cluster.
    pub remote_peers: usize,
    /// Viewers' playback errors and integrity failures, summed over their reports.
    pub quality: wire::tracker::QualityCounters,
}

/// The whole tracker state.
#[derive(Debug)]
pub struct Tracker {
    config: SwarmConfig,
    swarms: HashMap<InfoHash, Swarm>,
    /// Swarm memberships of each connection, to clean up when it closes.
    conns: HashMap<ConnId, Vec<(InfoHash, PeerId)>>,
    peers: usize,
    /// Of `peers`, those of other nodes.
    remote_peers: usize,
    stats: StatsBook,
    qoe: QoeBook,
    rng: fastrand::Rng,
    /// Whether membership changes are recorded for a cluster; off, `changes` stays empty.
    clustered: bool,
    changes: Vec<Change>,
    /// Messages for peers of other nodes; only ever filled when remote peers exist.
    relays: Vec<Relay>,
}

impl Tracker {
    pub fn new(config: SwarmConfig, seed: u64) -> Self {
        Tracker {
            stats: StatsBook::new(config.stats.clone()),
            qoe: QoeBook::new(config.qoe.clone()),
            config,
            swarms: HashMap::new(),
            conns: HashMap::new(),
            peers: 0,
            remote_peers: 0,
            rng: fastrand::Rng::with_seed(seed),
            clustered: false,
            changes: Vec::new(),
            relays: Vec::new(),
        }
    }

    /// Records the membership changes of local peers from now on, for [`Self::take_changes`].
    pub fn set_clustered(&mut self, clustered: bool) {
        self.clustered = clustered;
    }

    /// Moves out the membership changes of local peers since the last call.
    pub fn take_changes(&mut self, into: &mut Vec<Change>) {
        into.append(&mut self.changes);
    }

    /// Moves out the offers and answers for peers of other nodes since the last call.
    pub fn take_relays(&mut self, into: &mut Vec<Relay>) {
        into.append(&mut self.relays);
    }

    /// Every local peer, as joins: what a node registers again after losing the cluster.
    pub fn local_members(&self) -> Vec<Change> {
        let mut members = Vec::with_capacity(self.peers - self.remote_peers);
        for (info_hash, swarm) in &self.swarms {
            for (peer_id, peer) in &swarm.peers {
                if !peer.conn.is_remote() {
                    members.push(Change::Join {
                        info_hash: *info_hash,
                        peer_id: *peer_id,
                        seeder: peer.seeder,
                    });
                }
            }
        }
        members
    }

    fn changed(&mut self, change: Change) {
        if self.clustered {
            self.changes.push(change);
        }
    }

    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// Handles one decoded message from `conn`, appending what must be sent to `out`.
    pub fn handle(
        &mut self,
        conn: ConnId,
        msg: ClientMessage,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) {
        match msg {
            ClientMessage::Announce(a) => self.announce(conn, a, now, out),
            ClientMessage::Answer(a) => self.answer(conn, a, now, out),
            ClientMessage::Scrape(s) => {
                let msg = self.scrape(&s);
                out.push(Outgoing { to: conn, msg });
            }
            ClientMessage::Stats(s) => {
                let info_hash = s.info_hash;
                if let Err(reason) = self.ingest_stats(s, now) {
                    out.push(error(conn, Action::Stats, &info_hash, reason));
                }
            }
        }
    }

    fn announce(
        &mut self,
        conn: ConnId,
        a: AnnounceRequest,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) {
        if a.event == AnnounceEvent::Stopped {
            self.stop(conn, &a.info_hash, &a.peer_id);
            let (complete, incomplete) =
                self.swarms.get(&a.info_hash).map_or((0, 0), Swarm::counts);
            out.push(self.announce_response(conn, a.info_hash, complete, incomplete));
            return;
        }
        let held = self.conns.get(&conn).map_or(0, Vec::len);
        let max = self.config.max_info_hashes_per_connection;
        let current = self
            .swarms
            .get(&a.info_hash)
            .and_then(|s| s.peers.get(&a.peer_id))
            .map(|p| p.conn);
        if current != Some(conn) && held >= max {
            out.push(too_many_swarms(conn, &a.info_hash, max));
            return;
        }
        let swarm = self.swarms.entry(a.info_hash).or_default();
        match swarm.peers.get_mut(&a.peer_id) {
            Some(peer) => {
                let mut changed = false;
                if peer.conn != conn {
                    // Re-announced from a new socket (or moved from another node): the peer
                    // now lives there.
                    let old = std::mem::replace(&mut peer.conn, conn);
                    if old.is_remote() {
                        self.remote_peers -= 1;
                        changed = true;
                    } else if let Some(memberships) = self.conns.get_mut(&old) {
                        remove_membership(memberships, &a.info_hash, &a.peer_id);
                    }
                    self.conns
                        .entry(conn)
                        .or_default()
                        .push((a.info_hash, a.peer_id));
                }
                let seeder = is_seeder(&a, peer.seeder);
                if seeder != peer.seeder {
                    changed = true;
                    peer.seeder = seeder;
                    if seeder {
                        swarm.seeders += 1;
                    } else {
                        swarm.seeders -= 1;
                    }
                }
                peer.expires = now + self.config.peer_ttl;
                if changed {
                    self.changed(Change::Join {
                        info_hash: a.info_hash,
                        peer_id: a.peer_id,
                        seeder,
                    });
                }
            }
            None => {
                // Most connections join one swarm: room for one, not the default four.
                self.conns
                    .entry(conn)
                    .or_insert_with(|| Vec::with_capacity(1))
                    .push((a.info_hash, a.peer_id));
                let seeder = is_seeder(&a, false);
                swarm.seeders += u32::from(seeder);
                swarm.peers.insert(
                    a.peer_id,
                    Peer {
                        conn,
                        seeder,
                        expires: now + self.config.peer_ttl,
                        pending: VecDeque::new(),
                    },
                );
                self.peers += 1;
                self.changed(Change::Join {
                    info_hash: a.info_hash,
                    peer_id: a.peer_id,
                    seeder,
                });
            }
        }
        let swarm = &self.swarms[&a.info_hash];
        let (complete, incomplete) = swarm.counts();
        out.push(self.announce_response(conn, a.info_hash, complete, incomplete));
        self.forward_offers(a, now, out);
    }

    fn announce_response(
        &self,
        conn: ConnId,
        info_hash: InfoHash,
        complete: u32,
        incomplete: u32,
    ) -> Outgoing {
        Outgoing {
            to: conn,
            msg: ServerMessage::AnnounceResponse(AnnounceResponse {
                info_hash,
                complete,
                incomplete,
                interval: self.config.announce_interval.as_secs() as u32,
            }),
        }
    }

    /// Sends each offer to a different random peer of the swarm, never to the sender.
    fn forward_offers(&mut self, a: AnnounceRequest, now: Instant, out: &mut Vec<Outgoing>) {
        if a.offers.is_empty() {
            return;
        }
        let Some(swarm) = self.swarms.get_mut(&a.info_hash) else {
            return;
        };
        let wanted = a.offers.len().min(self.config.max_offers_per_announce);
        let sender = swarm.peers.get_index_of(&a.peer_id);
        let targets = pick_distinct(&mut self.rng, swarm.peers.len(), sender, wanted);
        let expires = now + self.config.offer_ttl;
        let max_pending = self.config.max_pending_offers_per_peer;
        for (offer, index) in a.offers.into_iter().zip(targets) {
            let Some((target_id, target)) = swarm.peers.get_index_mut(index) else {
                continue;
            };
            if target.conn.is_remote() {
                // Its node keeps the pending offer, where the answer arrives.
                self.relays.push(Relay {
                    node: target.conn,
                    to_peer: *target_id,
                    msg: ServerMessage::Offer(ForwardedOffer {
                        info_hash: a.info_hash,
                        peer_id: a.peer_id,
                        offer_id: offer.offer_id,
                        offer: offer.offer,
                    }),
                });
                continue;
            }
            if target.pending.len() >= max_pending {
                target.pending.pop_front();
            }
            target.pending.push_back(PendingOffer {
                from: a.peer_id,
                offer_id: offer.offer_id,
                expires,
            });
            out.push(Outgoing {
                to: target.conn,
                msg: ServerMessage::Offer(ForwardedOffer {
                    info_hash: a.info_hash,
                    peer_id: a.peer_id,
                    offer_id: offer.offer_id,
                    offer: offer.offer,
                }),
            });
        }
    }

    /// Relays an answer to the offering peer, only for an offer this tracker relayed to
    /// the answering peer and that has not expired.
    fn answer(&mut self, conn: ConnId, a: AnswerRequest, now: Instant, out: &mut Vec<Outgoing>) {
        let fail = |reason: &str| error(conn, Action::Announce, &a.info_hash, reason.to_owned());
        let Some(swarm) = self.swarms.get_mut(&a.info_hash) else {
            out.push(fail("answer for an unknown swarm"));
            return;
        };
        let Some(answerer) = swarm.peers.get_mut(&a.peer_id).filter(|p| p.conn == conn) else {
            out.push(fail(
                "answer from a peer_id not announced on this connection",
            ));
            return;
        };
        let found = answerer
            .pending
            .iter()
            .position(|p| p.from == a.to_peer_id && p.offer_id == a.offer_id);
        let Some(found) = found.and_then(|i| answerer.pending.remove(i)) else {
            out.push(fail("no pending offer with this offer_id from to_peer_id (never relayed, already answered or expired)"));
            return;
        };
        if found.expires <= now {
            out.push(fail("the offer has expired"));
            return;
        }
        let Some(offerer) = swarm.peers.get(&a.to_peer_id) else {
            out.push(fail("to_peer_id has left the swarm"));
            return;
        };
        let msg = ServerMessage::Answer(ForwardedAnswer {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            offer_id: a.offer_id,
            answer: a.answer,
        });
        if offerer.conn.is_remote() {
            self.relays.push(Relay {
                node: offerer.conn,
                to_peer: a.to_peer_id,
                msg,
            });
        } else {
            out.push(Outgoing {
                to: offerer.conn,
                msg,
            });
        }
    }

    /// A peer of the other node `node` joined `info_hash` (or changed from leecher to seeder
    /// or back). A peer that lived elsewhere moves there: it re-announced on that node.
    pub fn join_remote(
        &mut self,
        node: ConnId,
        info_hash: InfoHash,
        peer_id: PeerId,
        seeder: bool,
        now: Instant,
    ) {
        debug_assert!(node.is_remote());
        let swarm = self.swarms.entry(info_hash).or_default();
        match swarm.peers.get_mut(&peer_id) {
            Some(peer) => {
                if peer.conn != node {
                    let old = std::mem::replace(&mut peer.conn, node);
                    if old.is_remote() {
                        self.remote_peers -= 1;
                    } else if let Some(memberships) = self.conns.get_mut(&old) {
                        remove_membership(memberships, &info_hash, &peer_id);
                    }
                    self.remote_peers += 1;
                    peer.pending.clear();
                }
                if seeder != peer.seeder {
                    peer.seeder = seeder;
                    if seeder {
                        swarm.seeders += 1;
                    } else {
                        swarm.seeders -= 1;
                    }
                }
            }
            None => {
                swarm.seeders += u32::from(seeder);
                swarm.peers.insert(
                    peer_id,
                    Peer {
                        conn: node,
                        seeder,
                        // Remote peers never expire here: their node says when they leave,
                        // and [`Self::node_gone`] drops them all when the node falls silent.
                        expires: now,
                        pending: VecDeque::new(),
                    },
                );
                self.peers += 1;
                self.remote_peers += 1;
            }
        }
    }

    /// A peer of `node` left `info_hash` (ignored if the peer now lives elsewhere).
    pub fn leave_remote(&mut self, node: ConnId, info_hash: &InfoHash, peer_id: &PeerId) {
        let Some(swarm) = self.swarms.get_mut(info_hash) else {
            return;
        };
        if swarm.peers.get(peer_id).is_none_or(|p| p.conn != node) {
            return;
        }
        swarm.remove(peer_id);
        self.peers -= 1;
        self.remote_peers -= 1;
        if swarm.peers.is_empty() {
            self.swarms.remove(info_hash);
        }
    }

    /// Drops every peer of `node` (it fell silent, or its list is loaded again); returns how
    /// many. Walks all swarms: a rare event.
    pub fn node_gone(&mut self, node: ConnId) -> usize {
        let mut gone = 0;
        self.swarms.retain(|_, swarm| {
            swarm.peers.retain(|_, peer| {
                if peer.conn != node {
                    return true;
                }
                if peer.seeder {
                    swarm.seeders -= 1;
                }
                gone += 1;
                false
            });
            !swarm.peers.is_empty()
        });
        self.peers -= gone;
        self.remote_peers -= gone;
        gone
    }

    /// Delivers an offer or answer that node `node` relayed for the local peer `to_peer`.
    /// An offer is remembered as pending on the target, as if relayed here. Returns `false`
    /// when it cannot be delivered (the peer left or is not local).
    pub fn deliver_relay(
        &mut self,
        node: ConnId,
        to_peer: PeerId,
        msg: ServerMessage,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) -> bool {
        let (info_hash, from) = match &msg {
            ServerMessage::Offer(o) => (o.info_hash, o.peer_id),
            ServerMessage::Answer(a) => (a.info_hash, a.peer_id),
            _ => return false,
        };
        let is_offer = matches!(msg, ServerMessage::Offer(_));
        if is_offer
            && self
                .swarms
                .get(&info_hash)
                .is_none_or(|s| !s.peers.contains_key(&from))
        {
            // The offerer's join is published before its offers; should it still be missing
            // (loaded from a list that predates it), the answer must find where it lives.
            self.join_remote(node, info_hash, from, false, now);
        }
        let Some(swarm) = self.swarms.get_mut(&info_hash) else {
            return false;
        };
        let Some(target) = swarm
            .peers
            .get_mut(&to_peer)
            .filter(|p| !p.conn.is_remote())
        else {
            return false;
        };
        if let ServerMessage::Offer(offer) = &msg {
            if target.pending.len() >= self.config.max_pending_offers_per_peer {
                target.pending.pop_front();
            }
            target.pending.push_back(PendingOffer {
                from,
                offer_id: offer.offer_id,
                expires: now + self.config.offer_ttl,
            });
        }
        out.push(Outgoing {
            to: target.conn,
            msg,
        });
        true
    }

    /// The scrape response, or an error frame addressed to nobody in particular.
    pub fn scrape(&self, request: &ScrapeRequest) -> ServerMessage {
        let file = |hash: &InfoHash| {
            let (complete, incomplete) = self.swarms.get(hash).map_or((0, 0), Swarm::counts);
            ScrapeFile {
                complete,
                incomplete,
                downloaded: 0,
            }
        };
        let max = self.config.max_scrape_hashes;
        let files = match request {
            ScrapeRequest::InfoHashes(list) if list.len() > max => {
                return ServerMessage::Error(ServerError {
                    action: Action::Scrape,
                    info_hash: list[0].to_binary_string(),
                    reason: format!("a scrape may name at most {max} info_hashes"),
                });
            }
            ScrapeRequest::InfoHashes(list) => list.iter().map(|h| (*h, file(h))).collect(),
            ScrapeRequest::All if !self.config.full_scrape => {
                return ServerMessage::Error(ServerError {
                    action: Action::Scrape,
                    info_hash: String::new(),
                    reason: "full scrapes are disabled: name the info_hashes".to_owned(),
                });
            }
            ScrapeRequest::All => self
                .swarms
                .keys()
                .take(max)
                .map(|h| (*h, file(h)))
                .collect(),
        };
        ServerMessage::Scrape(ScrapeResponse {
            files,
            min_request_interval: Some(self.config.announce_interval.as_secs() as u32),
        })
    }

    /// Takes a stats report (from the WebSocket or `POST /stats`).
    pub fn ingest_stats(&mut self, report: StatsReport, now: Instant) -> Result<(), String> {
        // Both books take the report; a refusal of either is answered (the counters are
        // cumulative, so the viewer's next report makes up for it).
        let qoe = self.qoe.ingest(&report, now);
        self.stats.ingest(report, now).and(qoe)
    }

    /// QoE of the control-group experiment.
    pub fn qoe(&self) -> &QoeBook {
        &self.qoe
    }

    fn stop(&mut self, conn: ConnId, info_hash: &InfoHash, peer_id: &PeerId) {
        let Some(swarm) = self.swarms.get_mut(info_hash) else {
            return;
        };
        // Only the connection that holds the peer may stop it.
        if swarm.peers.get(peer_id).is_none_or(|p| p.conn != conn) {
            return;
        }
        swarm.remove(peer_id);
        self.peers -= 1;
        if swarm.peers.is_empty() {
            self.swarms.remove(info_hash);
        }
        if let Some(memberships) = self.conns.get_mut(&conn) {
            remove_membership(memberships, info_hash, peer_id);
        }
        self.changed(Change::Leave {
            info_hash: *info_hash,
            peer_id: *peer_id,
        });
    }

    /// Removes every peer that lives on `conn`.
    pub fn connection_closed(&mut self, conn: ConnId) {
        let Some(memberships) = self.conns.remove(&conn) else {
            return;
        };
        for (info_hash, peer_id) in memberships {
            let Some(swarm) = self.swarms.get_mut(&info_hash) else {
                continue;
            };
            if swarm.peers.get(&peer_id).is_some_and(|p| p.conn == conn) {
                swarm.remove(&peer_id);
                self.peers -= 1;
                if swarm.peers.is_empty() {
                    self.swarms.remove(&info_hash);
                }
                if self.clustered {
                    self.changes.push(Change::Leave { info_hash, peer_id });
                }
            }
        }
    }

    /// Drops peers that stopped announcing, offers nobody answered in time and stale stats.
    pub fn expire(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.swarms.retain(|info_hash, swarm| {
            swarm.peers.retain(|peer_id, peer| {
                if peer.expires <= now && !peer.conn.is_remote() {
                    expired.push((peer.conn, *info_hash, *peer_id));
                    if peer.seeder {
                        swarm.seeders -= 1;
                    }
                    return false;
                }
                while peer.pending.front().is_some_and(|p| p.expires <= now) {
                    peer.pending.pop_front();
                }
                true
            });
            !swarm.peers.is_empty()
        });
        self.peers -= expired.len();
        for (conn, info_hash, peer_id) in expired {
            if let Some(memberships) = self.conns.get_mut(&conn) {
                remove_membership(memberships, &info_hash, &peer_id);
            }
            self.changed(Change::Leave { info_hash, peer_id });
        }
        self.conns.retain(|_, memberships| !memberships.is_empty());
        self.stats.expire(now);
        self.qoe.expire(now);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            swarms: self.swarms.len(),
            peers: self.peers,
            seeders: self.swarms.values().map(|s| s.seeders as usize).sum(),
            channels: self.stats.channel_count(),
            viewers: self.stats.reporter_count(),
            remote_peers: self.remote_peers,
            quality: self.stats.quality(),
        }
    }

    /// Swarms ranked by peers, most first, at most `limit`.
    pub fn ranking(&self, limit: usize) -> Vec<SwarmSummary> {
        let mut ranked: Vec<(&InfoHash, &Swarm)> = self.swarms.iter().collect();
        let most_peers_first = |a: &(&InfoHash, &Swarm), b: &(&InfoHash, &Swarm)| {
            b.1.peers.len().cmp(&a.1.peers.len()).then(a.0.cmp(b.0))
        };
        // Partition first, so a large tracker sorts only the swarms it returns.
        if limit > 0 && ranked.len() > limit {
            ranked.select_nth_unstable_by(limit - 1, most_peers_first);
        }
        ranked.truncate(limit);
        ranked.sort_unstable_by(most_peers_first);
        ranked
            .into_iter()
            .map(|(h, s)| self.summary(h, Some(s)))
            .collect()
    }

    /// One swarm, also when only stats name it.
    pub fn swarm(&self, info_hash: &InfoHash) -> Option<SwarmSummary> {
        let swarm = self.swarms.get(info_hash);
        if swarm.is_none() && self.stats.channel_of(info_hash).is_none() {
            return None;
        }
        Some(self.summary(info_hash, swarm))
    }

    fn summary(&self, info_hash: &InfoHash, swarm: Option<&Swarm>) -> SwarmSummary {
        let (seeders, leechers) = swarm.map_or((0, 0), Swarm::counts);
        SwarmSummary {
            info_hash: *info_hash,
            peers: seeders + leechers,
            seeders,
            leechers,
            channel: self.stats.channel_of(info_hash),
        }
    }
}

/// A peer is a seeder when it says `left: 0` or `completed`; an update without `left`
/// keeps what it was.
fn is_seeder(a: &AnnounceRequest, was: bool) -> bool {
    match a.left {
        Some(left) => left == 0.0,
        None => was || a.event == AnnounceEvent::Completed,
    }
}

fn remove_membership(
    memberships: &mut Vec<(InfoHash, PeerId)>,
    info_hash: &InfoHash,
    peer_id: &PeerId,
) {
    if let Some(i) = memberships
        .iter()
        .position(|m| m.0 == *info_hash && m.1 == *peer_id)
    {
        memberships.swap_remove(i);
    }
}

fn error(conn: ConnId, action: Action, info_hash: &InfoHash, reason: String) -> Outgoing {
    Outgoing {
        to: conn,
        msg: ServerMessage::Error(ServerError {
            action,
            info_hash: info_hash.to_binary_string(),
            reason,
        }),
    }
}

fn too_many_swarms(conn: ConnId, info_hash: &InfoHash, max: usize) -> Outgoing {
    error(
        conn,
        Action::Announce,
        info_hash,
        format!("this connection already announced {max} swarms, the most allowed"),
    )
}

/// Up to `wanted` distinct indices in `0..len`, never `skip`, in random order.
fn pick_distinct(
    rng: &mut fastrand::Rng,
    len: usize,
    skip: Option<usize>,
    wanted: usize,
) -> Vec<usize> {
    let available = len - usize::from(skip.is_some());
    if available <= wanted {
        let mut all: Vec<usize> = (0..len).filter(|i| Some(*i) != skip).collect();
        rng.shuffle(&mut all);
        return all;
    }
    let mut picked = Vec::with_capacity(wanted);
    // `available > wanted`, so rejection sampling ends quickly; the bound is a safety net.
    for _ in 0..wanted * 64 {
        if picked.len() == wanted {
            break;
        }
        let i = rng.usize(..len);
        if Some(i) != skip && !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked
}
