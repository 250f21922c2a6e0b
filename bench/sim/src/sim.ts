/**
 * One simulated run: viewers running the SDK's own swarm code (StreamSwarm with its scheduler,
 * PeerSession protocol, SegmentTransfer and MemoryStorage) over the simulated network, a
 * tracker that relays offers as ours does, the CDN, super peers, and a player that behaves like
 * hls.js (sequential fragment loads, a buffer target, live start behind the edge).
 */
import { resolveConfig } from "../../../sdk/packages/core/src/config.js";
import { DEFAULT_SCHEDULER, type SchedulerConfig } from "../../../sdk/packages/core/src/scheduler.js";
import { Ewma } from "../../../sdk/packages/core/src/http.js";
import { Logger } from "../../../sdk/packages/core/src/logger.js";
import { PeerSession, type PeerHost } from "../../../sdk/packages/core/src/peer/peer-session.js";
import { Extension } from "../../../sdk/packages/core/src/protocol/index.js";
import { MemoryStorage } from "../../../sdk/packages/core/src/storage.js";
import { StreamSwarm, type SegmentInfo, type SwarmContext } from "../../../sdk/packages/core/src/stream-swarm.js";
import { EventLoop } from "./events.js";
import { drawAccess, MBPS, type Scenario } from "./model.js";
import { newHost, Net, type Host, type SimChannel } from "./net.js";
import { Rng } from "./rng.js";

export type Result = {
  scenario: Scenario;
  /** Viewers that ever joined. */
  sessions: number;
  originBytes: number;
  /** Origin bytes over the bytes of the distinct segments viewers downloaded. */
  originCopiesPerSegment: number;
  /**
   * Live: the same for the segments published after the audience's ramp and early enough that
   * every viewer has fetched them by the end (undefined for VOD, or when there are none): the
   * steady state, without the arrivals' first segments.
   */
  steadyCopiesPerSegment?: number;
  httpBytes: number;
  p2pBytes: number;
  p2pShare: number;
  /**
   * Bytes viewers sent to peers; bytes viewers received and threw away (late bytes of a
   * cancelled request, bytes another source had given already, a stopped HTTP response's).
   */
  uploadedBytes: number;
  droppedBytes: number;
  /** Of the bytes uploaded, those of segments the sender was still receiving. */
  relayedBytes: number;
  /**
   * After the audience's ramp, what paced the segment bytes peers sent: the share that went at
   * their channel's path rate rather than their share of the sender's uplink, and the shares by
   * rate (from `RATE_EDGES_MBPS[i]` Mbit/s to the next edge).
   */
  peerLinks: { pathLimited: number; byRate: number[] };
  startupMedianMs: number;
  startupP95Ms: number;
  rebufferRatio: number;
  /** Bytes uploaded per viewer over media bytes it downloaded: mean, median, p95, max. */
  uploadRatio: { mean: number; p50: number; p95: number; max: number };
  meanPeers: number;
  /** Bytes the super peers sent to viewers. */
  superPeerBytes: number;
  segmentsServed: number;
  /** The player's segment loads by source: how many, mean ms from request to bytes. */
  loads: Record<string, { n: number; meanMs: number }>;
  simSeconds: number;
  wallSeconds: number;
  events: number;
};

const OFFERS_PER_ANNOUNCE = 5;
const MAX_PEERS = 20;
const OFFER_TTL_MS = 50_000;
const TICK_MS = 250;
const PHASES = 10;

/** Anyone the tracker knows: a viewer or a super peer. */
interface Member {
  readonly id: string;
  readonly host: Host;
  readonly trackerOneWayMs: number;
  gone: boolean;
  /** Offers sent and not yet answered or expired. */
  pending: Map<string, number>;
  peerIds(): Set<string>;
  /** Whether it answers an offer from `from` now. */
  accepts(from: string): boolean;
  attach(remote: string, ch: SimChannel): void;
  offersToMake(): number;
  /** The tracker's announce response: the swarm's size, the member included. */
  counted?(swarmSize: number): void;
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
}

export async function simulate(sc: Scenario): Promise<Result> {
  const began = performance.now();
  const rng = new Rng(sc.seed);
  const realRandom = Math.random;
  // The SDK's own random choices (which holder, offer ids) come from the run's generator too.
  Math.random = () => rng.next();
  try {
    const w = new World(sc, rng);
    await w.run();
    return w.result((performance.now() - began) / 1000);
  } finally {
    Math.random = realRandom;
  }
}

class World {
  readonly loop = new EventLoop();
  readonly net: Net;
  readonly segBytes: number[];
  readonly data = new Map<number, Uint8Array>();
  readonly members: Member[] = [];
  readonly memberIndex = new Map<string, number>();
  readonly viewers: Viewer[] = [];
  readonly superPeers: SuperPeer[] = [];
  readonly played = new Set<number>();
  /** The player's segment loads by where they came from: count and total time. */
  readonly loads: Record<string, { n: number; ms: number }> = {};
  originBytes = 0;
  /** Origin bytes by segment id. */
  readonly originBySegment = new Map<number, number>();
  private active: Viewer[] = [];
  private phase = 0;
  readonly endMs: number;

  constructor(
    readonly sc: Scenario,
    readonly rng: Rng,
  ) {
    this.net = new Net(this.loop, rng, sc.byteScale);
    this.net.linkStats.fromMs = sc.rampS * 1000;
    const mean = (sc.bitrateBps / 8) * sc.segmentS;
    this.segBytes = sc.segmentBytes ?? Array.from({ length: 97 }, () => mean * rng.uniform(0.85, 1.15));
    this.endMs = (sc.rampS + sc.durationS) * 1000;
  }

  /** Real bytes of segment `id`. */
  realBytes(id: number): number {
    return Math.round(this.segBytes[id % this.segBytes.length] as number);
  }

  segmentData(id: number): Uint8Array {
    let d = this.data.get(id);
    if (!d) {
      d = new Uint8Array(Math.max(1, Math.round(this.realBytes(id) / this.sc.byteScale)));
      this.data.set(id, d);
      // Live: segments long gone from every window are released (viewers hold their own).
      if (this.sc.live) this.data.delete(id - this.sc.windowSegments - 40);
    }
    return d;
  }

  /** When live segment `id` is first listed (ms). */
  publishedAt(id: number): number {
    return Math.max(0, id - this.sc.windowSegments + 1) * this.sc.segmentS * 1000;
  }

  /**
   * Origin copies of the live segments published after the ramp and at least the player's
   * live delay plus two segments before the end (so every viewer fetched them).
   */
  steadyCopies(): number | undefined {
    if (!this.sc.live) return undefined;
    const from = this.sc.rampS * 1000;
    const to = this.endMs - (this.sc.liveSyncSegments + 2) * this.sc.segmentS * 1000;
    let origin = 0;
    let bytes = 0;
    for (const id of this.played) {
      const at = this.publishedAt(id);
      if (at < from || at > to) continue;
      origin += this.originBySegment.get(id) ?? 0;
      bytes += this.realBytes(id);
    }
    return bytes ? origin / bytes : undefined;
  }

  /** Segments listed by the live playlist at time `t` (ms): ids < available(t). */
  available(t: number): number {
    return this.sc.windowSegments + Math.floor(t / (this.sc.segmentS * 1000));
  }

  playlist(known: number): SegmentInfo[] {
    const sc = this.sc;
    const from = sc.live ? Math.max(0, known - sc.windowSegments) : 0;
    const to = sc.live ? known : sc.vodSegments;
    const out: SegmentInfo[] = [];
    for (let id = from; id < to; id++) out.push({ id, url: `sim:${id}`, startTime: id * sc.segmentS, endTime: (id + 1) * sc.segmentS });
    return out;
  }

  newId(prefix: string): string {
    const abc = "0123456789abcdefghijklmnopqrstuvwxyz";
    let s = prefix;
    for (let i = 0; i < 12; i++) s += abc[this.rng.int(abc.length)];
    return s;
  }

  fetcherFor(host: Host) {
    return this.net.cdnFetcher(
      host,
      { rttMs: this.sc.cdn.rttMs, connBps: (this.sc.cdn.connMbps * MBPS) / this.sc.byteScale },
      (url) => this.segmentData(Number(url.slice(4))),
      (n, url) => {
        const id = Number(url.slice(4));
        this.originBytes += n * this.sc.byteScale;
        this.originBySegment.set(id, (this.originBySegment.get(id) ?? 0) + n * this.sc.byteScale);
      },
    );
  }

  gatherMs(): number {
    return Math.min(5000, this.rng.lognormal(this.sc.iceGatherMs, 0.5));
  }

  // ---- tracker ------------------------------------------------------------------------------

  addMember(m: Member): void {
    this.memberIndex.set(m.id, this.members.length);
    this.members.push(m);
  }

  removeMember(m: Member): void {
    const i = this.memberIndex.get(m.id);
    if (i === undefined) return;
    const last = this.members.pop() as Member;
    if (last !== m) {
      this.members[i] = last;
      this.memberIndex.set(last.id, i);
    }
    this.memberIndex.delete(m.id);
  }

  /**
   * A member announces with `n` fresh offers (made after ICE gathering); the tracker relays
   * each to a different random member, never the sender (as crates/tracker's swarm does).
   */
  announce(m: Member, done: () => void): void {
    const now = this.loop.now();
    for (const [id, at] of m.pending) if (now - at > OFFER_TTL_MS) m.pending.delete(id);
    const n = m.offersToMake();
    const offerIds = Array.from({ length: n }, () => this.newId(""));
    for (const id of offerIds) m.pending.set(id, now);
    this.loop.after((n ? this.gatherMs() : 0) + m.trackerOneWayMs, () => {
      if (m.gone) return done();
      if (!this.memberIndex.has(m.id)) this.addMember(m);
      this.loop.after(m.trackerOneWayMs, () => m.gone || m.counted?.(this.members.length));
      const k = Math.min(offerIds.length, this.sc.trackerMaxOffers, this.members.length - 1);
      const picked = new Set<number>();
      const self = this.memberIndex.get(m.id);
      for (let guard = 0; picked.size < k && guard < k * 64; guard++) {
        const i = this.rng.int(this.members.length);
        if (i !== self) picked.add(i);
      }
      let j = 0;
      for (const i of picked) {
        const target = this.members[i] as Member;
        const offerId = offerIds[j++] as string;
        this.loop.after(target.trackerOneWayMs, () => this.offer(m, target, offerId));
      }
      done();
    });
  }

  private offer(from: Member, to: Member, offerId: string): void {
    if (to.gone || !to.accepts(from.id)) return;
    // Answer: ICE gathering, then back through the tracker to the offerer.
    this.loop.after(this.gatherMs() + to.trackerOneWayMs + from.trackerOneWayMs, () => {
      if (from.gone || !from.pending.delete(offerId)) return;
      if (from.peerIds().has(to.id)) return;
      if (this.rng.chance(this.sc.natFailure)) return; // no candidate pair works: it never opens
      const [lo, hi] = this.sc.coreMs;
      const core = this.rng.uniform(lo, hi);
      const rtt = 2 * (from.host.accessMs + to.host.accessMs + core);
      // ICE checks, DTLS and SCTP handshakes: about three round trips.
      this.loop.after(3 * rtt, () => {
        if (from.gone || to.gone || from.peerIds().has(to.id) || to.peerIds().has(from.id)) return;
        const [a, b] = this.net.channelPair(from.host, to.host, core);
        from.attach(to.id, a);
        to.attach(from.id, b);
      });
    });
  }

  // ---- run ------------------------------------------------------------------------------------

  async run(): Promise<void> {
    const sc = this.sc;
    for (let i = 0; i < sc.superPeers; i++) {
      const sp = new SuperPeer(this);
      this.superPeers.push(sp);
      sp.start();
    }
    for (let i = 0; i < sc.viewers; i++) {
      const at = sc.arrivalGapS !== undefined ? i * sc.arrivalGapS * 1000 : this.rng.uniform(0, sc.rampS * 1000);
      this.loop.at(at, () => this.arrive());
    }
    const tick = () => {
      const phase = this.phase;
      this.phase = (this.phase + 1) % PHASES;
      this.active = this.active.filter((v) => !v.gone);
      for (let i = phase; i < this.active.length; i += PHASES) (this.active[i] as Viewer).tick();
      this.loop.after(TICK_MS / PHASES, tick);
    };
    this.loop.after(0, tick);
    await this.loop.run(this.endMs);
    for (const v of this.active) v.finish();
  }

  arrive(): void {
    if (this.loop.now() >= this.endMs) return;
    const v = new Viewer(this);
    this.viewers.push(v);
    this.active.push(v);
    v.start();
    if (isFinite(this.sc.meanSessionS)) {
      this.loop.after(this.rng.exponential(this.sc.meanSessionS * 1000), () => {
        v.leave();
        this.arrive(); // a new viewer takes the place: the audience holds at N
      });
    }
  }

  result(wallSeconds: number): Result {
    const vs = this.viewers;
    const http = vs.reduce((n, v) => n + v.http, 0) * this.sc.byteScale;
    const p2p = vs.reduce((n, v) => n + v.p2p, 0) * this.sc.byteScale;
    let playedBytes = 0;
    for (const id of this.played) playedBytes += this.realBytes(id);
    const startups = vs.filter((v) => v.startupMs !== undefined).map((v) => v.startupMs as number);
    const watched = vs.reduce((n, v) => n + v.watchMs, 0);
    const stalled = vs.reduce((n, v) => n + v.rebufferMs, 0);
    const ratios = vs.filter((v) => v.http + v.p2p > 0).map((v) => v.up / (v.http + v.p2p));
    const links = this.net.linkStats;
    return {
      scenario: this.sc,
      sessions: vs.length,
      originBytes: this.originBytes,
      originCopiesPerSegment: playedBytes ? this.originBytes / playedBytes : 0,
      steadyCopiesPerSegment: this.steadyCopies(),
      httpBytes: http,
      p2pBytes: p2p,
      p2pShare: http + p2p ? p2p / (http + p2p) : 0,
      uploadedBytes: vs.reduce((n, v) => n + v.up, 0) * this.sc.byteScale,
      droppedBytes: vs.reduce((n, v) => n + v.dropped, 0) * this.sc.byteScale,
      relayedBytes: vs.reduce((n, v) => n + v.relayed, 0) * this.sc.byteScale,
      peerLinks: { pathLimited: links.pathLimited / Math.max(1, links.bytes), byRate: links.byRate.map((b) => b / Math.max(1, links.bytes)) },
      startupMedianMs: percentile(startups, 0.5),
      startupP95Ms: percentile(startups, 0.95),
      rebufferRatio: watched + stalled ? stalled / (watched + stalled) : 0,
      uploadRatio: { mean: ratios.reduce((a, b) => a + b, 0) / Math.max(1, ratios.length), p50: percentile(ratios, 0.5), p95: percentile(ratios, 0.95), max: Math.max(0, ...ratios) },
      meanPeers: vs.reduce((n, v) => n + v.peerSamples, 0) / Math.max(1, vs.reduce((n, v) => n + v.samples, 0)),
      superPeerBytes: this.superPeers.reduce((n, sp) => n + sp.up, 0) * this.sc.byteScale,
      segmentsServed: this.played.size,
      loads: Object.fromEntries(Object.entries(this.loads).map(([k, l]) => [k, { n: l.n, meanMs: Math.round(l.ms / l.n) }])),
      simSeconds: this.endMs / 1000,
      wallSeconds,
      events: this.loop.events,
    };
  }
}

/** A viewer: the SDK's swarm for the stream and a player that asks it for segments. */
class Viewer implements Member {
  readonly id: string;
  readonly host: Host;
  readonly trackerOneWayMs: number;
  readonly swarm: StreamSwarm;
  gone = false;
  pending = new Map<string, number>();
  http = 0;
  p2p = 0;
  up = 0;
  /** Bytes received and thrown away (a peer's or a stopped HTTP response's). */
  dropped = 0;
  /** Of `up`, bytes of segments still arriving here (relayed). */
  relayed = 0;
  startupMs?: number;
  rebufferMs = 0;
  watchMs = 0;
  samples = 0;
  peerSamples = 0;
  private readonly joinedAt: number;
  private known = 0;
  private nextSeg = 0;
  private loading = false;
  private started = false;
  private playing = false;
  private anchorT = 0;
  private anchorPos = 0;
  private bufferedEnd = 0;
  private stallAt?: unknown;
  private stallStart = 0;
  /** When playback last (re)started: watching time counts from here. */
  private watchFrom = 0;
  private announceEv?: unknown;
  private announcing = false;
  private lastPeerCount = 0;

  constructor(
    private readonly w: World,
  ) {
    const sc = w.sc;
    const a = drawAccess(sc.population, w.rng);
    this.host = newHost(a.upBps / sc.byteScale, a.downBps / sc.byteScale, a.accessMs, a.loss);
    this.trackerOneWayMs = a.accessMs + sc.trackerRttMs / 2;
    this.id = w.newId("-SC0001-");
    this.joinedAt = w.loop.now();
    // The SDK's settings in bytes and bytes per second are real bytes: scaled as the bytes are.
    const scheduler = Object.fromEntries(
      Object.entries({ ...DEFAULT_SCHEDULER, ...sc.scheduler }).map(([k, v]) => [k, k.endsWith("Bps") || k.endsWith("Bytes") ? v / sc.byteScale : v]),
    ) as SchedulerConfig;
    const config = resolveConfig({ announce: [], logLevel: "none", p2pEnabled: sc.p2p, multiSource: sc.multiSource, relay: sc.relay, memoryCacheLimit: sc.memorySegments * (w.segmentData(0).length + 1), scheduler });
    const ctx: SwarmContext = {
      config,
      log: new Logger("none"),
      storage: new MemoryStorage(config.memoryLimitBytes),
      httpBps: new Ewma(0.3, config.schedulerConfig.defaultHttpBps),
      httpLatencyS: new Ewma(0.3, 0.1),
      // Before it starts, the player starts at the segment it loads first, as hls.js says.
      playback: () => ({ position: this.position(), rate: 1, playing: this.playing, started: this.started, startAt: this.started ? undefined : this.nextSeg * this.w.sc.segmentS, waiting: this.started && !this.playing }),
      p2pEnabled: () => sc.p2p,
      trackers: () => [],
      onHttpBytes: (n) => (this.http += n),
      onP2PBytes: (n) => (this.p2p += n),
      onUploadBytes: (n, _peer, relayed) => {
        this.up += n;
        if (relayed) this.relayed += n;
      },
      onPeersChanged: () => this.peersChanged(),
      onSegmentStored: () => {},
      startupWaitUntil: () => 0,
      onException: () => {},
      onDroppedBytes: (n) => (this.dropped += n),
      verify: () => Promise.resolve({ ok: true }),
      onBadSegment: () => {},
      isBanned: () => false,
      uploadEnabled: () => sc.p2p && config.p2pUploadEnabled,
      uploadLimiter: () => undefined,
      disk: () => undefined,
      clock: w.loop,
      fetchSegment: w.fetcherFor(this.host),
    };
    this.swarm = new StreamSwarm(ctx, "sim", "h".repeat(20), this.id, "sim:playlist");
  }

  start(): void {
    const w = this.w;
    const sc = w.sc;
    // Master and media playlists: two round trips to the CDN before the first fragment.
    w.loop.after(2 * (sc.cdn.rttMs + 2 * this.host.accessMs), () => {
      if (this.gone) return;
      this.reload();
      if (sc.live) this.nextSeg = Math.max(0, this.known - sc.liveSyncSegments);
      else this.nextSeg = w.rng.int(Math.floor(sc.vodSegments * 0.8));
      this.anchorPos = this.nextSeg * sc.segmentS;
      this.bufferedEnd = this.anchorPos;
      this.maybeLoad();
      if (sc.live) {
        const every = sc.segmentS * 1000;
        const reload = () => {
          if (this.gone) return;
          this.reload();
          this.maybeLoad();
          w.loop.after(every, reload);
        };
        w.loop.after(every, reload);
      }
    });
  }

  private reload(): void {
    const w = this.w;
    this.known = w.sc.live ? w.available(w.loop.now()) : w.sc.vodSegments;
    this.swarm.setSegments(w.playlist(this.known), w.sc.live);
  }

  position(): number {
    if (!this.playing) return this.anchorPos;
    return Math.min(this.bufferedEnd, this.anchorPos + (this.w.loop.now() - this.anchorT) / 1000);
  }

  tick(): void {
    if (this.gone) return;
    this.swarm.active = true;
    this.swarm.pump();
    this.maybeLoad();
    if (this.started) {
      this.samples++;
      this.peerSamples += this.swarm.peerCount();
    }
  }

  /** hls.js's fragment loop: one at a time, while the buffer is under its target. */
  private maybeLoad(): void {
    const sc = this.w.sc;
    if (this.loading || this.gone || !this.known) return;
    let s = this.nextSeg;
    const first = sc.live ? this.known - sc.windowSegments : 0;
    if (s < first) s = this.nextSeg = first; // fell out of the live window: jump to its start
    if (s >= (sc.live ? this.known : sc.vodSegments)) return;
    if (this.bufferedEnd - this.position() >= sc.maxBufferS) return;
    this.loading = true;
    const asked = this.w.loop.now();
    // As the engine: the swarm is joined when the player first asks for a segment.
    if (!this.swarm.isJoined && sc.p2p) this.joinSwarm();
    this.swarm.load(s).then(
      (r) => {
        this.loading = false;
        const l = (this.w.loads[r.source] ??= { n: 0, ms: 0 });
        l.n++;
        l.ms += this.w.loop.now() - asked;
        if (this.gone) return;
        this.w.played.add(s);
        if (s === this.nextSeg) this.buffered(s);
        this.maybeLoad();
      },
      () => {
        this.loading = false;
        const f = (this.w.loads.failed ??= { n: 0, ms: 0 });
        f.n++;
        f.ms += this.w.loop.now() - asked;
        if (!this.gone) this.w.loop.after(1000, () => this.maybeLoad());
      },
    );
  }

  private buffered(s: number): void {
    const sc = this.w.sc;
    const now = this.w.loop.now();
    const pos = this.position();
    this.nextSeg = s + 1;
    if (this.bufferedEnd < s * sc.segmentS) this.anchorPos = s * sc.segmentS; // a jump
    this.bufferedEnd = (s + 1) * sc.segmentS;
    if (!this.started) {
      this.started = true;
      this.startupMs = now - this.joinedAt;
      this.anchorPos = s * sc.segmentS;
    } else if (!this.playing) {
      this.rebufferMs += now - this.stallStart;
    } else this.anchorPos = Math.max(pos, this.anchorPos);
    if (!this.playing) this.watchFrom = now;
    this.playing = true;
    this.anchorT = now;
    this.w.loop.clearTimeout(this.stallAt);
    this.stallAt = this.w.loop.after((this.bufferedEnd - this.anchorPos) * 1000, () => this.stall());
  }


  private stall(): void {
    const now = this.w.loop.now();
    this.anchorPos = this.bufferedEnd;
    this.playing = false;
    this.stallStart = now;
    this.watchMs += now - this.watchFrom;
    this.swarm.pump(); // as the engine does on a rebuffer
  }

  finish(): void {
    if (this.playing) this.watchMs += this.w.loop.now() - this.watchFrom;
    else if (this.started) this.rebufferMs += this.w.loop.now() - this.stallStart;
    this.playing = false;
    this.started = false;
  }

  leave(): void {
    if (this.gone) return;
    this.finish();
    this.gone = true;
    this.w.loop.clearTimeout(this.stallAt);
    this.w.loop.clearTimeout(this.announceEv);
    this.w.removeMember(this);
    this.swarm.destroy();
  }

  // ---- tracker and peers ----------------------------------------------------------------------

  private joinSwarm(): void {
    this.swarm.join();
    this.announceNow();
  }

  private announceNow(): void {
    if (this.gone || this.announcing) return;
    this.announcing = true;
    this.w.loop.clearTimeout(this.announceEv);
    this.w.announce(this, () => {
      this.announcing = false;
      if (!this.gone) this.announceEv = this.w.loop.after(this.w.sc.announceIntervalS * 1000, () => this.announceNow());
    });
  }

  /** A peer left: announce again soon for new ones (the tracker connection's announceSoon). */
  private peersChanged(): void {
    const n = this.swarm.peerCount();
    if (n < this.lastPeerCount && !this.gone && !this.announcing && this.swarm.isJoined) {
      this.w.loop.clearTimeout(this.announceEv);
      this.announceEv = this.w.loop.after(500 + this.w.rng.next() * 1000, () => this.announceNow());
    }
    this.lastPeerCount = n;
  }

  peerIds(): Set<string> {
    return new Set(this.swarm.peerIds());
  }

  counted(swarmSize: number): void {
    this.swarm.trackerCounts(0, swarmSize);
  }

  accepts(from: string): boolean {
    return !this.gone && this.swarm.isJoined && from !== this.id && !this.swarm.peerIds().includes(from) && this.swarm.peerCount() < MAX_PEERS;
  }

  offersToMake(): number {
    if (!this.w.sc.p2p) return 0;
    return Math.max(0, Math.min(OFFERS_PER_ANNOUNCE, MAX_PEERS - this.swarm.peerCount() - this.pending.size));
  }

  attach(remote: string, ch: SimChannel): void {
    if (this.gone || !this.swarm.isJoined) return ch.close();
    const session = this.swarm.addPeer(remote, ch);
    ch.onMessage = (d) => session.onMessage(d);
    ch.onDrain = () => session.onDrain();
    ch.onClose = () => this.swarm.dropPeer(remote, "channel closed");
  }
}

/**
 * A super peer worker: fetches each live segment from the origin once as the playlist lists it
 * (VOD: on demand plus 3 ahead), serves viewers over the same protocol (PeerSession), answers
 * offers up to its connection limit and makes 10 offers per announce.
 */
class SuperPeer implements Member, PeerHost {
  readonly id: string;
  readonly host: Host;
  readonly trackerOneWayMs = 5;
  gone = false;
  pending = new Map<string, number>();
  up = 0;
  private readonly held = new Map<number, Uint8Array>();
  private readonly fetching = new Set<number>();
  private readonly sessions = new Map<string, PeerSession>();
  private readonly fetch;

  constructor(private readonly w: World) {
    const bps = (w.sc.superPeerUpMbps * MBPS) / w.sc.byteScale;
    this.host = newHost(bps, bps, 1, 0);
    this.id = w.newId("-SCSP01-");
    this.fetch = w.fetcherFor(this.host);
  }

  start(): void {
    const w = this.w;
    const sc = w.sc;
    if (sc.live) {
      const poll = () => {
        const known = w.available(w.loop.now());
        for (let id = Math.max(0, known - sc.windowSegments); id < known; id++) this.get(id);
        for (const id of this.held.keys()) if (id < known - sc.windowSegments - 3) this.held.delete(id);
        w.loop.after((sc.segmentS * 1000) / 2, poll);
      };
      poll();
    }
    const announce = () => {
      w.announce(this, () => w.loop.after(sc.announceIntervalS * 1000, announce));
    };
    w.loop.after(1000, announce);
  }

  private get(id: number): void {
    if (this.held.has(id) || this.fetching.has(id)) return;
    this.fetching.add(id);
    void this.fetch(`sim:${id}`).then((r) => {
      this.fetching.delete(id);
      this.held.set(id, r.data);
      const ids = [...this.held.keys()].sort((a, b) => b - a);
      for (const s of this.sessions.values()) s.announce(ids, [...this.fetching]);
    });
  }

  segmentData(id: number): Uint8Array | undefined {
    const d = this.held.get(id);
    if (!d && !this.w.sc.live && id < this.w.sc.vodSegments) for (let i = id; i < Math.min(this.w.sc.vodSegments, id + 4); i++) this.get(i);
    return d;
  }

  uploadAllowed(): boolean {
    return true;
  }
  onAnnouncement(): void {}
  onUploaded(n: number): void {
    this.up += n;
  }
  onProtocolError(session: PeerSession): void {
    this.drop(session.remotePeerId);
  }

  private drop(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.close();
  }

  peerIds(): Set<string> {
    return new Set(this.sessions.keys());
  }

  accepts(from: string): boolean {
    return !this.sessions.has(from) && this.sessions.size < this.w.sc.superPeerMaxConnections;
  }

  offersToMake(): number {
    const room = this.w.sc.superPeerMaxConnections - this.sessions.size;
    return Math.max(0, Math.min(10, Math.ceil(room / 2)));
  }

  attach(remote: string, ch: SimChannel): void {
    const session = new PeerSession(remote, ch, this);
    this.sessions.set(remote, session);
    ch.onMessage = (d) => session.onMessage(d);
    ch.onDrain = () => session.onDrain();
    ch.onClose = () => this.drop(remote);
    // As the super peer's sessions answer a viewer's greeting: parts and queued requests.
    session.hello(Extension.ByteRanges | Extension.Queue);
    session.announce([...this.held.keys()].sort((a, b) => b - a), [...this.fetching]);
  }
}
