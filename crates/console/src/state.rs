//! The console's live state and the operations on it: health checks, tracker polls, seeding
//! rounds and operator commands. HTTP handlers and background loops both call these.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::config::ConsoleConfig;
use crate::listed::{Kind, ListedChannel};
use crate::planner::{self, Action, ChannelDemand, RunningWorker, SuperPeerSlot};
use crate::store::{NewDecision, NewSuperPeer, Store, StoreError, SuperPeerRecord};
use crate::superpeer::{encode_channel, SeedRequest, SuperPeerClient, WorkerOp, WorkerStats};
use crate::tracker::{self, ChannelRank};
use crate::traffic::TrafficMeter;

const AUTO_SEEDING_KEY: &str = "auto_seeding";

/// What the console last learnt about a super peer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// `running` (answered `/ping`), `stopped` (did not) or `unknown` (not checked yet).
    pub status: &'static str,
    pub error: Option<String>,
    /// Workers the super peer can run (`capacity.workers` of its `/stats`; `None` when it
    /// does not say, and then the planner goes by bandwidth).
    pub workers_limit: Option<u32>,
    /// Workers running, as its `/ping` answered.
    pub workers_running: Option<u32>,
    pub workers: Vec<WorkerStats>,
    /// Why `/stats` failed while `/ping` worked.
    pub stats_error: Option<String>,
    /// Unix seconds of the check.
    pub checked_at: i64,
}

/// What the console remembers of one tracker between polls.
#[derive(Debug, Default)]
struct NodeHistory {
    /// Its messages counter and when it was read.
    messages: Option<(u64, std::time::Instant)>,
    /// The cluster it last said it belongs to.
    cluster: Option<String>,
}

/// The last tracker poll.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RankingSnapshot {
    pub channels: Vec<ChannelRank>,
    pub polled_at: i64,
    /// One message per tracker that failed (and whose cluster no other node answered for:
    /// the ranking lacks its swarms).
    pub errors: Vec<String>,
    /// Nodes of a cluster that failed while another node answered for the cluster.
    pub node_errors: Vec<String>,
    /// Every tracker node that answered, with its own load.
    pub nodes: Vec<NodeLoad>,
}

/// One tracker's own load, for the dashboard.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeLoad {
    pub url: String,
    /// Cluster and node id; `None` for a tracker of its own.
    pub cluster: Option<String>,
    pub node: Option<String>,
    /// Whether a cluster node reaches Redis.
    pub connected: Option<bool>,
    /// Peers connected to this node (for a tracker of its own: all its peers).
    pub peers: u64,
    pub connections: Option<u64>,
    /// Client messages per second since the previous poll.
    pub messages_per_s: Option<f64>,
}

/// An executed (or attempted) plan step.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub action: Action,
    pub ok: bool,
    pub error: Option<String>,
}

pub struct Console {
    pub store: Store,
    pub config: ConsoleConfig,
    client: SuperPeerClient,
    /// For the operator's trackers.
    http: reqwest::Client,
    /// For channel manifests, held to `origin_hosts`; `None` when no host is listed.
    manifests: Option<outbound::GuardedClient>,
    health: RwLock<HashMap<i64, Health>>,
    ranking: RwLock<RankingSnapshot>,
    /// The QoE control-group figures, polled with the ranking.
    qoe: RwLock<crate::qoe::QoeSnapshot>,
    meter: Mutex<TrafficMeter>,
    /// Per tracker URL: its messages counter at the last poll, its cluster id.
    node_history: Mutex<HashMap<String, NodeHistory>>,
    auto: AtomicBool,
    /// One seeding round at a time (timer and "plan now" button).
    round: tokio::sync::Mutex<()>,
    /// Channels unplaced in the previous round: logged again only when that changes.
    unplaced: Mutex<HashSet<String>>,
    /// The listed channels as last read.
    listed: RwLock<Listed>,
}

/// Listed channels as last read, and when.
#[derive(Debug, Default)]
struct Listed {
    channels: Vec<ListedChannel>,
    read_at: Option<std::time::Instant>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("no super peer with id {0}")]
    NotFound(i64),
    #[error("no listed channel with id {0}")]
    NotListed(i64),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("super peer error: {0}")]
    Upstream(String),
    #[error("{0}")]
    Forbidden(String),
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Checks a super peer URL: http(s), a host, no query.
pub fn validate_url(url: &str) -> Result<String, String> {
    let trimmed = url
        .trim_start()
        .trim_end_matches(|c: char| c == '/' || c.is_whitespace());
    // The URL parser drops these silently; the stored URL would keep them.
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "URL `{url}` must not contain spaces or control characters"
        ));
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| format!("invalid URL `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "URL `{url}` must be http:// or https:// with a host"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("URL `{url}` must not have a query or fragment"));
    }
    Ok(trimmed.to_owned())
}

impl Console {
    pub fn new(config: ConsoleConfig) -> anyhow::Result<Arc<Console>> {
        let store = Store::open(config.database.as_deref())?;
        let http = crate::http::builder(config.request_timeout).build()?;
        let super_peers = config
            .super_peer_policy(resolve_now)
            .map_err(anyhow::Error::msg)?;
        let origins = config
            .origin_policy(resolve_now)
            .map_err(anyhow::Error::msg)?;
        let manifests = if origins.is_empty() {
            None
        } else {
            Some(crate::http::guarded(config.request_timeout, origins)?)
        };
        let auto = match config.auto_seeding {
            Some(on) => {
                store.set_setting(AUTO_SEEDING_KEY, bool_str(on))?;
                on
            }
            None => store.setting(AUTO_SEEDING_KEY)?.as_deref() != Some("false"),
        };
        for (kind, url) in &config.listed {
            let url = crate::listed::validate_url(url).map_err(anyhow::Error::msg)?;
            store.insert_listed(*kind, &url, now_unix())?;
        }
        for sp in &config.super_peers {
            let url = validate_url(&sp.url).map_err(anyhow::Error::msg)?;
            let sp = NewSuperPeer { url, ..sp.clone() };
            match store.super_peer_by_url(&sp.url)? {
                Some(rec) => {
                    let patch = crate::store::SuperPeerPatch {
                        url: None,
                        bandwidth_mbps: Some(sp.bandwidth_mbps),
                        access_token: Some(sp.access_token.clone()),
                        label: Some(sp.label.clone()),
                    };
                    store.update_super_peer(rec.id, &patch)?;
                }
                None => {
                    store.insert_super_peer(&sp, now_unix())?;
                }
            }
        }
        Ok(Arc::new(Console {
            store,
            client: SuperPeerClient::new(crate::http::guarded(
                config.request_timeout,
                super_peers,
            )?),
            http,
            manifests,
            config,
            health: RwLock::new(HashMap::new()),
            ranking: RwLock::new(RankingSnapshot::default()),
            qoe: RwLock::new(crate::qoe::QoeSnapshot::default()),
            meter: Mutex::new(TrafficMeter::default()),
            node_history: Mutex::new(HashMap::new()),
            auto: AtomicBool::new(auto),
            round: tokio::sync::Mutex::new(()),
            unplaced: Mutex::new(HashSet::new()),
            listed: RwLock::new(Listed::default()),
        }))
    }

    // ---- registry ----

    /// Whether a super peer may be registered at `url` (already validated): its host must
    /// match the super-peer hosts, and every address its name has now must be allowed.
    pub async fn check_super_peer_url(&self, url: &str) -> Result<(), OpError> {
        check_url(self.client.policy(), url).await
    }

    /// Whether a channel or index at `url` (already validated) may be listed: the same
    /// checks against the origin hosts, which its manifests are read from.
    pub async fn check_manifest_url(&self, url: &str) -> Result<(), OpError> {
        match &self.manifests {
            Some(http) => check_url(http.policy(), url).await,
            None => Err(OpError::Forbidden(format!(
                "{}: manifests are read only from the hosts of --origin-host, and none is \
                 set: start the console with --origin-host and your streams' hosts",
                wire::redact::url(url)
            ))),
        }
    }

    pub fn health_of(&self, id: i64) -> Health {
        read(&self.health).get(&id).cloned().unwrap_or(Health {
            status: "unknown",
            ..Health::default()
        })
    }

    pub fn forget_health(&self, id: i64) {
        write(&self.health).remove(&id);
    }

    pub fn super_peer(&self, id: i64) -> Result<SuperPeerRecord, OpError> {
        self.store.super_peer(id)?.ok_or(OpError::NotFound(id))
    }

    /// Pings `sp` (sending its bandwidth) and, when it answers, reads its workers.
    pub async fn check(&self, sp: &SuperPeerRecord) -> Health {
        let health = match self.client.ping(sp).await {
            Err(e) => Health {
                status: "stopped",
                error: Some(e),
                checked_at: now_unix(),
                ..Health::default()
            },
            Ok(running) => {
                let (report, stats_error) = match self.client.stats(sp).await {
                    Ok(r) => (r, None),
                    Err(e) => (Default::default(), Some(e)),
                };
                Health {
                    status: "running",
                    error: None,
                    workers_limit: report.capacity_workers,
                    workers_running: Some(running),
                    workers: report.workers,
                    stats_error,
                    checked_at: now_unix(),
                }
            }
        };
        let previous = write(&self.health).insert(sp.id, health.clone());
        if previous.as_ref().map(|h| h.status) != Some(health.status) {
            match &health.error {
                Some(e) => tracing::warn!(super_peer = %sp.url, error = %e, "super peer stopped"),
                None => tracing::info!(super_peer = %sp.url, "super peer running"),
            }
        }
        health
    }

    pub async fn check_all(self: &Arc<Self>) {
        let Ok(peers) = self.store.list_super_peers() else {
            return;
        };
        let mut set = tokio::task::JoinSet::new();
        for sp in peers {
            let this = Arc::clone(self);
            set.spawn(async move {
                this.check(&sp).await;
            });
        }
        while set.join_next().await.is_some() {}
        // Drop health of super peers removed meanwhile.
        if let Ok(ids) = self.store.list_super_peers() {
            let ids: HashSet<i64> = ids.iter().map(|s| s.id).collect();
            write(&self.health).retain(|id, _| ids.contains(id));
        }
    }

    // ---- tracker and traffic ----

    pub fn ranking(&self) -> RankingSnapshot {
        read(&self.ranking).clone()
    }

    // ---- listed channels ----

    /// The listed channels, read again when older than the refresh interval.
    pub async fn listed_channels(&self) -> Vec<ListedChannel> {
        let fresh = read(&self.listed)
            .read_at
            .is_some_and(|t| t.elapsed() < self.config.listed_refresh);
        if !fresh {
            self.read_listed().await;
        }
        read(&self.listed).channels.clone()
    }

    /// Reads every listed manifest and index now.
    pub async fn read_listed(&self) {
        let sources: Vec<(Kind, String)> = match self.store.listed() {
            Ok(rows) => rows.into_iter().map(|r| (r.kind, r.url)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the channel list");
                return;
            }
        };
        let channels = crate::listed::resolve(self.manifests.as_ref(), &sources).await;
        for c in channels.iter().filter(|c| c.error.is_some()) {
            let url = wire::redact::url(&c.url);
            tracing::debug!(%url, error = ?c.error, "listed channel not matched");
        }
        *write(&self.listed) = Listed {
            channels,
            read_at: Some(std::time::Instant::now()),
        };
    }

    /// The URL a super peer fetches for a listed channel whose id alone does not do.
    fn seed_url(&self, channel: &str) -> Option<String> {
        read(&self.listed)
            .channels
            .iter()
            .find(|c| c.channel == channel)
            .and_then(ListedChannel::seed_url)
            .map(str::to_owned)
    }

    /// Polls every tracker, keeps the merged ranking and books the traffic history.
    pub async fn poll_trackers(&self) -> RankingSnapshot {
        let mut polls: Vec<Option<Vec<ChannelRank>>> = Vec::new();
        // Per tracker: `None` if it failed, else its node info and its peers in all swarms.
        let mut answers: Vec<Option<(Option<tracker::NodeInfo>, u64)>> = Vec::new();
        let mut failures: Vec<(usize, String)> = Vec::new();
        let workers = self.workers_per_channel();
        let listed = self.listed_channels().await;
        for (i, t) in self.config.trackers.iter().enumerate() {
            match tracker::poll(&self.http, t).await {
                Ok(mut polled) => {
                    crate::listed::attribute(&mut polled.swarms, &listed);
                    let mut r = tracker::rank_channels(&polled.swarms);
                    tracker::discount_workers(&mut r, &workers);
                    polls.push(Some(r));
                    let peers = polled.swarms.iter().map(|s| u64::from(s.peers)).sum();
                    answers.push(Some((polled.node, peers)));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "tracker poll failed");
                    failures.push((i, e));
                    polls.push(None);
                    answers.push(None);
                }
            }
        }
        let clusters: Vec<Option<Option<&str>>> = answers
            .iter()
            .map(|a| {
                a.as_ref()
                    .map(|(n, _)| n.as_ref().map(|n| n.cluster.as_str()))
            })
            .collect();
        // Nodes of one cluster list the same swarms: only one of them counts.
        for (poll, counts) in polls.iter_mut().zip(tracker::counted(&clusters)) {
            if !counts {
                *poll = None;
            }
        }
        // Nodes of one cluster also share their stats reports, so each holds the cluster's QoE:
        // it is read from the trackers that counted.
        let qoe_from: Vec<String> = self
            .config
            .trackers
            .iter()
            .zip(&polls)
            .filter(|(_, poll)| poll.is_some())
            .map(|(url, _)| url.clone())
            .collect();
        let (nodes, errors, node_errors) = self.node_loads(&answers, failures);
        let ok: Vec<Vec<ChannelRank>> = polls.iter().flatten().cloned().collect();
        let now = now_unix();
        let snapshot = RankingSnapshot {
            channels: tracker::merge_rankings(&ok),
            polled_at: now,
            errors,
            node_errors,
            nodes,
        };
        if polls.iter().any(Option::is_some) {
            let refs: Vec<Option<&[ChannelRank]>> = polls.iter().map(|p| p.as_deref()).collect();
            let points = lock(&self.meter).points(&refs, self.config.max_traffic_channels);
            if let Err(e) = self
                .store
                .record_traffic(now, &points, &self.config.resolutions)
            {
                tracing::warn!(error = %e, "cannot record traffic");
            }
        }
        *write(&self.ranking) = snapshot.clone();
        let qoe = crate::qoe::poll_all(&self.http, &qoe_from, now).await;
        *write(&self.qoe) = qoe;
        snapshot
    }

    /// Each answering tracker's load (messages/s from the previous poll), and the failures
    /// split: a failed node whose cluster another node answered for does not make the
    /// ranking partial.
    fn node_loads(
        &self,
        answers: &[Option<(Option<tracker::NodeInfo>, u64)>],
        failures: Vec<(usize, String)>,
    ) -> (Vec<NodeLoad>, Vec<String>, Vec<String>) {
        let now = std::time::Instant::now();
        let mut history = lock(&self.node_history);
        let mut nodes = Vec::new();
        for (url, answer) in self.config.trackers.iter().zip(answers) {
            let Some((answer, all_peers)) = answer else {
                continue;
            };
            let entry = history.entry(url.clone()).or_default();
            let load = match answer {
                Some(n) => {
                    let rate = entry.messages.and_then(|(count, at)| {
                        let secs = now.saturating_duration_since(at).as_secs_f64();
                        (secs > 0.0 && n.messages_in >= count)
                            .then(|| (n.messages_in - count) as f64 / secs)
                    });
                    entry.messages = Some((n.messages_in, now));
                    entry.cluster = Some(n.cluster.clone());
                    NodeLoad {
                        url: url.clone(),
                        cluster: Some(n.cluster.clone()),
                        node: Some(n.node.clone()),
                        connected: Some(n.connected),
                        peers: n.local_peers,
                        connections: Some(n.connections),
                        messages_per_s: rate,
                    }
                }
                None => {
                    entry.cluster = None;
                    NodeLoad {
                        url: url.clone(),
                        peers: *all_peers,
                        ..NodeLoad::default()
                    }
                }
            };
            nodes.push(load);
        }
        let answered: Vec<&str> = nodes.iter().filter_map(|n| n.cluster.as_deref()).collect();
        let (mut errors, mut node_errors) = (Vec::new(), Vec::new());
        for (i, e) in failures {
            let covered = history
                .get(&self.config.trackers[i])
                .and_then(|h| h.cluster.as_deref())
                .is_some_and(|c| answered.contains(&c));
            if covered {
                node_errors.push(e);
            } else {
                errors.push(e);
            }
        }
        (nodes, errors, node_errors)
    }

    /// The last QoE poll: both groups of each channel.
    pub fn qoe(&self) -> crate::qoe::QoeSnapshot {
        read(&self.qoe).clone()
    }

    /// Workers per channel on all super peers, as last checked (stopping ones excluded).
    fn workers_per_channel(&self) -> HashMap<String, u32> {
        let mut out: HashMap<String, u32> = HashMap::new();
        for h in read(&self.health).values() {
            for w in h.workers.iter().filter(|w| w.state != "stopping") {
                *out.entry(w.channel.clone()).or_default() += 1;
            }
        }
        out
    }

    // ---- seeding ----

    pub fn auto_seeding(&self) -> bool {
        self.auto.load(Ordering::Relaxed)
    }

    pub fn set_auto_seeding(&self, on: bool) -> Result<(), OpError> {
        self.store.set_setting(AUTO_SEEDING_KEY, bool_str(on))?;
        let was = self.auto.swap(on, Ordering::Relaxed);
        if was != on {
            self.log(NewDecision {
                action: "mode".into(),
                by: "operator".into(),
                reason: if on {
                    "automatic seeding turned on".into()
                } else {
                    "automatic seeding turned off: channels are seeded and stopped by hand".into()
                },
                ok: true,
                ..NewDecision::default()
            });
        }
        Ok(())
    }

    /// One planning round: fresh ranking and worker lists, plan, execute, log. Does nothing
    /// (and returns `None`) when automatic seeding is off.
    pub async fn seeding_round(self: &Arc<Self>) -> Option<Vec<Outcome>> {
        if !self.auto_seeding() {
            return None;
        }
        let _guard = self.round.lock().await;
        let ranking = self.poll_trackers().await;
        self.check_all().await;
        if !self.auto_seeding() {
            return None;
        }
        let Ok(records) = self.store.list_super_peers() else {
            return Some(Vec::new());
        };
        if !ranking.errors.is_empty() {
            // A partial ranking would stop the workers of channels the missing tracker knows.
            tracing::warn!(errors = ?ranking.errors, "a tracker did not answer; seeding round skipped");
            return Some(Vec::new());
        }
        let demand: Vec<ChannelDemand> = ranking
            .channels
            .iter()
            .filter(|c| c.seedable)
            .map(|c| ChannelDemand {
                channel: c.channel.clone(),
                peers: c.peers,
                swarms: u32::try_from(c.info_hashes.len()).unwrap_or(u32::MAX),
            })
            .collect();
        let mut slots = Vec::new();
        let mut workers = Vec::new();
        for sp in &records {
            let h = self.health_of(sp.id);
            // A peer whose /stats failed is treated as unreachable: its workers are unknown.
            let usable = h.status == "running" && h.stats_error.is_none();
            slots.push(SuperPeerSlot {
                id: sp.id,
                label: sp.label.clone(),
                bandwidth_mbps: sp.bandwidth_mbps,
                // The planner reads 0 as "not said" and goes by bandwidth; a super peer that
                // says it has no room (e.g. forced to 0 workers) gets nothing new, and its
                // workers, if any, are left to it.
                workers_limit: match h.workers_limit {
                    _ if !usable => None,
                    Some(0) => None,
                    said => Some(said.unwrap_or(0)),
                },
            });
            if usable {
                // A stopping worker is on its way out: neither seeding nor to be stopped again.
                workers.extend(h.workers.iter().filter(|w| w.state != "stopping").map(|w| {
                    RunningWorker {
                        super_peer_id: sp.id,
                        pid: w.pid,
                        channel: w.channel.clone(),
                        peers: w.peers,
                        max_connections: w.max_connections,
                    }
                }));
            }
        }
        let actions = planner::plan(&self.config.planner, &demand, &slots, &workers);
        let by_id: HashMap<i64, &SuperPeerRecord> = records.iter().map(|r| (r.id, r)).collect();
        let mut outcomes = Vec::new();
        let mut touched = HashSet::new();
        let mut unplaced_now = HashSet::new();
        for action in actions {
            // Why the seed is live or VOD, for the log.
            let mut note = None;
            let result = match &action {
                Action::Seed {
                    super_peer_id,
                    channel,
                    ..
                } => {
                    touched.insert(*super_peer_id);
                    let sp = by_id[super_peer_id];
                    let (live, why) = self.decide_live(channel, None).await;
                    note = Some(why);
                    let req = self.seed_request(channel, live, None);
                    self.client.seed(sp, &[req]).await.map(|_| ())
                }
                Action::Stop {
                    super_peer_id, pid, ..
                } => {
                    touched.insert(*super_peer_id);
                    let sp = by_id[super_peer_id];
                    self.client.control(sp, WorkerOp::Stop, Some(*pid)).await
                }
                Action::Unplaced { channel, .. } => {
                    unplaced_now.insert(channel.clone());
                    Ok(())
                }
            };
            let (ok, error) = match result {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e)),
            };
            let log_it = match &action {
                Action::Unplaced { channel, .. } => !lock(&self.unplaced).contains(channel),
                _ => true,
            };
            if log_it {
                self.log_action(&action, note.as_deref(), &by_id, ok, error.clone());
            }
            outcomes.push(Outcome { action, ok, error });
        }
        *lock(&self.unplaced) = unplaced_now;
        for id in touched {
            if let Some(sp) = by_id.get(&id) {
                self.check(sp).await;
            }
        }
        Some(outcomes)
    }

    /// `live` for a seed of `channel`: as asked, else from its manifest (see
    /// [`crate::manifest`]), else the configured default; with the words for the log.
    async fn decide_live(&self, channel: &str, asked: Option<bool>) -> (bool, String) {
        crate::manifest::decide_live(
            self.manifests.as_ref(),
            channel,
            asked,
            self.config.seed.live,
        )
        .await
    }

    fn seed_request(&self, channel: &str, live: bool, label: Option<&str>) -> SeedRequest {
        let d = &self.config.seed;
        let (signal1, signal2) = self.config.signal_urls();
        SeedRequest {
            token: d.token.clone(),
            channel: encode_channel(channel),
            tracker_zone: d.tracker_zone.clone(),
            live,
            signal1,
            signal2,
            priority: d.priority,
            keep_alive: d.keep_alive,
            no_use_disk_cache: d.no_use_disk_cache,
            max_connections: d.max_connections,
            label: label.unwrap_or(&d.label).to_owned(),
            url: self.seed_url(channel),
        }
    }

    fn log_action(
        &self,
        action: &Action,
        note: Option<&str>,
        by_id: &HashMap<i64, &SuperPeerRecord>,
        ok: bool,
        error: Option<String>,
    ) {
        let (name, sp, pid) = match action {
            Action::Seed { super_peer_id, .. } => ("seed", Some(*super_peer_id), None),
            Action::Stop {
                super_peer_id, pid, ..
            } => ("stop", Some(*super_peer_id), Some(*pid)),
            Action::Unplaced { .. } => ("unplaced", None, None),
        };
        tracing::info!(action = name, channel = action.channel(), reason = action.reason(), ok, error = ?error, "seeding decision");
        self.log(NewDecision {
            action: name.into(),
            channel: Some(action.channel().to_owned()),
            super_peer_id: sp,
            super_peer_label: sp.and_then(|id| by_id.get(&id)).map(|r| label_of(r)),
            pid,
            by: "auto".into(),
            reason: match note {
                Some(note) => format!("{}; {note}", action.reason()),
                None => action.reason().to_owned(),
            },
            ok,
            error,
            ..NewDecision::default()
        });
    }

    fn log(&self, mut d: NewDecision) {
        d.ts = now_unix();
        if let Err(e) = self.store.log_decision(&d, self.config.max_decisions) {
            tracing::warn!(error = %e, "cannot log decision");
        }
    }

    // ---- operator commands ----

    /// Seeds `channel` on super peer `id` by hand.
    pub async fn manual_seed(
        &self,
        id: i64,
        channel: &str,
        live: Option<bool>,
        label: Option<&str>,
    ) -> Result<(), OpError> {
        let channel = channel.trim();
        if channel.is_empty() || channel.len() > 2048 {
            return Err(OpError::BadInput(
                "channel must be 1 to 2048 characters (by default the manifest URL without query)"
                    .into(),
            ));
        }
        let sp = self.super_peer(id)?;
        let (live, why) = self.decide_live(channel, live).await;
        let req = self.seed_request(channel, live, Some(label.unwrap_or("manual")));
        let result = self.client.seed(&sp, &[req]).await.map(|_| ());
        self.log(NewDecision {
            action: "seed".into(),
            channel: Some(channel.to_owned()),
            super_peer_id: Some(id),
            super_peer_label: Some(label_of(&sp)),
            by: "operator".into(),
            reason: format!("seeded by hand; {why}"),
            ok: result.is_ok(),
            error: result.as_ref().err().cloned(),
            ..NewDecision::default()
        });
        self.check(&sp).await;
        result.map_err(OpError::Upstream)
    }

    /// Stops or restarts one worker (`pid`) or all of them on super peer `id`.
    pub async fn control(&self, id: i64, op: WorkerOp, pid: Option<u32>) -> Result<(), OpError> {
        let sp = self.super_peer(id)?;
        let channel = pid.and_then(|pid| {
            self.health_of(id)
                .workers
                .iter()
                .find(|w| w.pid == pid)
                .map(|w| w.channel.clone())
        });
        let result = self.client.control(&sp, op, pid).await;
        let action = match (op, pid) {
            (WorkerOp::Stop, Some(_)) => "stop",
            (WorkerOp::Restart, Some(_)) => "restart",
            (WorkerOp::Stop, None) => "stop_all",
            (WorkerOp::Restart, None) => "restart_all",
        };
        self.log(NewDecision {
            action: action.into(),
            channel,
            super_peer_id: Some(id),
            super_peer_label: Some(label_of(&sp)),
            pid,
            by: "operator".into(),
            reason: "by hand from the console".into(),
            ok: result.is_ok(),
            error: result.as_ref().err().cloned(),
            ..NewDecision::default()
        });
        self.check(&sp).await;
        result.map_err(OpError::Upstream)
    }
}

/// The addresses `name` has now (blocking: used once at start).
/// `url`'s host must match `policy`, and every address its name has now must be allowed.
async fn check_url(policy: &outbound::Policy, url: &str) -> Result<(), OpError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| OpError::BadInput(e.to_string()))?;
    policy
        .check_url(&parsed)
        .map_err(|r| OpError::Forbidden(r.to_string()))?;
    if let Some(url::Host::Domain(name)) = parsed.host() {
        match outbound::resolve(policy, name, 0).await {
            Err(outbound::ResolveError::Refused(r)) => {
                return Err(OpError::Forbidden(r.to_string()))
            }
            // A name that does not resolve now shows its lookup error when it is used.
            Err(outbound::ResolveError::Lookup { .. }) | Ok(_) => {}
        }
    }
    Ok(())
}

fn resolve_now(name: &str) -> Vec<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    (name, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

fn label_of(sp: &SuperPeerRecord) -> String {
    if sp.label.is_empty() {
        sp.url.clone()
    } else {
        sp.label.clone()
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

// Locks: a panic elsewhere must not take the console down with poisoned locks; the data
// behind them is always left consistent (plain replacements).
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(validate_url(" http://a:1/ ").unwrap(), "http://a:1");
        assert!(validate_url("ftp://a").is_err());
        assert!(validate_url("http://a/?x=1").is_err());
        assert!(validate_url("nonsense").is_err());
        // Found by fuzzing: slashes and spaces mixed at the end left spaces in the stored URL,
        // which the URL parser ignored.
        assert_eq!(
            validate_url(" http://o/x.m3u8   / /").unwrap(),
            "http://o/x.m3u8"
        );
        assert!(validate_url("http://o/x\t.m3u8").is_err());
        assert!(validate_url("\0http://o/x").is_err());
    }
}
