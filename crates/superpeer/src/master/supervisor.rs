//! The master's state and the worker processes: spawning, the JSON-lines pipes, exits,
//! restarts, reaping and capacity reconciliation. Decisions come from [`super::plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::plan::{allocate, should_reap, Backoff, ChannelDemand, IdleClock, Slots};
use super::procstat::CpuMeter;
use super::validate::SeedSpec;
use crate::config::MasterConfig;
use crate::protocol::{MasterCommand, WorkerCounters, WorkerEvent, WorkerSpec};

/// How long a stopped worker gets to exit after its stdin closed before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub(crate) enum SupEvent {
    Report { pid: u32, event: WorkerEvent },
    Exited { pid: u32, status: String },
}

/// What happens once a worker we stopped has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    Forget,
    Restart,
}

pub(crate) struct Channel {
    pub spec: SeedSpec,
    order: u64,
    backoff: Backoff,
    /// Restarts waiting for their backoff delay: (due, restart count of the new worker).
    pending: Vec<(Instant, u32)>,
}

pub(crate) struct Worker {
    pub pid: u32,
    pub channel_id: String,
    pub started: Instant,
    pub restarts: u32,
    pub udp_port: u16,
    pub ready: Option<(u16, String)>,
    pub counters: WorkerCounters,
    pub cpu: CpuMeter,
    idle: IdleClock,
    commands: Option<mpsc::UnboundedSender<String>>,
    stop: Option<oneshot::Sender<()>>,
    stopping: Option<AfterStop>,
}

impl Worker {
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub channels: BTreeMap<String, Channel>,
    pub workers: BTreeMap<u32, Worker>,
    pub bandwidth_mbps: Option<f64>,
    pub forced_workers: Option<u32>,
    next_order: u64,
    used_ports: BTreeSet<u16>,
    pub shutting_down: bool,
}

pub(crate) struct Supervisor {
    pub config: MasterConfig,
    pub state: Mutex<State>,
    events: mpsc::UnboundedSender<SupEvent>,
    worker_exe: PathBuf,
}

/// Result of starting or updating one channel, for the `POST /seed` answer.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedOutcome {
    pub channel: String,
    pub action: &'static str,
    pub pids: Vec<u32>,
    pub queued: bool,
}

impl Supervisor {
    pub fn new(
        config: MasterConfig,
    ) -> anyhow::Result<(Arc<Self>, mpsc::UnboundedReceiver<SupEvent>)> {
        let worker_exe = match &config.worker_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let (events, rx) = mpsc::unbounded_channel();
        let state = State {
            bandwidth_mbps: config.bandwidth_mbps,
            ..State::default()
        };
        Ok((
            Arc::new(Self {
                config,
                state: Mutex::new(state),
                events,
                worker_exe,
            }),
            rx,
        ))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Worker slots now: a count forced by `POST /ping {workers}` (exactly that many), else
    /// what the configuration and `bandwidth` allow; never more than the UDP ports.
    pub fn slots(&self, state: &State) -> Slots {
        let ports = self
            .config
            .udp_ports
            .as_ref()
            .map_or(u32::MAX, |r| u32::from(r.end() - r.start()) + 1);
        match state.forced_workers {
            Some(forced) => Slots::Forced(forced.min(ports)),
            None => Slots::UpTo(
                self.config
                    .capacity_workers(state.bandwidth_mbps)
                    .min(ports),
            ),
        }
    }

    /// Applies a validated `POST /seed` list: new channels start, known ones are updated
    /// (restarted when what they fetch or where they announce changed).
    pub fn seed(&self, specs: Vec<SeedSpec>) -> Vec<SeedOutcome> {
        let mut st = self.lock();
        let mut actions = Vec::new();
        for spec in specs {
            let id = spec.channel_id.clone();
            let action = match st.channels.get_mut(&id) {
                None => {
                    let order = st.next_order;
                    st.next_order += 1;
                    st.channels.insert(
                        id.clone(),
                        Channel {
                            spec,
                            order,
                            backoff: Backoff::new(
                                self.config.restart_backoff_min,
                                self.config.restart_backoff_max,
                            ),
                            pending: Vec::new(),
                        },
                    );
                    "started"
                }
                Some(channel) => {
                    let restart = needs_restart(&channel.spec, &spec);
                    channel.spec = spec.clone();
                    let pids: Vec<u32> = st
                        .workers
                        .values()
                        .filter(|w| w.channel_id == id && !w.is_stopping())
                        .map(|w| w.pid)
                        .collect();
                    for pid in pids {
                        if restart {
                            stop_worker(&mut st, pid, AfterStop::Restart);
                        } else if let Some(w) = st.workers.get(&pid) {
                            send_command(
                                w,
                                &MasterCommand::Update {
                                    seed: Box::new(spec.clone()),
                                },
                            );
                        }
                    }
                    if restart {
                        "restarted"
                    } else {
                        "updated"
                    }
                }
            };
            actions.push((id, action));
        }
        self.reconcile(&mut st, Instant::now());
        actions
            .into_iter()
            .map(|(id, action)| {
                let pids = live_pids(&st, &id);
                SeedOutcome {
                    channel: st.channels[&id].spec.channel.clone(),
                    action,
                    queued: pids.is_empty()
                        && st.channels[&id].pending.is_empty()
                        && restarting(&st, &id) == 0,
                    pids,
                }
            })
            .collect()
    }

    /// `POST /stop/:pid`; false when no such worker. The channel stops being seeded when
    /// this was its last worker.
    pub fn stop(&self, pid: u32) -> bool {
        let mut st = self.lock();
        let Some(w) = st.workers.get(&pid).filter(|w| !w.is_stopping()) else {
            return false;
        };
        let id = w.channel_id.clone();
        stop_worker(&mut st, pid, AfterStop::Forget);
        if live_pids(&st, &id).is_empty() {
            st.channels.remove(&id);
        }
        true
    }

    pub fn stop_all(&self) -> usize {
        let mut st = self.lock();
        st.channels.clear();
        let pids: Vec<u32> = st.workers.keys().copied().collect();
        let n = pids.iter().filter(|p| !st.workers[p].is_stopping()).count();
        for pid in pids {
            stop_worker(&mut st, pid, AfterStop::Forget);
        }
        n
    }

    /// `POST /restart/:pid`; false when no such worker.
    pub fn restart(&self, pid: u32) -> bool {
        let mut st = self.lock();
        if st.workers.get(&pid).is_none_or(|w| w.is_stopping()) {
            return false;
        }
        stop_worker(&mut st, pid, AfterStop::Restart);
        true
    }

    pub fn restart_all(&self) -> usize {
        let mut st = self.lock();
        let pids: Vec<u32> = st
            .workers
            .values()
            .filter(|w| !w.is_stopping())
            .map(|w| w.pid)
            .collect();
        for &pid in &pids {
            stop_worker(&mut st, pid, AfterStop::Restart);
        }
        pids.len()
    }

    /// `POST /ping`: records bandwidth / forced worker count, rebalances, returns the number
    /// of live workers.
    pub fn ping(&self, bandwidth_mbps: Option<f64>, workers: Option<u32>) -> usize {
        let mut st = self.lock();
        if let Some(b) = bandwidth_mbps {
            st.bandwidth_mbps = Some(b);
        }
        if let Some(n) = workers {
            st.forced_workers = Some(n);
        }
        if bandwidth_mbps.is_some() || workers.is_some() {
            self.reconcile(&mut st, Instant::now());
        }
        st.workers.values().filter(|w| !w.is_stopping()).count()
    }

    /// Handles one event from a worker's pipe or exit watcher.
    pub fn handle(&self, event: SupEvent) {
        let now = Instant::now();
        let mut st = self.lock();
        match event {
            SupEvent::Report { pid, event } => {
                let Some(w) = st.workers.get_mut(&pid) else {
                    return;
                };
                match event {
                    WorkerEvent::Ready { udp_port, peer_id } => {
                        tracing::info!(pid, udp_port, %peer_id, "worker ready");
                        w.ready = Some((udp_port, peer_id));
                    }
                    WorkerEvent::Stats(c) => {
                        w.idle.observe(now, c.peers, c.swarm_peers);
                        w.counters = c;
                    }
                }
            }
            SupEvent::Exited { pid, status } => {
                let Some(w) = st.workers.remove(&pid) else {
                    return;
                };
                st.used_ports.remove(&w.udp_port);
                let uptime = now.saturating_duration_since(w.started);
                let shutting_down = st.shutting_down;
                let Some(channel) = st.channels.get_mut(&w.channel_id) else {
                    tracing::info!(pid, %status, "worker exited");
                    return;
                };
                match w.stopping {
                    Some(AfterStop::Forget) => tracing::info!(pid, %status, "worker stopped"),
                    Some(AfterStop::Restart) if !shutting_down => {
                        tracing::info!(pid, %status, "worker stopped for restart");
                        channel.pending.push((now, w.restarts + 1));
                    }
                    Some(AfterStop::Restart) => {}
                    None if channel.spec.keep_alive && !shutting_down => {
                        let delay = channel.backoff.next_delay(uptime);
                        tracing::warn!(pid, %status, ?delay, "keepAlive worker died; restarting");
                        channel.pending.push((now + delay, w.restarts + 1));
                    }
                    None => {
                        tracing::warn!(pid, %status, "worker died");
                        let id = w.channel_id.clone();
                        if live_pids(&st, &id).is_empty() {
                            st.channels.remove(&id);
                        }
                    }
                }
                self.reconcile(&mut st, now);
            }
        }
    }

    /// Periodic work: CPU/RSS samples, reaping idle workers, rebalancing.
    pub fn tick(&self) {
        let now = Instant::now();
        let mut st = self.lock();
        for w in st.workers.values_mut() {
            w.cpu.sample(w.pid, now);
        }
        let reap: Vec<u32> = st
            .workers
            .values()
            .filter(|w| !w.is_stopping())
            .filter(|w| {
                let keep_alive = st
                    .channels
                    .get(&w.channel_id)
                    .is_some_and(|c| c.spec.keep_alive);
                let others = live_pids(&st, &w.channel_id).len() as u32 - 1;
                should_reap(
                    keep_alive,
                    others,
                    w.idle.idle_for(now),
                    self.config.reap_after,
                )
            })
            .map(|w| w.pid)
            .collect();
        for pid in reap {
            tracing::info!(pid, "reaping worker of an empty swarm");
            let id = st.workers[&pid].channel_id.clone();
            stop_worker(&mut st, pid, AfterStop::Forget);
            if live_pids(&st, &id).is_empty() {
                st.channels.remove(&id);
            }
        }
        self.reconcile(&mut st, now);
    }

    /// Stops everything for shutdown; returns once all workers exited or `deadline` passed.
    pub async fn shutdown(&self, deadline: Duration) {
        {
            let mut st = self.lock();
            st.shutting_down = true;
        }
        self.stop_all();
        let until = Instant::now() + deadline;
        while Instant::now() < until && !self.lock().workers.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Brings running workers in line with the plan: starts missing ones (due restarts
    /// first), stops the newest of channels over their share.
    fn reconcile(&self, st: &mut State, now: Instant) {
        if st.shutting_down {
            return;
        }
        let demands: Vec<ChannelDemand> = st
            .channels
            .values()
            .map(|c| {
                let id = &c.spec.channel_id;
                let live = live_pids(st, id);
                ChannelDemand {
                    channel_id: id.clone(),
                    priority: c.spec.priority,
                    order: c.order,
                    max_connections: c.spec.max_connections,
                    peers: live.iter().map(|p| st.workers[p].counters.peers).sum(),
                    workers: (live.len() + c.pending.len() + restarting(st, id)) as u32,
                }
            })
            .collect();
        let shares = allocate(&demands, self.slots(st));
        for (id, share) in shares {
            let live = live_pids(st, &id);
            // Workers stopping for a restart hold their place: their exit queues the restart.
            let restarting = restarting(st, &id);
            let Some(channel) = st.channels.get_mut(&id) else {
                continue;
            };
            let share = share as usize;
            // Over its share: drop waiting restarts first, then stop the newest workers.
            while live.len() + channel.pending.len() + restarting > share
                && channel.pending.pop().is_some()
            {}
            let excess = live.len().saturating_sub(share);
            for &pid in live.iter().rev().take(excess) {
                stop_worker(st, pid, AfterStop::Forget);
            }
            let live = live_pids(st, &id);
            let Some(channel) = st.channels.get_mut(&id) else {
                continue;
            };
            // Due restarts keep their restart count; fresh workers start at 0.
            channel.pending.sort_by_key(|p| p.0);
            let due: Vec<(Instant, u32)> = channel
                .pending
                .iter()
                .copied()
                .filter(|p| p.0 <= now)
                .collect();
            channel.pending.retain(|p| p.0 > now);
            let missing =
                share.saturating_sub(live.len() + channel.pending.len() + due.len() + restarting);
            let spec = channel.spec.clone();
            let starts = due
                .into_iter()
                .map(|p| p.1)
                .chain(std::iter::repeat_n(0, missing));
            for restarts in starts {
                if let Err(e) = self.spawn(st, &spec, restarts, now) {
                    tracing::error!(channel = %wire::redact::url(&spec.channel_id), "cannot start worker: {e:#}");
                    if let Some(c) = st.channels.get_mut(&id) {
                        let delay = c.backoff.next_delay(Duration::ZERO);
                        c.pending.push((now + delay, restarts));
                    }
                    break;
                }
            }
        }
    }

    fn spawn(
        &self,
        st: &mut State,
        spec: &SeedSpec,
        restarts: u32,
        now: Instant,
    ) -> anyhow::Result<()> {
        let udp_port = match &self.config.udp_ports {
            None => 0,
            Some(range) => range
                .clone()
                .find(|p| !st.used_ports.contains(p))
                .ok_or_else(|| anyhow::anyhow!("no free UDP port in udpPorts"))?,
        };
        // Only a channel's first worker offers: an extra worker is there for the viewers the
        // full ones refuse, who offer themselves; its own offers would go to viewers the
        // tracker picks, often ones a full worker already serves.
        let first_of_channel = !st
            .workers
            .values()
            .any(|w| w.channel_id == spec.channel_id && !w.is_stopping());
        let worker_spec = WorkerSpec {
            make_offers: first_of_channel,
            seed: spec.clone(),
            master_pid: std::process::id(),
            udp_port,
            public_ip: self.config.public_ip,
            cache_dir: (!spec.no_use_disk_cache).then(|| {
                self.config
                    .cache_dir
                    .join(cache_folder_name(&spec.channel_id))
            }),
            cache_size_mb: self.config.cache_size_mb,
            send_budget_mb: self.config.send_budget_mb,
            viewer_buffer_kb: self.config.viewer_buffer_kb,
            viewer_message_kb: self.config.viewer_message_kb,
            stats_interval_ms: self.config.stats_interval.as_millis() as u64,
            origin_hosts: self.config.origin_hosts.to_list(),
        };
        // Spawned from a runtime thread that lives as long as the master: the worker's
        // parent-death signal fires when the spawning thread ends, not only the process.
        let mut child = Command::new(&self.worker_exe)
            .arg("superpeer-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow::anyhow!("worker exited at once"))?;
        let (commands, mut command_rx) = mpsc::unbounded_channel::<String>();
        commands.send(serde_json::to_string(&worker_spec)?)?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        tokio::spawn(async move {
            while let Some(line) = command_rx.recv().await {
                if stdin
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
            // Dropping stdin closes the pipe: the worker's signal to exit.
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<WorkerEvent>(&line) {
                    Ok(event) => {
                        let _ = events.send(SupEvent::Report { pid, event });
                    }
                    Err(e) => tracing::debug!(pid, "unparsed worker line ({e}): {line}"),
                }
            }
        });
        let (stop, stop_rx) = oneshot::channel();
        tokio::spawn(watch_exit(child, pid, stop_rx, self.events.clone()));
        tracing::info!(
            pid,
            channel = %wire::redact::url(&spec.channel_id),
            restarts,
            udp_port,
            "worker started"
        );
        if udp_port != 0 {
            st.used_ports.insert(udp_port);
        }
        st.workers.insert(
            pid,
            Worker {
                pid,
                channel_id: spec.channel_id.clone(),
                started: now,
                restarts,
                udp_port,
                ready: None,
                counters: WorkerCounters::default(),
                cpu: CpuMeter::default(),
                idle: IdleClock::new(now),
                commands: Some(commands),
                stop: Some(stop),
                stopping: None,
            },
        );
        Ok(())
    }
}

/// Waits for a worker to exit; on a stop request gives it [`STOP_GRACE`] (its stdin is
/// already closed) and then kills it.
async fn watch_exit(
    mut child: Child,
    pid: u32,
    stop: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<SupEvent>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = stop => match tokio::time::timeout(STOP_GRACE, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                let _ = child.start_kill();
                child.wait().await
            }
        },
    };
    let status = status.map_or_else(|e| format!("wait failed: {e}"), |s| s.to_string());
    let _ = events.send(SupEvent::Exited { pid, status });
}

/// Workers of the channel stopping for a restart (not yet exited).
fn restarting(st: &State, channel_id: &str) -> usize {
    st.workers
        .values()
        .filter(|w| w.channel_id == channel_id && matches!(w.stopping, Some(AfterStop::Restart)))
        .count()
}

fn live_pids(st: &State, channel_id: &str) -> Vec<u32> {
    st.workers
        .values()
        .filter(|w| w.channel_id == channel_id && !w.is_stopping())
        .map(|w| w.pid)
        .collect()
}

fn stop_worker(st: &mut State, pid: u32, after: AfterStop) {
    if let Some(w) = st.workers.get_mut(&pid) {
        if w.stopping.is_none() {
            w.stopping = Some(after);
            w.commands = None;
            if let Some(stop) = w.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

fn send_command(w: &Worker, cmd: &MasterCommand) {
    if let (Some(tx), Ok(line)) = (&w.commands, serde_json::to_string(cmd)) {
        let _ = tx.send(line);
    }
}

/// A change to any of these needs a new worker; other fields are updated in place.
fn needs_restart(old: &SeedSpec, new: &SeedSpec) -> bool {
    old.url != new.url
        || old.swarm_base != new.swarm_base
        || old.live != new.live
        || old.signal1 != new.signal1
        || old.signal2 != new.signal2
        || old.token != new.token
        || old.no_use_disk_cache != new.no_use_disk_cache
        || old.piece_length != new.piece_length
}

/// File-system-safe, stable folder name for a channel's disk cache.
pub fn cache_folder_name(channel_id: &str) -> String {
    use base64::Engine as _;
    let hash = wire::swarm_id::info_hash(channel_id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_folder_names_are_stable_and_safe() {
        let a = cache_folder_name("http://o/x.m3u8");
        assert_eq!(a, cache_folder_name("http://o/x.m3u8"));
        assert_ne!(a, cache_folder_name("http://o/y.m3u8"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
