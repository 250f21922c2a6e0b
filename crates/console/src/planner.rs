//! The seeding planner: a pure function from (channel ranking, super peers, running workers)
//! to actions, each with the reason an operator can read in the decision log.
//!
//! The console plans channels per super peer; each super peer's master scales the workers of
//! a channel within that (it adds one when every worker of the channel is at
//! `maxConnections`). So several workers of one channel on one super peer are the master's
//! doing and are never stopped here. A channel spreads to another super peer only when the
//! ones holding it are full: every worker of it at `maxConnections` and no slot left.
//!
//! Rules, in order:
//! 1. A worker whose channel cooled (fewer viewers than `stop_below_viewers`, or gone from
//!    the tracker) is stopped; so is a worker of a channel on a second super peer whose
//!    viewers would fit on the channel's first super peer again.
//! 2. A super peer running more workers than its capacity stops its coldest ones.
//! 3. Channels with at least `min_viewers_to_seed` viewers, hottest first, that no worker
//!    seeds yet go to the reachable super peer with the most free slots.
//! 4. When every slot is taken, a channel with at least `preempt_factor` times the viewers
//!    of the coldest seeded channel takes that channel's slot.
//!
//! Viewers here exclude our own workers: a worker announces in its channel's swarms, so it
//! would otherwise keep its own channel "watched" forever.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Upload a worker is budgeted by default, in Mbps: the super peer's own default (its
/// `workerMbps`), so that both sides count the same slots for the same bandwidth.
pub const DEFAULT_WORKER_MBPS: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlannerConfig {
    /// A channel needs this many viewers to be seeded.
    pub min_viewers_to_seed: u32,
    /// A seeded channel with fewer viewers than this is stopped. Keep it at or below
    /// `min_viewers_to_seed` so a channel does not flap.
    pub stop_below_viewers: u32,
    /// Upload bandwidth one worker is budgeted, in Mbps: a super peer of B Mbps gets at most
    /// `max(1, B / worker_mbps)` workers (and never more than its own `/ping` says).
    pub worker_mbps: u32,
    /// A channel unseeded for lack of room takes the slot of a seeded channel with this many
    /// times fewer viewers (0 turns preemption off).
    pub preempt_factor: u32,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            min_viewers_to_seed: 1,
            stop_below_viewers: 1,
            worker_mbps: DEFAULT_WORKER_MBPS,
            preempt_factor: 2,
        }
    }
}

/// Demand for one seedable channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDemand {
    pub channel: String,
    /// Peers in the channel's swarms (may include our own workers).
    pub peers: u32,
    /// Swarms of the channel (an ABR channel has one per variant).
    pub swarms: u32,
}

/// A registered super peer as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperPeerSlot {
    pub id: i64,
    pub label: String,
    pub bandwidth_mbps: u32,
    /// `None` when unreachable: its workers are unknown and it gets nothing new.
    pub workers_limit: Option<u32>,
}

/// A worker running on a super peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningWorker {
    pub super_peer_id: i64,
    pub pid: u32,
    pub channel: String,
    /// Viewers connected to it, and how many it takes (`maxConnections`; 0 when unknown).
    pub peers: u32,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Seed {
        super_peer_id: i64,
        channel: String,
        viewers: u32,
        reason: String,
    },
    Stop {
        super_peer_id: i64,
        pid: u32,
        channel: String,
        reason: String,
    },
    /// A channel that deserves a worker but gets none this round.
    Unplaced {
        channel: String,
        viewers: u32,
        reason: String,
    },
}

impl Action {
    pub fn channel(&self) -> &str {
        match self {
            Action::Seed { channel, .. }
            | Action::Stop { channel, .. }
            | Action::Unplaced { channel, .. } => channel,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Action::Seed { reason, .. }
            | Action::Stop { reason, .. }
            | Action::Unplaced { reason, .. } => reason,
        }
    }
}

/// The number of workers `sp` may run.
pub fn capacity(cfg: &PlannerConfig, sp: &SuperPeerSlot) -> u32 {
    let Some(limit) = sp.workers_limit else {
        return 0;
    };
    let by_bandwidth = if sp.bandwidth_mbps == 0 || cfg.worker_mbps == 0 {
        u32::MAX
    } else {
        (sp.bandwidth_mbps / cfg.worker_mbps).max(1)
    };
    // A super peer that reports no worker limit (0) is held to its bandwidth, or 1 slot.
    let limit = if limit == 0 { u32::MAX } else { limit };
    match limit.min(by_bandwidth) {
        u32::MAX => 1,
        n => n,
    }
}

/// Viewers per channel, our own workers taken out (one announce per swarm per worker).
pub fn viewers_without_workers(
    demand: &[ChannelDemand],
    workers: &[RunningWorker],
) -> HashMap<String, u32> {
    let mut ours: HashMap<&str, u32> = HashMap::new();
    for w in workers {
        *ours.entry(w.channel.as_str()).or_default() += 1;
    }
    let mut out = HashMap::new();
    for d in demand {
        let own = ours
            .get(d.channel.as_str())
            .copied()
            .unwrap_or(0)
            .saturating_mul(d.swarms.max(1));
        let v = out.entry(d.channel.clone()).or_insert(0u32);
        *v = v.saturating_add(d.peers.saturating_sub(own));
    }
    out
}

#[derive(Debug)]
struct Seeded {
    super_peer_id: i64,
    pid: Option<u32>,
    channel: String,
    viewers: u32,
}

pub fn plan(
    cfg: &PlannerConfig,
    demand: &[ChannelDemand],
    super_peers: &[SuperPeerSlot],
    workers: &[RunningWorker],
) -> Vec<Action> {
    let mut actions = Vec::new();
    let reachable: BTreeMap<i64, &SuperPeerSlot> = super_peers
        .iter()
        .filter(|sp| sp.workers_limit.is_some())
        .map(|sp| (sp.id, sp))
        .collect();
    let label = |id: i64| {
        reachable
            .get(&id)
            .map_or_else(|| format!("#{id}"), |sp| describe_peer(sp))
    };
    let visible: Vec<RunningWorker> = workers
        .iter()
        .filter(|w| reachable.contains_key(&w.super_peer_id))
        .cloned()
        .collect();
    let viewers = viewers_without_workers(demand, &visible);
    let viewers_of = |ch: &str| viewers.get(ch).copied().unwrap_or(0);

    let load = Load::new(cfg, &reachable, &visible);

    // 1. Cooled channels and duplicates.
    let mut kept: Vec<Seeded> = Vec::new();
    let mut sorted_workers = visible.clone();
    sorted_workers.sort_by_key(|w| (w.super_peer_id, w.pid));
    for w in sorted_workers {
        let v = viewers_of(&w.channel);
        let reason = if !viewers.contains_key(&w.channel) {
            Some("cooled: the tracker no longer lists the channel".to_owned())
        } else if v < cfg.stop_below_viewers {
            Some(format!(
                "cooled: {v} viewer{} (stop below {})",
                plural(v),
                cfg.stop_below_viewers
            ))
        } else {
            let home = load.home(&w.channel);
            (home != Some(w.super_peer_id))
                .then_some(home)
                .flatten()
                .filter(|&h| load.room(h, &w.channel) >= u64::from(w.peers))
                .map(|h| {
                    format!(
                        "duplicate: the channel is seeded on {}, which has room for this worker's {} viewer{}",
                        label(h),
                        w.peers,
                        plural(w.peers)
                    )
                })
        };
        match reason {
            Some(reason) => actions.push(Action::Stop {
                super_peer_id: w.super_peer_id,
                pid: w.pid,
                channel: w.channel,
                reason,
            }),
            None => kept.push(Seeded {
                super_peer_id: w.super_peer_id,
                pid: Some(w.pid),
                channel: w.channel,
                viewers: v,
            }),
        }
    }

    // 2. Over capacity: keep the hottest.
    let mut used: BTreeMap<i64, u32> = reachable.keys().map(|id| (*id, 0)).collect();
    kept.sort_by(|a, b| {
        b.viewers
            .cmp(&a.viewers)
            .then_with(|| a.channel.cmp(&b.channel))
    });
    let mut within = Vec::new();
    for k in kept {
        let cap = capacity(cfg, reachable[&k.super_peer_id]);
        let n = used.entry(k.super_peer_id).or_default();
        if *n < cap {
            *n += 1;
            within.push(k);
        } else {
            actions.push(Action::Stop {
                super_peer_id: k.super_peer_id,
                pid: k.pid.unwrap_or(0),
                reason: format!(
                    "over capacity: {} runs at most {cap} worker{} and hotter channels hold them ({} viewer{} here)",
                    label(k.super_peer_id),
                    plural(cap),
                    k.viewers,
                    plural(k.viewers)
                ),
                channel: k.channel,
            });
        }
    }
    let mut seeded = within;

    // 3 and 4. Hottest unseeded channels first.
    let mut wanted: Vec<(&String, u32)> = viewers.iter().map(|(c, v)| (c, *v)).collect();
    wanted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let total = wanted.len();
    for (rank, (channel, v)) in wanted.into_iter().enumerate() {
        if v < cfg.min_viewers_to_seed || v == 0 {
            break;
        }
        let holders: Vec<i64> = load.holders(channel);
        let spills = !holders.is_empty() && holders.iter().all(|&h| load.room(h, channel) == 0);
        if seeded.iter().any(|s| &s.channel == channel) && !spills {
            continue;
        }
        let hot = format!(
            "rank {} of {total} with {v} viewer{} (seed from {})",
            rank + 1,
            plural(v),
            cfg.min_viewers_to_seed
        );
        // The reachable super peer with the most free slots; ties go to more bandwidth. A
        // channel that spills over goes to one that does not hold it yet.
        let best = reachable
            .values()
            .filter(|sp| !holders.contains(&sp.id))
            .map(|sp| {
                let cap = capacity(cfg, sp);
                (sp, cap, cap.saturating_sub(used[&sp.id]))
            })
            .filter(|(_, _, free)| *free > 0)
            .max_by(|a, b| {
                a.2.cmp(&b.2)
                    .then(a.0.bandwidth_mbps.cmp(&b.0.bandwidth_mbps))
                    .then(b.0.id.cmp(&a.0.id))
            });
        if let Some((sp, cap, free)) = best {
            *used.get_mut(&sp.id).expect("reachable peers have a count") += 1;
            let why = if spills {
                format!(
                    "{hot}; it spills over: every worker of it is full and {} ha{} no slot left; {} had the most room: {free} of {cap} slot{} free",
                    holders.iter().map(|&h| label(h)).collect::<Vec<_>>().join(", "),
                    if holders.len() == 1 { "s" } else { "ve" },
                    describe_peer(sp),
                    plural(cap)
                )
            } else {
                format!(
                    "{hot}; {} had the most room: {free} of {cap} slot{} free",
                    describe_peer(sp),
                    plural(cap)
                )
            };
            actions.push(Action::Seed {
                super_peer_id: sp.id,
                channel: channel.clone(),
                viewers: v,
                reason: why,
            });
            seeded.push(Seeded {
                super_peer_id: sp.id,
                pid: None,
                channel: channel.clone(),
                viewers: v,
            });
            continue;
        }
        if spills {
            // Seeded, and full wherever it is: nothing better to do this round.
            continue;
        }
        if reachable.is_empty() {
            actions.push(Action::Unplaced {
                channel: channel.clone(),
                viewers: v,
                reason: format!("{hot}, but no super peer is reachable and has room"),
            });
            continue;
        }
        // Preempt the coldest running worker if this channel is far hotter.
        let victim = seeded
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pid.is_some())
            .min_by(|a, b| {
                a.1.viewers
                    .cmp(&b.1.viewers)
                    .then_with(|| b.1.channel.cmp(&a.1.channel))
            })
            .map(|(i, _)| i);
        match victim {
            Some(i)
                if cfg.preempt_factor > 0
                    && v >= seeded[i].viewers.saturating_mul(cfg.preempt_factor)
                    && v > seeded[i].viewers =>
            {
                let old = seeded.swap_remove(i);
                let sp_label = label(old.super_peer_id);
                actions.push(Action::Stop {
                    super_peer_id: old.super_peer_id,
                    pid: old.pid.unwrap_or(0),
                    channel: old.channel.clone(),
                    reason: format!(
                        "preempted: {channel} has {v} viewers, {}x this channel's {}",
                        cfg.preempt_factor, old.viewers
                    ),
                });
                actions.push(Action::Seed {
                    super_peer_id: old.super_peer_id,
                    channel: channel.clone(),
                    viewers: v,
                    reason: format!(
                        "{hot}; every slot was taken, so it replaces {} ({} viewer{}) on {sp_label}",
                        old.channel,
                        old.viewers,
                        plural(old.viewers)
                    ),
                });
                seeded.push(Seeded {
                    super_peer_id: old.super_peer_id,
                    pid: None,
                    channel: channel.clone(),
                    viewers: v,
                });
            }
            _ => actions.push(Action::Unplaced {
                channel: channel.clone(),
                viewers: v,
                reason: match reachable.len() {
                    1 => format!("{hot}, but the one reachable super peer is full"),
                    n => format!("{hot}, but all {n} reachable super peers are full"),
                },
            }),
        }
    }
    actions
}

/// Where each channel's workers run and how full they are.
struct Load {
    /// Workers per super peer.
    workers: BTreeMap<i64, u32>,
    /// Capacity per super peer.
    capacity: BTreeMap<i64, u32>,
    /// (super peer, channel) -> (workers, free connections on them, max connections of one).
    channels: BTreeMap<(i64, String), (u32, u64, u32)>,
}

impl Load {
    fn new(
        cfg: &PlannerConfig,
        reachable: &BTreeMap<i64, &SuperPeerSlot>,
        workers: &[RunningWorker],
    ) -> Self {
        let mut load = Load {
            workers: BTreeMap::new(),
            capacity: reachable
                .iter()
                .map(|(id, sp)| (*id, capacity(cfg, sp)))
                .collect(),
            channels: BTreeMap::new(),
        };
        for w in workers {
            *load.workers.entry(w.super_peer_id).or_default() += 1;
            let e = load
                .channels
                .entry((w.super_peer_id, w.channel.clone()))
                .or_default();
            e.0 += 1;
            e.1 += u64::from(w.max_connections.saturating_sub(w.peers));
            e.2 = e.2.max(w.max_connections);
        }
        load
    }

    /// The super peers holding a channel.
    fn holders(&self, channel: &str) -> Vec<i64> {
        self.channels
            .keys()
            .filter(|(_, c)| c == channel)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The super peer holding most of a channel's workers (the lowest id among equals).
    fn home(&self, channel: &str) -> Option<i64> {
        self.channels
            .iter()
            .filter(|((_, c), _)| c == channel)
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0 .0.cmp(&a.0 .0)))
            .map(|((id, _), _)| *id)
    }

    /// Viewers of a channel a super peer can still take: free connections on its workers of
    /// the channel, and whole workers more in its free slots.
    fn room(&self, super_peer: i64, channel: &str) -> u64 {
        let Some(&(_, free, max)) = self.channels.get(&(super_peer, channel.to_owned())) else {
            return 0;
        };
        let slots = self
            .capacity
            .get(&super_peer)
            .copied()
            .unwrap_or(0)
            .saturating_sub(self.workers.get(&super_peer).copied().unwrap_or(0));
        free + u64::from(slots) * u64::from(max)
    }
}

fn describe_peer(sp: &SuperPeerSlot) -> String {
    if sp.label.is_empty() {
        format!("super peer #{}", sp.id)
    } else {
        format!("super peer '{}'", sp.label)
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(list: &[(&str, u32)]) -> Vec<ChannelDemand> {
        list.iter()
            .map(|(c, p)| ChannelDemand {
                channel: (*c).into(),
                peers: *p,
                swarms: 1,
            })
            .collect()
    }

    fn sp(id: i64, bandwidth_mbps: u32, workers: Option<u32>) -> SuperPeerSlot {
        SuperPeerSlot {
            id,
            label: format!("sp{id}"),
            bandwidth_mbps,
            workers_limit: workers,
        }
    }

    fn worker(super_peer_id: i64, pid: u32, channel: &str) -> RunningWorker {
        RunningWorker {
            super_peer_id,
            pid,
            channel: channel.into(),
            peers: 0,
            max_connections: 80,
        }
    }

    fn seeds(actions: &[Action]) -> Vec<(i64, &str)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Seed {
                    super_peer_id,
                    channel,
                    ..
                } => Some((*super_peer_id, channel.as_str())),
                _ => None,
            })
            .collect()
    }

    fn stops(actions: &[Action]) -> Vec<(u32, &str)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Stop { pid, channel, .. } => Some((*pid, channel.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hottest_channels_fill_the_free_slots() {
        let cfg = PlannerConfig::default();
        // sp1: 400 Mbps / 200 per worker = 2 slots; sp2: 1 slot (its ping says 1 worker).
        let peers = [sp(1, 400, Some(8)), sp(2, 1000, Some(1))];
        let actions = plan(
            &cfg,
            &demand(&[("cold", 1), ("hot", 9), ("warm", 4), ("mild", 2)]),
            &peers,
            &[],
        );
        // warm: a tie on free slots (1 each) goes to the larger bandwidth.
        assert_eq!(seeds(&actions), [(1, "hot"), (2, "warm"), (1, "mild")]);
        let unplaced: Vec<&str> = actions
            .iter()
            .filter(|a| matches!(a, Action::Unplaced { .. }))
            .map(Action::channel)
            .collect();
        assert_eq!(unplaced, ["cold"]);
        assert!(
            actions[0].reason().contains("rank 1 of 4 with 9 viewers"),
            "{}",
            actions[0].reason()
        );
        assert!(
            actions[0].reason().contains("sp1"),
            "{}",
            actions[0].reason()
        );
    }

    #[test]
    fn cooled_and_vanished_channels_are_stopped() {
        let cfg = PlannerConfig::default();
        // "idle" has one peer: our own worker, so zero viewers.
        let actions = plan(
            &cfg,
            &demand(&[("busy", 5), ("idle", 1)]),
            &[sp(1, 0, Some(4))],
            &[
                worker(1, 10, "busy"),
                worker(1, 11, "idle"),
                worker(1, 12, "gone"),
            ],
        );
        assert_eq!(stops(&actions), [(11, "idle"), (12, "gone")]);
        assert!(seeds(&actions).is_empty(), "busy is already seeded");
        assert!(actions[0].reason().starts_with("cooled: 0 viewers"));
        assert!(actions[1].reason().contains("no longer lists"));
    }

    #[test]
    fn unreachable_super_peers_get_nothing_and_their_workers_are_left_alone() {
        let cfg = PlannerConfig::default();
        let actions = plan(
            &cfg,
            &demand(&[("a", 3)]),
            &[sp(1, 100, None)],
            &[worker(1, 5, "zzz")],
        );
        assert_eq!(actions.len(), 1);
        assert!(
            matches!(&actions[0], Action::Unplaced { reason, .. } if reason.contains("no super peer is reachable"))
        );
        // With a reachable one too, the channel goes there.
        let actions = plan(
            &cfg,
            &demand(&[("a", 3)]),
            &[sp(1, 100, None), sp(2, 100, Some(1))],
            &[],
        );
        assert_eq!(seeds(&actions), [(2, "a")]);
    }

    fn busy(super_peer_id: i64, pid: u32, channel: &str, peers: u32) -> RunningWorker {
        RunningWorker {
            peers,
            ..worker(super_peer_id, pid, channel)
        }
    }

    #[test]
    fn over_capacity_keeps_the_hottest() {
        let cfg = PlannerConfig::default();
        let actions = plan(
            &cfg,
            &demand(&[("a", 10), ("b", 3), ("c", 6)]),
            &[sp(1, 100, Some(2))],
            &[worker(1, 1, "a"), worker(1, 3, "b"), worker(1, 4, "c")],
        );
        // 100 Mbps = 1 slot: a stays, c and b go.
        assert_eq!(stops(&actions), [(4, "c"), (3, "b")]);
        assert!(actions[0].reason().starts_with("over capacity"));
    }

    #[test]
    fn the_masters_extra_workers_of_a_channel_are_kept() {
        let cfg = PlannerConfig::default();
        // The master added two workers to "a" when its first was full: its business.
        let actions = plan(
            &cfg,
            &demand(&[("a", 200)]),
            &[sp(1, 0, Some(4))],
            &[
                busy(1, 1, "a", 80),
                busy(1, 2, "a", 80),
                busy(1, 3, "a", 37),
            ],
        );
        assert!(actions.is_empty(), "{actions:?}");
    }

    #[test]
    fn a_full_channel_spills_to_another_super_peer_and_comes_back_when_it_fits() {
        let cfg = PlannerConfig::default();
        let peers = [sp(1, 0, Some(2)), sp(2, 0, Some(4))];
        // Both slots of sp1 hold "a", both workers full: "a" spills over to sp2.
        let full = [busy(1, 1, "a", 80), busy(1, 2, "a", 80)];
        let actions = plan(&cfg, &demand(&[("a", 200)]), &peers, &full);
        assert_eq!(seeds(&actions), [(2, "a")]);
        assert!(
            actions[0].reason().contains("spills over"),
            "{}",
            actions[0].reason()
        );
        // While sp1 is still full, the worker on sp2 stays.
        let spilled = [full[0].clone(), full[1].clone(), busy(2, 9, "a", 30)];
        assert!(plan(&cfg, &demand(&[("a", 190)]), &peers, &spilled).is_empty());
        // Once its 30 viewers fit on sp1 again, it is a duplicate.
        let emptier = [
            busy(1, 1, "a", 40),
            busy(1, 2, "a", 80),
            busy(2, 9, "a", 30),
        ];
        let actions = plan(&cfg, &demand(&[("a", 150)]), &peers, &emptier);
        assert_eq!(stops(&actions), [(9, "a")]);
        assert!(
            actions[0].reason().starts_with("duplicate"),
            "{}",
            actions[0].reason()
        );
    }

    #[test]
    fn a_second_super_peer_is_a_duplicate_while_the_first_has_room() {
        let cfg = PlannerConfig::default();
        let actions = plan(
            &cfg,
            &demand(&[("a", 20)]),
            &[sp(1, 0, Some(4)), sp(2, 0, Some(4))],
            &[busy(1, 1, "a", 10), busy(2, 5, "a", 5)],
        );
        assert_eq!(stops(&actions), [(5, "a")]);
    }

    #[test]
    fn both_sides_budget_the_same_bandwidth_per_worker() {
        assert_eq!(
            f64::from(PlannerConfig::default().worker_mbps),
            superpeer::MasterConfig::default().worker_mbps
        );
    }

    #[test]
    fn a_much_hotter_channel_preempts_the_coldest() {
        let cfg = PlannerConfig::default();
        let peers = [sp(1, 100, Some(1))];
        let actions = plan(
            &cfg,
            &demand(&[("old", 3), ("new", 8)]),
            &peers,
            &[worker(1, 7, "old")],
        );
        assert_eq!(stops(&actions), [(7, "old")]);
        assert_eq!(seeds(&actions), [(1, "new")]);
        assert!(actions[1].reason().contains("replaces old"));
        // Not hot enough: "old" has 4 peers, 3 viewers without its worker, and 5 < 2 x 3.
        let actions = plan(
            &cfg,
            &demand(&[("old", 4), ("new", 5)]),
            &peers,
            &[worker(1, 7, "old")],
        );
        assert!(stops(&actions).is_empty());
        assert!(matches!(&actions[0], Action::Unplaced { channel, .. } if channel == "new"));
        // Preemption off.
        let off = PlannerConfig {
            preempt_factor: 0,
            ..cfg
        };
        let actions = plan(
            &off,
            &demand(&[("old", 3), ("new", 80)]),
            &peers,
            &[worker(1, 7, "old")],
        );
        assert!(stops(&actions).is_empty());
    }

    #[test]
    fn thresholds_are_honoured() {
        let cfg = PlannerConfig {
            min_viewers_to_seed: 5,
            stop_below_viewers: 2,
            ..PlannerConfig::default()
        };
        let actions = plan(
            &cfg,
            &demand(&[("four", 4), ("six", 6), ("kept", 3)]),
            &[sp(1, 0, Some(10))],
            &[worker(1, 1, "kept")],
        );
        // "kept" has 3 - 1 (its own worker) = 2 viewers: not below 2, so it stays.
        assert!(stops(&actions).is_empty());
        assert_eq!(seeds(&actions), [(1, "six")]);
    }

    #[test]
    fn capacity_combines_bandwidth_and_worker_limit() {
        let cfg = PlannerConfig::default();
        assert_eq!(capacity(&cfg, &sp(1, 1000, Some(4))), 4);
        assert_eq!(capacity(&cfg, &sp(1, 500, Some(4))), 2);
        assert_eq!(capacity(&cfg, &sp(1, 50, Some(4))), 1);
        assert_eq!(capacity(&cfg, &sp(1, 0, Some(3))), 3);
        assert_eq!(capacity(&cfg, &sp(1, 0, Some(0))), 1);
        assert_eq!(capacity(&cfg, &sp(1, 300, None)), 0);
    }

    #[test]
    fn abr_channels_subtract_a_worker_once_per_swarm() {
        let d = [ChannelDemand {
            channel: "abr".into(),
            peers: 7,
            swarms: 3,
        }];
        let v = viewers_without_workers(&d, &[worker(1, 1, "abr")]);
        assert_eq!(v["abr"], 4);
    }
}
