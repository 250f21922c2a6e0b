/**
 * A run's settings and the distributions viewers are drawn from. Every figure here is an
 * assumption, stated in docs/scale.md.
 */
import type { Rng } from "./rng.js";

export type Access = { upBps: number; downBps: number; accessMs: number; loss: number };

/** How viewers' access links are drawn. */
export type Population =
  /** Every viewer on one fast, lossless link (the browser bench's loopback). */
  | { kind: "uniform"; upMbps: number; downMbps: number; accessMs: number; loss: number }
  /**
   * Residential broadband and mobile, log-normal per class (medians and spread in the shape of
   * public speed-test statistics), with a share of viewers behind NATs no peer can reach.
   */
  | { kind: "internet" };

export type Scenario = {
  name: string;
  seed: number;
  /** Concurrent viewers the run holds (arrivals replace departures). */
  viewers: number;
  live: boolean;
  segmentS: number;
  /** Media bitrate, real bits/s, or exact segment sizes (real bytes, looped). */
  bitrateBps: number;
  segmentBytes?: number[];
  /** Live: segments the playlist lists. VOD: the title's length in segments. */
  windowSegments: number;
  vodSegments: number;
  /** Viewers arrive spread over this many seconds (in order, `arrivalGapS` apart when set). */
  rampS: number;
  arrivalGapS?: number;
  /** Mean viewing session (s), exponential; Infinity: nobody leaves. */
  meanSessionS: number;
  /** Simulated seconds after the ramp. */
  durationS: number;
  population: Population;
  /** Share of viewer pairs that cannot connect (symmetric NATs, no TURN). */
  natFailure: number;
  /** Extra one-way latency between two viewers' access networks, ms: uniform in [min, max]. */
  coreMs: [number, number];
  /** Time to gather ICE candidates for a non-trickle offer or answer (median ms). */
  iceGatherMs: number;
  cdn: { rttMs: number; connMbps: number };
  /** Tracker round trip from a viewer's access network (ms beyond the access link). */
  trackerRttMs: number;
  announceIntervalS: number;
  trackerMaxOffers: number;
  p2p: boolean;
  /** The SDK's `multiSource`: a segment from several peers at once, in parts. */
  multiSource: boolean;
  /** The SDK's `relay`: segments served to peers while they are still arriving. */
  relay: boolean;
  superPeers: number;
  superPeerUpMbps: number;
  superPeerMaxConnections: number;
  /** hls.js: fragments ahead of the playhead it keeps (maxBufferLength, s). */
  maxBufferS: number;
  /** hls.js: live start this many segments behind the edge (liveSyncDurationCount). */
  liveSyncSegments: number;
  /** Real bytes per simulated byte: segments and rates are divided by it (memory). */
  byteScale: number;
  /** Per-viewer segment memory, in segments (the SDK's memory limit, scaled). */
  memorySegments: number;
  /** The SDK scheduler's settings for a design trial (`SchedulerConfig`; rates in real bytes/s). */
  scheduler?: Record<string, number>;
};

export const MBPS = 1_000_000 / 8;

export function drawAccess(p: Population, rng: Rng): Access {
  if (p.kind === "uniform") return { upBps: p.upMbps * MBPS, downBps: p.downMbps * MBPS, accessMs: p.accessMs, loss: p.loss };
  // 30 % mobile, 70 % fixed broadband.
  if (rng.chance(0.3)) {
    return {
      upBps: clamp(rng.lognormal(8, 0.9), 0.5, 100) * MBPS,
      downBps: clamp(rng.lognormal(40, 0.9), 2, 500) * MBPS,
      accessMs: clamp(rng.lognormal(25, 0.5), 8, 200),
      loss: clamp(rng.lognormal(0.001, 1), 0, 0.02),
    };
  }
  return {
    upBps: clamp(rng.lognormal(20, 1.1), 0.5, 1000) * MBPS,
    downBps: clamp(rng.lognormal(100, 0.9), 5, 2000) * MBPS,
    accessMs: clamp(rng.lognormal(8, 0.5), 2, 60),
    loss: clamp(rng.lognormal(0.0002, 1), 0, 0.01),
  };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** The scale curve's stream: live 3 Mbit/s in 4 s segments over residential networks. */
export function internetScenario(viewers: number, opts: Partial<Scenario> = {}): Scenario {
  return {
    name: `live-${viewers}`,
    seed: 1,
    viewers,
    live: true,
    segmentS: 4,
    bitrateBps: 3_000_000,
    windowSegments: 6,
    vodSegments: 450,
    rampS: 30,
    meanSessionS: 1800,
    durationS: 120,
    population: { kind: "internet" },
    natFailure: 0.1,
    coreMs: [5, 60],
    iceGatherMs: 300,
    cdn: { rttMs: 20, connMbps: 50 },
    trackerRttMs: 30,
    announceIntervalS: 120,
    trackerMaxOffers: 10,
    p2p: true,
    multiSource: true,
    relay: true,
    superPeers: 0,
    superPeerUpMbps: 1000,
    superPeerMaxConnections: 500,
    maxBufferS: 30,
    liveSyncSegments: 3,
    byteScale: 16,
    memorySegments: 20,
    ...opts,
  };
}

/**
 * The browser bench (bench/swarm, hls.js, `--tabs 10 --seconds 60`): the origin's looping live
 * 360p stream (2 s segments, the sizes of the test media, 10 in the window), tabs opened one a
 * second, all on loopback; the tracker's 120 s interval. `sizes`: the test media's segment
 * sizes, looped as the origin loops them.
 */
export function calibrationScenario(p2p: boolean, sizes?: number[], opts: Partial<Scenario> = {}): Scenario {
  return internetScenario(10, {
    name: p2p ? "bench-sdk" : "bench-control",
    live: true,
    segmentS: 2,
    bitrateBps: 687_000,
    segmentBytes: sizes?.length ? sizes : undefined,
    windowSegments: 10,
    rampS: 10,
    arrivalGapS: 1,
    meanSessionS: Infinity,
    durationS: 60,
    population: { kind: "uniform", upMbps: 200, downMbps: 1000, accessMs: 0.1, loss: 0 },
    natFailure: 0,
    coreMs: [0, 0],
    // The one fitted figure: offers and answers on the bench's loaded machine (ten video tabs
    // on two cores) take about 150 ms each to make; the bench's tabs have their first peer about
    // 280 ms after the tracker's answer (median).
    iceGatherMs: 150,
    // The SDK's hls.js engine starts five segments behind the live edge.
    liveSyncSegments: 5,
    cdn: { rttMs: 1, connMbps: 400 },
    trackerRttMs: 1,
    p2p,
    byteScale: 1,
    memorySegments: 2000,
    ...opts,
  });
}

