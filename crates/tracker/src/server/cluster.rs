//! The Redis side of a cluster node (the protocol is [`crate::cluster`]).
//!
//! Two tasks. The *flusher* takes what the connections queued in [`ClusterCore`] (membership
//! changes, offers and answers for other nodes' peers, stats reports) and sends it all as
//! one pipeline: one round trip per batch, however many messages it holds; it also beats.
//! The *link* holds the subscription (the cluster's `members` channel and this node's relay
//! channel): on each (re)connection it registers this node's peers again, loads the other
//! nodes' lists, then applies what arrives. While Redis is unreachable the node serves its
//! own peers alone, says so once in the log and in `/metrics`, and retries with backoff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use tokio::sync::Notify;
use wire::tracker::{decode_client, ClientMessage};

use crate::cluster::{self, ClusterConfig, Event, Keys, Nodes};
use crate::swarm::{Change, Outgoing, Relay};

use super::ws::{count_pushed, frame_of};
use super::{Core, Shared};

/// Fields written per HSET when a node registers all its peers.
const REGISTER_CHUNK: usize = 1000;
/// Offers and answers per published message (an offer is about 0.5 to 2 KB).
const RELAYS_PER_MESSAGE: usize = 256;
/// Longest wait for one Redis round trip before the batch counts as failed.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(3);

/// What the cluster layer keeps beside the state machine, under the same lock.
#[derive(Debug, Default)]
pub(crate) struct ClusterCore {
    pub nodes: Nodes,
    changes: Vec<Change>,
    relays: Vec<Relay>,
    stats: Vec<String>,
    /// Something was dropped from the queue: register every peer again instead.
    overflowed: bool,
    /// Relays dropped because the queue was full, not yet counted in the metrics.
    dropped_relays: u64,
    max_queued: usize,
}

impl ClusterCore {
    pub fn new(max_queued: usize) -> Self {
        ClusterCore {
            max_queued,
            ..ClusterCore::default()
        }
    }

    fn queued(&self) -> usize {
        self.changes.len() + self.relays.len() + self.stats.len()
    }
}

impl Core {
    /// Moves what the state machine produced for the cluster into its queue; `true` if
    /// something was queued (the flusher must be woken). Nothing happens without a cluster.
    pub fn collect_cluster(&mut self) -> bool {
        let Some(cluster) = &mut self.cluster else {
            return false;
        };
        let before = cluster.queued();
        if before >= cluster.max_queued {
            let (mut changes, mut relays) = (Vec::new(), Vec::new());
            self.tracker.take_changes(&mut changes);
            self.tracker.take_relays(&mut relays);
            if !changes.is_empty() {
                cluster.overflowed = true;
            }
            cluster.dropped_relays += relays.len() as u64;
            return false;
        }
        self.tracker.take_changes(&mut cluster.changes);
        self.tracker.take_relays(&mut cluster.relays);
        cluster.queued() > before
    }

    /// Queues a stats report (the client's JSON) for the other nodes.
    pub fn queue_stats(&mut self, json: String) {
        if let Some(cluster) = &mut self.cluster {
            if cluster.queued() < cluster.max_queued {
                cluster.stats.push(json);
            }
        }
    }
}

/// Counters of the cluster layer, for `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub relays_out: AtomicU64,
    pub relays_in: AtomicU64,
    /// Relays that could not be sent (Redis unreachable, queue full) or delivered (the
    /// peer left).
    pub relays_dropped: AtomicU64,
    pub events_out: AtomicU64,
    pub events_in: AtomicU64,
    pub batches: AtomicU64,
    pub batch_errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub bad_lines: AtomicU64,
}

/// The node's side of the cluster, shared by its tasks.
pub(crate) struct ClusterLink {
    pub config: ClusterConfig,
    pub node_id: String,
    pub keys: Keys,
    /// Set by the first node that reaches Redis; the same for all nodes of the cluster.
    pub cluster_id: OnceLock<String>,
    pub connected: AtomicBool,
    pub wake: Notify,
    pub metrics: ClusterMetrics,
    redis: ConnectionManager,
    client: redis::Client,
}

impl ClusterLink {
    /// Checks the URL and prepares the connection (made lazily: Redis may be down).
    pub fn new(config: ClusterConfig) -> std::io::Result<Self> {
        let bad = |e: redis::RedisError| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "--redis {}: {e} (expected redis://[:PASSWORD@]HOST:PORT[/DB])",
                    cluster::redacted_url(&config.redis_url)
                ),
            )
        };
        let client = redis::Client::open(config.redis_url.as_str()).map_err(bad)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(ROUND_TRIP_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(config.max_backoff);
        let redis =
            ConnectionManager::new_lazy_with_config(client.clone(), manager).map_err(bad)?;
        Ok(ClusterLink {
            node_id: cluster::new_node_id(),
            keys: Keys::new(&config.prefix),
            cluster_id: OnceLock::new(),
            connected: AtomicBool::new(false),
            wake: Notify::new(),
            metrics: ClusterMetrics::default(),
            redis,
            client,
            config,
        })
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn link(shared: &Shared) -> &ClusterLink {
    shared
        .cluster
        .as_ref()
        .expect("cluster tasks run only with a cluster")
}

/// Starts the flusher and the link.
pub(crate) fn spawn(shared: &Arc<Shared>) {
    shared.tasks.spawn(flusher(shared.clone()));
    shared.tasks.spawn(linker(shared.clone()));
}

/// Sends queued messages, one pipeline per batch; beats; drops silent nodes' peers.
async fn flusher(shared: Arc<Shared>) {
    let link = link(&shared);
    let beat = link.config.beat;
    let mut next_beat = Instant::now();
    let mut redis = link.redis.clone();
    loop {
        let beat_due = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = link.wake.notified() => Instant::now() >= next_beat,
            _ = tokio::time::sleep_until(next_beat.into()) => true,
        };
        let now = Instant::now();
        let (changes, relays, stats, overflowed) = {
            let mut core = shared.core();
            let core = &mut *core;
            let Some(cluster) = &mut core.cluster else {
                return;
            };
            if beat_due {
                for (id, conn) in cluster.nodes.silent(now, link.config.node_ttl) {
                    let gone = core.tracker.node_gone(conn);
                    tracing::info!("cluster node {id} fell silent: dropped its {gone} peers");
                }
            }
            let relays: Vec<(String, Relay)> = std::mem::take(&mut cluster.relays)
                .into_iter()
                .filter_map(|r| Some((cluster.nodes.id_of(r.node)?.to_owned(), r)))
                .collect();
            let taken = (
                std::mem::take(&mut cluster.changes),
                relays,
                std::mem::take(&mut cluster.stats),
                std::mem::take(&mut cluster.overflowed),
            );
            link.metrics
                .relays_dropped
                .fetch_add(std::mem::take(&mut cluster.dropped_relays), Relaxed);
            taken
        };
        if beat_due {
            next_beat = now + beat;
        }
        if !link.connected.load(Relaxed) {
            // The link registers every peer again once Redis is back.
            link.metrics
                .relays_dropped
                .fetch_add(relays.len() as u64, Relaxed);
            continue;
        }
        if overflowed {
            tracing::warn!("the cluster queue overflowed: registering this node's peers again");
            let _ = register(&shared, &mut redis).await;
        }
        let sent = relays.len() as u64;
        let pipe = batch(link, &changes, &relays, stats, beat_due);
        let result =
            tokio::time::timeout(ROUND_TRIP_TIMEOUT, pipe.query_async::<()>(&mut redis)).await;
        link.metrics.batches.fetch_add(1, Relaxed);
        match result {
            Ok(Ok(())) => {
                link.metrics.relays_out.fetch_add(sent, Relaxed);
            }
            Ok(Err(e)) => batch_failed(link, sent, &e.to_string()),
            Err(_) => batch_failed(link, sent, "timed out"),
        }
    }
    // Leaving: the others drop this node's peers at once instead of after the node TTL.
    if link.connected.load(Relaxed) {
        let mut pipe = redis::pipe();
        pipe.del(link.keys.peers(&link.node_id)).ignore();
        pipe.zrem(link.keys.nodes(), &link.node_id).ignore();
        pipe.publish(
            link.keys.members(),
            cluster::encode_events(&link.node_id, &[Event::Bye]),
        )
        .ignore();
        let _ =
            tokio::time::timeout(Duration::from_secs(1), pipe.query_async::<()>(&mut redis)).await;
    }
}

fn batch_failed(link: &ClusterLink, relays: u64, why: &str) {
    link.metrics.batch_errors.fetch_add(1, Relaxed);
    link.metrics.relays_dropped.fetch_add(relays, Relaxed);
    tracing::debug!("a cluster batch failed: {why}");
}

/// One pipeline: the membership changes on this node's list and on the `members` channel
/// (before the relays, so a receiver knows an offerer before its offer), then one message
/// per target node.
fn batch(
    link: &ClusterLink,
    changes: &[Change],
    relays: &[(String, Relay)],
    stats: Vec<String>,
    beat: bool,
) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    let own = link.keys.peers(&link.node_id);
    let mut joins: Vec<(String, &str)> = Vec::new();
    let mut leaves: Vec<String> = Vec::new();
    for change in changes {
        match change {
            Change::Join {
                info_hash,
                peer_id,
                seeder,
            } => joins.push((
                cluster::member_field(info_hash, peer_id),
                if *seeder { "1" } else { "0" },
            )),
            Change::Leave { info_hash, peer_id } => {
                leaves.push(cluster::member_field(info_hash, peer_id));
            }
        }
    }
    // Applied in order per field: a peer that joined then left within the batch is gone.
    if !joins.is_empty() {
        pipe.hset_multiple(&own, &joins).ignore();
    }
    if !leaves.is_empty() {
        pipe.hdel(&own, &leaves).ignore();
    }
    let mut events: Vec<Event> = changes.iter().map(|c| Event::Change(*c)).collect();
    events.extend(stats.into_iter().map(Event::Stats));
    if beat {
        events.push(Event::Beat);
        pipe.expire(&own, link.config.node_ttl.as_secs().max(1) as i64)
            .ignore();
        pipe.zadd(link.keys.nodes(), &link.node_id, unix_millis())
            .ignore();
    }
    if !events.is_empty() {
        link.metrics
            .events_out
            .fetch_add(events.len() as u64, Relaxed);
        pipe.publish(
            link.keys.members(),
            cluster::encode_events(&link.node_id, &events),
        )
        .ignore();
    }
    let mut by_node: HashMap<&str, Vec<&Relay>> = HashMap::new();
    for (node, relay) in relays {
        by_node.entry(node.as_str()).or_default().push(relay);
    }
    for (node, relays) in by_node {
        // Several messages for a large batch: each stays small for Redis's output buffers.
        for chunk in relays.chunks(RELAYS_PER_MESSAGE) {
            let payload =
                cluster::encode_relays(&link.node_id, chunk.iter().map(|r| (&r.to_peer, &r.msg)));
            pipe.publish(link.keys.relay(node), payload).ignore();
        }
    }
    pipe
}

/// Writes this node's whole peer list again (Redis restarted, or messages were lost) and
/// tells the others to load it.
async fn register(shared: &Shared, redis: &mut ConnectionManager) -> redis::RedisResult<()> {
    let link = link(shared);
    let members = {
        let mut core = shared.core();
        let core = &mut *core;
        // The list written now supersedes the queued changes.
        if let Some(cluster) = &mut core.cluster {
            cluster.changes.clear();
        }
        let mut drained = Vec::new();
        core.tracker.take_changes(&mut drained);
        core.tracker.local_members()
    };
    let own = link.keys.peers(&link.node_id);
    let mut pipe = redis::pipe();
    pipe.del(&own).ignore();
    for chunk in members.chunks(REGISTER_CHUNK) {
        let fields: Vec<(String, &str)> = chunk
            .iter()
            .filter_map(|m| match m {
                Change::Join {
                    info_hash,
                    peer_id,
                    seeder,
                } => Some((
                    cluster::member_field(info_hash, peer_id),
                    if *seeder { "1" } else { "0" },
                )),
                Change::Leave { .. } => None,
            })
            .collect();
        pipe.hset_multiple(&own, &fields).ignore();
    }
    let ttl_ms = link.config.node_ttl.as_millis() as u64;
    pipe.expire(&own, link.config.node_ttl.as_secs().max(1) as i64)
        .ignore();
    pipe.zadd(link.keys.nodes(), &link.node_id, unix_millis())
        .ignore();
    // Nodes silent for ten TTLs are long gone: keep the set small.
    pipe.zrembyscore(
        link.keys.nodes(),
        0,
        unix_millis().saturating_sub(ttl_ms * 10),
    )
    .ignore();
    pipe.publish(
        link.keys.members(),
        cluster::encode_events(&link.node_id, &[Event::Hello]),
    )
    .ignore();
    tokio::time::timeout(ROUND_TRIP_TIMEOUT * 4, pipe.query_async::<()>(redis))
        .await
        .map_err(|_| timed_out())??;
    tracing::debug!("registered {} peers in the cluster", members.len());
    Ok(())
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer in time",
    ))
}

/// Loads one node's peer list and puts it in place of what this node knew of it.
async fn load_node(
    shared: &Shared,
    redis: &mut ConnectionManager,
    id: &str,
) -> redis::RedisResult<()> {
    let link = link(shared);
    let list: HashMap<String, String> =
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, redis.hgetall(link.keys.peers(id)))
            .await
            .map_err(|_| timed_out())??;
    let now = Instant::now();
    let mut core = shared.core();
    let core = &mut *core;
    let Some(cluster) = &mut core.cluster else {
        return Ok(());
    };
    let (conn, _) = cluster.nodes.heard(id, now);
    core.tracker.node_gone(conn);
    let mut bad = 0;
    for (field, value) in &list {
        match cluster::parse_member(field, value) {
            Some((info_hash, peer_id, seeder)) => {
                core.tracker
                    .join_remote(conn, info_hash, peer_id, seeder, now);
            }
            None => bad += 1,
        }
    }
    link.metrics.bad_lines.fetch_add(bad, Relaxed);
    Ok(())
}

/// Keeps the subscription up: connect, register, load, listen; on loss, back off and retry.
async fn linker(shared: Arc<Shared>) {
    let link = link(&shared);
    let mut redis = link.redis.clone();
    let mut backoff = Duration::from_millis(100);
    let mut was_connected = false;
    let mut warned = false;
    loop {
        let outcome = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            outcome = session(&shared, &mut redis, &mut was_connected) => outcome,
        };
        drop_other_nodes(&shared);
        link.connected.store(false, Relaxed);
        let why = match outcome {
            Ok(()) => "the subscription ended".to_owned(),
            Err(e) => e.to_string(),
        };
        if was_connected {
            // Reset: a node that was up retries quickly first.
            backoff = Duration::from_millis(100);
            was_connected = false;
            warned = false;
        }
        if !warned {
            tracing::warn!(
                "cluster: Redis at {} unreachable ({why}): serving this node's peers only, retrying",
                cluster::redacted_url(&link.config.redis_url)
            );
            warned = true;
        } else {
            tracing::debug!("cluster: Redis still unreachable ({why})");
        }
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(link.config.max_backoff);
    }
}

/// Without Redis no offer reaches another node's peer: those peers go at once, so offers go
/// to this node's own peers only (each other node's list is loaded again when Redis is back).
fn drop_other_nodes(shared: &Shared) {
    let mut core = shared.core();
    let core = &mut *core;
    let Some(cluster) = &mut core.cluster else {
        return;
    };
    let gone: usize = cluster
        .nodes
        .forget_all()
        .into_iter()
        .map(|(_, conn)| core.tracker.node_gone(conn))
        .sum();
    if gone > 0 {
        tracing::info!("cluster: dropped the {gone} peers of other nodes until Redis is back");
    }
}

/// One connection's life: subscribe, register, load the others, then apply what arrives
/// until the connection fails or falls silent (this node hears its own beats, so silence
/// means a broken link).
async fn session(
    shared: &Shared,
    redis: &mut ConnectionManager,
    connected: &mut bool,
) -> redis::RedisResult<()> {
    let link = link(shared);
    let mut pubsub = tokio::time::timeout(ROUND_TRIP_TIMEOUT, link.client.get_async_pubsub())
        .await
        .map_err(|_| timed_out())??;
    pubsub.subscribe(link.keys.members()).await?;
    pubsub.subscribe(link.keys.relay(&link.node_id)).await?;
    // After a restart that lost Redis's data, the first node back restores the id it knew, so
    // nodes started later report the same cluster.
    let candidate = link
        .cluster_id
        .get()
        .cloned()
        .unwrap_or_else(cluster::new_node_id);
    let _: Option<String> = redis::cmd("SET")
        .arg(link.keys.cluster_id())
        .arg(&candidate)
        .arg("NX")
        .query_async(redis)
        .await?;
    let cluster_id: String = redis.get(link.keys.cluster_id()).await?;
    if let Some(known) = link.cluster_id.get() {
        if *known != cluster_id {
            tracing::warn!(
                "cluster: the cluster id changed from {known} to {cluster_id} (Redis lost its data); this node keeps reporting {known}"
            );
        }
    }
    let _ = link.cluster_id.set(cluster_id.clone());
    register(shared, redis).await?;
    let alive_since = unix_millis().saturating_sub(link.config.node_ttl.as_millis() as u64);
    let others: Vec<String> = redis
        .zrangebyscore(link.keys.nodes(), alive_since, "+inf")
        .await?;
    for id in others.iter().filter(|id| **id != link.node_id) {
        if cluster::valid_node_id(id) {
            load_node(shared, redis, id).await?;
        }
    }
    link.connected.store(true, Relaxed);
    link.metrics.reconnects.fetch_add(1, Relaxed);
    *connected = true;
    let nodes = shared.core().cluster.as_ref().map_or(0, |c| c.nodes.len()) + 1;
    tracing::info!(
        "cluster {cluster_id}: node {} joined through {} ({nodes} nodes)",
        link.node_id,
        cluster::redacted_url(&link.config.redis_url)
    );
    link.wake.notify_one();
    let silence = link.config.node_ttl.max(link.config.beat * 3);
    let own_relay = link.keys.relay(&link.node_id);
    let mut messages = pubsub.on_message();
    loop {
        let msg = match tokio::time::timeout(silence, messages.next()).await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Ok(()),
            Err(_) => return Err(timed_out()),
        };
        let Ok(payload) = std::str::from_utf8(msg.get_payload_bytes()) else {
            link.metrics.bad_lines.fetch_add(1, Relaxed);
            continue;
        };
        if msg.get_channel_name() == own_relay {
            on_relays(shared, payload);
        } else {
            on_events(shared, redis, payload).await?;
        }
    }
}

/// Applies a `members` message from another node.
async fn on_events(
    shared: &Shared,
    redis: &mut ConnectionManager,
    payload: &str,
) -> redis::RedisResult<()> {
    let link = link(shared);
    let (node, events, bad) = match cluster::decode_events(payload) {
        Ok(d) => (d.node, d.items, d.bad),
        Err(e) => {
            tracing::debug!("cluster: {e}");
            link.metrics.bad_lines.fetch_add(1, Relaxed);
            return Ok(());
        }
    };
    link.metrics.bad_lines.fetch_add(bad as u64, Relaxed);
    if node == link.node_id {
        return Ok(());
    }
    link.metrics
        .events_in
        .fetch_add(events.len() as u64, Relaxed);
    let now = Instant::now();
    if events.contains(&Event::Bye) {
        let mut core = shared.core();
        let core = &mut *core;
        if let Some(conn) = core.cluster.as_mut().and_then(|c| c.nodes.forget(node)) {
            let gone = core.tracker.node_gone(conn);
            tracing::info!("cluster node {node} left: dropped its {gone} peers");
        }
        return Ok(());
    }
    let new = shared
        .core()
        .cluster
        .as_mut()
        .is_some_and(|c| c.nodes.heard(node, now).1);
    if new || events.contains(&Event::Hello) {
        load_node(shared, redis, node).await?;
    }
    let mut core = shared.core();
    let core = &mut *core;
    let Some(cluster) = &mut core.cluster else {
        return Ok(());
    };
    let (conn, _) = cluster.nodes.heard(node, now);
    for event in events {
        match event {
            Event::Change(Change::Join {
                info_hash,
                peer_id,
                seeder,
            }) => core
                .tracker
                .join_remote(conn, info_hash, peer_id, seeder, now),
            Event::Change(Change::Leave { info_hash, peer_id }) => {
                core.tracker.leave_remote(conn, &info_hash, &peer_id);
            }
            Event::Stats(json) => {
                if let Ok(ClientMessage::Stats(report)) = decode_client(json.as_bytes()) {
                    let _ = core.tracker.ingest_stats(report, now);
                }
            }
            Event::Beat | Event::Hello | Event::Bye => {}
        }
    }
    Ok(())
}

/// Delivers offers and answers another node relayed to this node's peers.
fn on_relays(shared: &Shared, payload: &str) {
    let link = link(shared);
    let (node, relays, bad) = match cluster::decode_relays(payload) {
        Ok(d) => (d.node, d.items, d.bad),
        Err(e) => {
            tracing::debug!("cluster: {e}");
            link.metrics.bad_lines.fetch_add(1, Relaxed);
            return;
        }
    };
    link.metrics.bad_lines.fetch_add(bad as u64, Relaxed);
    let now = Instant::now();
    let mut out: Vec<Outgoing> = Vec::with_capacity(relays.len());
    let mut core = shared.core();
    let core = &mut *core;
    let Some(cluster) = &mut core.cluster else {
        return;
    };
    let (conn, _) = cluster.nodes.heard(node, now);
    let mut undelivered = 0;
    for (to_peer, msg) in relays {
        if !core
            .tracker
            .deliver_relay(conn, to_peer, msg, now, &mut out)
        {
            undelivered += 1;
        }
    }
    link.metrics.relays_in.fetch_add(out.len() as u64, Relaxed);
    link.metrics.relays_dropped.fetch_add(undelivered, Relaxed);
    for o in out {
        let frame = frame_of(&o.msg, now);
        let kind = frame.kind;
        match core.routes.get(&o.to) {
            Some(target) => count_pushed(shared, kind, target.push(frame)),
            None => shared.metrics.dropped(kind),
        }
    }
}

/// This node and its cluster, for `/metrics`, `/channels` and `/cluster`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeView {
    pub cluster: Option<String>,
    pub node: String,
    /// Whether Redis is reachable: `false` means this node serves its own peers alone.
    pub connected: bool,
    /// Nodes alive, this one included.
    pub nodes: usize,
    /// Peers connected to this node.
    pub local_peers: usize,
    /// Peers of the whole cluster (this node's and the others').
    pub peers: usize,
    pub connections: u64,
    /// Client messages this node received since it started (for a rate).
    pub messages_in: u64,
}

impl ClusterLink {
    pub fn view(&self, core: &Core, connections: u64, messages_in: u64) -> NodeView {
        let counts = core.tracker.counts();
        NodeView {
            cluster: self.cluster_id.get().cloned(),
            node: self.node_id.clone(),
            connected: self.connected.load(Relaxed),
            nodes: core.cluster.as_ref().map_or(0, |c| c.nodes.len()) + 1,
            local_peers: counts.peers - counts.remote_peers,
            peers: counts.peers,
            connections,
            messages_in,
        }
    }

    /// The cluster's lines of `/metrics`.
    pub fn render(&self, view: &NodeView) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(2048);
        let cluster = view.cluster.as_deref().unwrap_or("");
        let _ = writeln!(
            s,
            "# HELP tracker_cluster_info This node's id and its cluster's id (set by the first node that reached Redis).\n# TYPE tracker_cluster_info gauge\ntracker_cluster_info{{cluster=\"{cluster}\",node=\"{}\"}} 1",
            view.node
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "tracker_cluster_connected",
            "1 while Redis is reachable; 0: this node serves its own peers alone.",
            u64::from(view.connected),
        );
        gauge(
            "tracker_cluster_nodes",
            "Nodes of the cluster alive, this one included.",
            view.nodes as u64,
        );
        gauge(
            "tracker_local_peers",
            "Peers connected to this node (tracker_peers counts the whole cluster's).",
            view.local_peers as u64,
        );
        let m = &self.metrics;
        for (name, help, value) in [
            (
                "tracker_cluster_relays_out_total",
                "Offers and answers sent to other nodes.",
                &m.relays_out,
            ),
            (
                "tracker_cluster_relays_in_total",
                "Offers and answers from other nodes delivered to this node's peers.",
                &m.relays_in,
            ),
            (
                "tracker_cluster_relays_dropped_total",
                "Offers and answers lost between nodes (Redis unreachable, queue full, peer gone).",
                &m.relays_dropped,
            ),
            (
                "tracker_cluster_events_out_total",
                "Membership events, heartbeats and stats reports published.",
                &m.events_out,
            ),
            (
                "tracker_cluster_events_in_total",
                "Membership events, heartbeats and stats reports from other nodes.",
                &m.events_in,
            ),
            (
                "tracker_cluster_batches_total",
                "Pipelines sent to Redis (one round trip each).",
                &m.batches,
            ),
            (
                "tracker_cluster_batch_errors_total",
                "Pipelines that failed or timed out.",
                &m.batch_errors,
            ),
            (
                "tracker_cluster_connects_total",
                "Times this node (re)joined the cluster.",
                &m.reconnects,
            ),
            (
                "tracker_cluster_bad_lines_total",
                "Lines from other nodes that could not be read.",
                &m.bad_lines,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        s
    }
}
