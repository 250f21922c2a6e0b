/**
 * Pure scheduling decisions: where a segment comes from (HTTP or a peer), when a peer transfer
 * must be abandoned, and which segments to prefetch. No I/O, no clocks: callers pass the time.
 *
 * The rule that keeps P2P from ever causing a stall: every segment has a budget, the time until
 * the player needs it minus what an HTTP fetch would take minus a safety margin. A peer is used
 * only while its projected finish fits in the budget; past that the rest comes by HTTP Range.
 */

export type SchedulerConfig = {
  /** Seconds kept free before a segment's deadline for an HTTP rescue. */
  safetyMarginS: number;
  /** A peer that sends nothing for this long is abandoned. */
  p2pStallTimeoutMs: number;
  /** Throughput assumed for a peer not yet measured, bytes/s. */
  defaultPeerBps: number;
  /** Throughput assumed for HTTP before the first measure, bytes/s. */
  defaultHttpBps: number;
  /** Prefetch horizon ahead of the playhead (seconds) for VOD; live prefetches the whole window. */
  prefetchWindowS: number;
  simultaneousP2PDownloads: number;
  simultaneousHttpDownloads: number;
  /**
   * For this long after joining a swarm, while no peer is connected yet and the trackers know
   * of others, a segment whose budget allows waits for the first peers instead of going to HTTP
   * at once (its deadline still holds). 0: never. At startup a player buffers several segments
   * behind the first before any peer could answer; with this they come from the swarm.
   */
  firstPeersPatienceMs: number;
  /**
   * The smallest part of a segment asked of one peer, bytes: each part costs a request's round
   * trip, and a smaller one measures the peer poorly.
   */
  minPartBytes: number;
  /** Bytes a peer's part must bring before its rate counts as a measure of the peer. */
  minPeerMeasureBytes: number;
  /** Bytes an HTTP response must bring before its rate counts as a measure of HTTP. */
  minHttpMeasureBytes: number;
  /**
   * Copies of a fresh segment the whole swarm takes from the origin at once, about. Each
   * neighbourhood elects one of its peers to fetch a segment none of them has; with this above
   * 0 and the swarm's size known from the trackers, only a neighbourhood seeder whose election
   * hash falls among the lowest `swarmSeeders` / size of the swarm fetches at once, and the
   * others wait for the segment to reach them through the swarm, `seedDelayS` at most and never
   * past the point where `seedReserveS` of their peer budget is left. 0: every neighbourhood
   * seeder fetches at once.
   */
  swarmSeeders: number;
  /** Seconds of peer budget a waiting neighbourhood seeder keeps to pass the segment on. */
  seedReserveS: number;
  /** Seconds a neighbourhood seeder not elected swarm-wide waits for the segment from the swarm. */
  seedDelayS: number;
};

export const DEFAULT_SCHEDULER: SchedulerConfig = {
  safetyMarginS: 1.5,
  p2pStallTimeoutMs: 1500,
  defaultPeerBps: 1_000_000,
  defaultHttpBps: 1_000_000,
  prefetchWindowS: 60,
  simultaneousP2PDownloads: 3,
  simultaneousHttpDownloads: 2,
  firstPeersPatienceMs: 2000,
  minPartBytes: 32 * 1024,
  minPeerMeasureBytes: 16 * 1024,
  minHttpMeasureBytes: 64 * 1024,
  swarmSeeders: 2,
  seedReserveS: 6,
  seedDelayS: 2,
};

export function transferSeconds(bytes: number, bps: number, latencyS = 0): number {
  return latencyS + bytes / Math.max(1, bps);
}

/** `byteRanges`: it sends parts of segments, so it can share one with other holders. */
export type Holder = { peerId: string; busy: boolean; throughputBps?: number; byteRanges?: boolean };

export type SourceInput = {
  /** Seconds of playback until the segment is needed (0 or less: needed now). */
  timeUntilNeededS: number;
  expectedBytes: number;
  httpBps: number;
  httpLatencyS: number;
  /** Peers that announced the segment as loaded. */
  holders: Holder[];
  /** A peer announced it is fetching the segment by HTTP right now. */
  someoneHttpLoading: boolean;
  /** Another connected peer is the designated HTTP seeder of this segment. */
  designatedElsewhere: boolean;
  /**
   * Peers that don't take part in the election (P2P Media Loader) may fetch it any moment:
   * worth a short wait while the budget is large.
   */
  mayArriveSoon?: boolean;
  /** We are our neighbourhood's seeder, and the swarm's seeders' copy may still reach us. */
  swarmMayBring?: boolean;
  p2pEnabled: boolean;
  random?: () => number;
};

export type SourceDecision = { kind: "http" } | { kind: "p2p"; peerId: string } | { kind: "wait" };

/** Seconds left to try peers before HTTP must start. */
export function p2pBudgetS(i: Pick<SourceInput, "timeUntilNeededS" | "expectedBytes" | "httpBps" | "httpLatencyS">, cfg: SchedulerConfig): number {
  return i.timeUntilNeededS - transferSeconds(i.expectedBytes, i.httpBps, i.httpLatencyS) - cfg.safetyMarginS;
}

export function decideSource(i: SourceInput, cfg: SchedulerConfig = DEFAULT_SCHEDULER): SourceDecision {
  const budget = p2pBudgetS(i, cfg);
  if (!i.p2pEnabled || budget <= 0) return { kind: "http" };
  const fits = i.holders
    .filter((h) => !h.busy && transferSeconds(i.expectedBytes, h.throughputBps ?? cfg.defaultPeerBps) < budget)
    .sort((a, b) => (b.throughputBps ?? cfg.defaultPeerBps) - (a.throughputBps ?? cfg.defaultPeerBps));
  if (fits.length) {
    // Prefer fast peers but spread load: pick among the best two at random.
    const pick = fits[Math.floor((i.random ?? Math.random)() * Math.min(2, fits.length))] as Holder;
    return { kind: "p2p", peerId: pick.peerId };
  }
  // No peer is fast enough alone: idle holders that send parts may be, together (the caller
  // gives the others their parts once the first one started).
  const sharing = i.holders.filter((h) => !h.busy && h.byteRanges).sort((a, b) => (b.throughputBps ?? cfg.defaultPeerBps) - (a.throughputBps ?? cfg.defaultPeerBps));
  const together = sharing.reduce((n, h) => n + (h.throughputBps ?? cfg.defaultPeerBps), 0);
  if (sharing.length > 1 && transferSeconds(i.expectedBytes, together) < budget) return { kind: "p2p", peerId: (sharing[0] as Holder).peerId };
  // Too slow to finish, but what it sends until the budget is spent is bytes HTTP need not
  // fetch (the part is kept until then, HTTP `Range` takes the rest): worth its uplink when that
  // is at least half of what is missing.
  const fastest = sharing[0];
  if (fastest && (fastest.throughputBps ?? cfg.defaultPeerBps) * budget >= Math.max(cfg.minPartBytes, i.expectedBytes / 2)) return { kind: "p2p", peerId: fastest.peerId };
  if (i.holders.length || i.someoneHttpLoading || i.designatedElsewhere || i.mayArriveSoon || i.swarmMayBring) return { kind: "wait" };
  return { kind: "http" };
}

export type TransferProgress = {
  nowMs: number;
  startedAtMs: number;
  lastByteAtMs?: number;
  receivedBytes: number;
  expectedBytes: number;
  /** Time by which the transfer must have finished (ms), Infinity when nobody waits for it. */
  mustFinishByMs: number;
};

/** True when a peer transfer should be given up (and the rest fetched elsewhere). */
export function shouldAbandon(p: TransferProgress, cfg: SchedulerConfig = DEFAULT_SCHEDULER): boolean {
  const quietSince = p.lastByteAtMs ?? p.startedAtMs;
  if (p.nowMs - quietSince > cfg.p2pStallTimeoutMs) return true;
  if (p.nowMs >= p.mustFinishByMs) return true;
  if (!isFinite(p.mustFinishByMs)) return false;
  const elapsed = (p.nowMs - p.startedAtMs) / 1000;
  if (elapsed < 0.3 || p.receivedBytes === 0) return false;
  const rate = p.receivedBytes / elapsed;
  const remaining = Math.max(0, p.expectedBytes - p.receivedBytes);
  return p.nowMs + (remaining / rate) * 1000 > p.mustFinishByMs;
}

/** FNV-1a with a murmur3 finalizer: a cheap stable hash, well spread even for similar inputs. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The peer (among ourselves and our neighbours) that should fetch a segment from HTTP first so
 * the others can take it from the swarm. Every peer computes the same answer for the same
 * neighbourhood, so each segment is fetched from the origin about once per neighbourhood.
 */
export function designatedSeeder(selfId: string, peerIds: Iterable<string>, segmentKey: string): string {
  let best = selfId;
  let bestHash = fnv1a(`${selfId}|${segmentKey}`);
  for (const id of peerIds) {
    const h = fnv1a(`${id}|${segmentKey}`);
    if (h < bestHash || (h === bestHash && id < best)) {
      best = id;
      bestHash = h;
    }
  }
  return best;
}

export type OriginSeedInput = {
  selfId: string;
  /** Connected peers whose own schedulers take part in seeder election. */
  electorate: string[];
  segmentKey: string;
  /** Viewers in the swarm, ourselves included, as the trackers count them (undefined: unknown). */
  swarmSize?: number;
  /** Seconds left to try peers for the segment ({@link p2pBudgetS}). */
  budgetS: number;
  /** Seconds since we learnt of the segment. */
  knownForS: number;
};

/**
 * Whether we fetch a segment that no neighbour has or is fetching from the origin now. Only our
 * neighbourhood's seeder does; in a swarm much larger than a neighbourhood, only if it is also
 * one of the few the whole swarm elects (a hash below `swarmSeeders` / size) or its budget is
 * down to `seedReserveS`: the neighbourhood seeders of one segment would otherwise number about
 * size / (neighbours + 1), each one an origin copy, and most of them get it from the swarm in time.
 */
export function seedsFromOrigin(i: OriginSeedInput, cfg: Pick<SchedulerConfig, "swarmSeeders" | "seedReserveS" | "seedDelayS">): boolean {
  if (designatedSeeder(i.selfId, i.electorate, i.segmentKey) !== i.selfId) return false;
  // In a swarm of a few neighbourhoods their seeders are about as few as the swarm would elect.
  if (cfg.swarmSeeders <= 0 || i.swarmSize === undefined || i.swarmSize <= cfg.swarmSeeders * (i.electorate.length + 1)) return true;
  if (fnv1a(`${i.selfId}|${i.segmentKey}`) < (cfg.swarmSeeders / i.swarmSize) * 2 ** 32) return true;
  return i.knownForS >= cfg.seedDelayS || i.budgetS <= cfg.seedReserveS;
}

export type PrefetchPeer = { peerId: string; busy: boolean; loaded: ReadonlySet<number>; httpLoading?: ReadonlySet<number>; throughputBps?: number };

export type PrefetchInput = {
  /** Segments ahead of the playhead not stored and not downloading, earliest first. */
  candidates: {
    id: number;
    key: string;
    /** too new to fetch by HTTP yet */
    httpHold?: boolean;
    /** peers that failed this segment already: never asked for it again */
    failedPeers?: ReadonlySet<string>;
    /** Seconds left to try peers for it ({@link p2pBudgetS}); Infinity when nobody needs it yet. */
    budgetS?: number;
    /** Seconds since we learnt of it (Infinity when unknown). */
    knownForS?: number;
  }[];
  peers: PrefetchPeer[];
  selfId: string;
  freeP2PSlots: number;
  freeHttpSlots: number;
  /** Connected peers whose own schedulers take part in seeder election (ours, not PML's). */
  electorate: string[];
  /** Viewers in the swarm as the trackers count them ({@link seedsFromOrigin}). */
  swarmSize?: number;
  seeding?: Pick<SchedulerConfig, "swarmSeeders" | "seedReserveS" | "seedDelayS">;
  random?: () => number;
};

export type PrefetchPlan = { p2p: { id: number; peerId: string }[]; http: number[] };

/** Which segments to start fetching now: from idle peers that have them, else by HTTP if we are their seeder. */
export function planPrefetch(i: PrefetchInput): PrefetchPlan {
  const plan: PrefetchPlan = { p2p: [], http: [] };
  const idle = new Set(i.peers.filter((p) => !p.busy).map((p) => p.peerId));
  let p2pSlots = i.freeP2PSlots;
  let httpSlots = i.freeHttpSlots;
  const rnd = i.random ?? Math.random;
  const seeding = i.seeding ?? DEFAULT_SCHEDULER;
  for (const c of i.candidates) {
    if (p2pSlots <= 0 && httpSlots <= 0) break;
    const holders = i.peers.filter((p) => p.loaded.has(c.id) && !c.failedPeers?.has(p.peerId));
    if (holders.length) {
      const free = holders.filter((p) => idle.has(p.peerId));
      if (free.length && p2pSlots > 0) {
        const pick = free[Math.floor(rnd() * free.length)] as PrefetchPeer;
        idle.delete(pick.peerId);
        plan.p2p.push({ id: c.id, peerId: pick.peerId });
        p2pSlots--;
      }
      continue;
    }
    if (c.httpHold || i.peers.some((p) => p.httpLoading?.has(c.id))) continue; // someone is on it
    if (httpSlots > 0 && i.peers.length > 0 && seedsFromOrigin({ selfId: i.selfId, electorate: i.electorate, segmentKey: c.key, swarmSize: i.swarmSize, budgetS: c.budgetS ?? Infinity, knownForS: c.knownForS ?? Infinity }, seeding)) {
      plan.http.push(c.id);
      httpSlots--;
    }
  }
  return plan;
}
