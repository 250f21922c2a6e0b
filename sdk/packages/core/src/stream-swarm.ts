/**
 * One swarm: the peers and transfers of one stream variant (one info hash). Talks to the tracker
 * connections, owns the RTCPeerConnections of its peers and runs the scheduler's decisions.
 */
import { realClock, type Clock, type TimerHandle } from "./clock.js";
import type { ResolvedConfig } from "./config.js";
import { fetchSegmentBytes, type ByteRange, type Ewma } from "./http.js";
import type { Logger } from "./logger.js";
import { PeerSession, type ByteChannel, type DownloadHandlers, type GrowingSegment, type PeerHost } from "./peer/peer-session.js";
import { acceptAnswer, answerOffer, channelOpen, createOffer, type PendingOffer } from "./peer/rtc.js";
import { decideSource, p2pBudgetS, planPrefetch, shouldAbandon, designatedSeeder, seedsFromOrigin, type PrefetchInput, type SchedulerConfig, type TransferProgress } from "./scheduler.js";
import { SegmentTransfer, type Origin, type Source } from "./segment-transfer.js";
import type { DiskCache } from "./disk-cache.js";
import { peerToReplace } from "./peer-replacement.js";
import { isServerPeerId } from "./swarm-id.js";
import { MemoryStorage } from "./storage.js";
import type { UploadLimiter } from "./upload-limit.js";
import { answerMessage, randomOfferId, type OutgoingOffer } from "./tracker/messages.js";
import type { TrackerConnection, SwarmSubscription } from "./tracker/tracker-connection.js";

/** `version`: what else tells the segment's bytes apart (a file's length), part of its disk cache key. */
export type SegmentInfo = { id: number; url: string; byteRange?: ByteRange; startTime: number; endTime: number; version?: string };

/**
 * A VOD segment's key in the disk cache: the swarm and id (what peers know it by), then its URL
 * without query (signed URLs change from one visit to the next), byte range and version, so that
 * a changed playlist never reads another segment's bytes.
 */
export function diskKey(swarmId: string, seg: SegmentInfo): string {
  const range = seg.byteRange ? `@${seg.byteRange.start}-${seg.byteRange.end}` : "";
  const url = seg.url.split(/[?#]/)[0];
  return `${swarmId}|${seg.id}|${url}${range}${seg.version !== undefined ? `#${seg.version}` : ""}`;
}

/**
 * The playhead. Before playback has started (`started` false) the media clock says nothing
 * about when segments are due (a live stream's timeline starts far from 0). Playback will begin
 * at `startAt` when the player has said where (hls.js's start position), else somewhere in the
 * first segment it asks for (at its end, to be safe); the segments up to there and within
 * `startupBufferS` past it (what the player buffers before it plays, Shaka's `rebufferingGoal`)
 * are due now, and each later one its distance in media time past them. `waiting`: playback
 * began and stalled, the player has nothing to play: whatever it waits for is due now, whatever
 * its time says (a progressive file's piece times are estimates from byte offsets).
 */
export type Playback = { position: number; rate: number; playing: boolean; started?: boolean; startAt?: number; startupBufferS?: number; waiting?: boolean };

export type LoadResult = { data: Uint8Array; source: "http" | "p2p" | "cache" | "mixed" };

/** The outcome of a whole segment's check; `blame`: the bytes were wrong, not merely unverifiable. */
export type Verification = { ok: true } | { ok: false; reason: string; blame: boolean };

/** What a swarm needs from the engine that owns it. */
export interface SwarmContext {
  config: ResolvedConfig;
  log: Logger;
  storage: MemoryStorage;
  httpBps: Ewma;
  httpLatencyS: Ewma;
  playback(): Playback;
  p2pEnabled(): boolean;
  trackers(): TrackerConnection[];
  onHttpBytes(n: number): void;
  onP2PBytes(n: number, peerId: string): void;
  /** `relayed`: of a segment still arriving here. */
  onUploadBytes(n: number, peerId: string, relayed: boolean): void;
  onPeersChanged(): void;
  onSegmentStored(swarm: StreamSwarm): void;
  /** A segment is whole and checked: where its bytes came from. */
  onDelivered?(delivery: Delivery): void;
  startupWaitUntil(): number;
  onException(code: "HTTP_EXPT" | "PEER_EXPT", message: string): void;
  /** Bytes received and not used: stale, beyond a segment's length, or from sources that disagreed. */
  onDroppedBytes(n: number): void;
  /** Checks a whole segment before it is played, stored or announced (digests, the site's validator). */
  verify(swarm: StreamSwarm, seg: SegmentInfo, data: Uint8Array, fromPeers: boolean): Promise<Verification>;
  /**
   * A segment from these peers failed its check: count it, blame them (disconnect, ban).
   * `proven`: each of them sent wrong bytes (not merely took part in a bad segment).
   */
  onBadSegment(swarm: StreamSwarm, seg: SegmentInfo, peers: string[], v: Verification & { ok: false }, proven?: boolean, relayed?: ReadonlySet<string>): void;
  /**
   * A peer says what it relayed to us of a segment may be wrong (its own copy failed): a bad
   * segment it relayed is not its fault. `relayed` in {@link onBadSegment}: the peers among the
   * senders that were relaying the segment as it reached them.
   */
  onRetracted?(swarm: StreamSwarm, peerId: string, segmentId: number): void;
  /** Peers banned for this session: no connection to them is kept or made. */
  isBanned(peerId: string): boolean;
  /** Upload allowed now: P2P on, `p2pUploadEnabled`, and the connection allows it (network-policy.ts). */
  uploadEnabled(): boolean;
  /** The cap on what we serve (`maxUploadKbps`), shared by every swarm; none: uncapped. */
  uploadLimiter(): UploadLimiter | undefined;
  /** The disk cache of VOD segments once open; undefined when off (or IndexedDB missing). */
  disk(): Promise<DiskCache | undefined> | undefined;
  /** Time and timers (default: the real ones). */
  clock?: Clock;
  /** How segments are fetched over HTTP (default: {@link fetchSegmentBytes}). */
  fetchSegment?: typeof fetchSegmentBytes;
}

type Waiter = { resolve(r: LoadResult): void; reject(e: unknown): void };

type Transfer = {
  seg: SegmentInfo;
  /** The bytes so far; only the current source's count (see segment-transfer.ts). */
  bytes: SegmentTransfer;
  /** `verify`: whole, being checked before anyone gets it. */
  mode: "http" | "p2p" | "wait" | "verify";
  /** The peers sending it now: one, or several sending parts of it (byte-range extension). */
  peerParts: Map<string, PeerPart>;
  /** Stops the HTTP fetch. */
  cancel?: () => void;
  startedAt: number;
  lastByteAt?: number;
  waiters: Waiter[];
  /** HTTP fetches from byte 0 that gave a length other than the playlist's (at most one retry). */
  httpRestarts: number;
  /** Peers that failed this segment: not asked again for it. */
  failedPeers: Set<string>;
  /**
   * When the player's first waiting request needs it (this clock's ms): a deadline that never
   * moves later, so a playhead that stands still (a seek, a stall on this very segment) cannot
   * keep it "in time to spare" forever.
   */
  dueAt?: number;
  /**
   * A version of the segment assembled from several peers that failed its check: who sent
   * which bytes, judged against the right bytes once the segment is whole and checked.
   */
  suspect?: { data: Uint8Array; origins: Origin[]; verdict: Verification & { ok: false } };
  /** Peers that relayed their bytes of it to us while still receiving it themselves. */
  relayedBy: Set<string>;
  /** We offered it to a peer while still receiving it: what we sent must be retracted if it turns out wrong. */
  relayedOut: boolean;
  /** Parts asked for queued behind another on the same peer's channel. */
  queuedParts: number;
  /** Parts taken from the tail of another peer's part under way ({@link StreamSwarm.takeTail}). */
  tailParts: number;
  /** The checked segment, once whole: what a relay still under way sends the rest from. */
  whole?: Uint8Array;
};

/** One peer's share of a transfer: the whole rest of the segment, or a part of it. */
/** `next`: the part asked to follow this one on the same channel (queued), if any. */
type PeerPart = { src: Source; cancel: () => void; startedAt: number; lastByteAt?: number; got: number; next?: PeerPart };

/**
 * `silentStrikes`: transfers in a row this peer let go silent; at MAX_SILENT_STRIKES it is
 * dropped. `busyUntil`: it said its upload was spent; not asked before then.
 */
type PeerEntry = { session: PeerSession; ours: boolean; silentStrikes: number; connectedAt: number; busyUntil?: number };

/**
 * How much later than a part under way a new request's first byte is expected, when an idle
 * holder takes the part's tail: a round trip and the sender's queue (0.3–0.45 s traced in the
 * simulator on drawn networks).
 */
const TAIL_WAIT_S = 0.4;

/** A peer that answered "busy" is asked again after this long. */
const BUSY_BACKOFF_MS = 500;

/**
 * How long a segment new to us waits for peers outside our election (P2P Media Loader) that may
 * be fetching it, before we fetch it by HTTP ourselves (budget permitting).
 */
const FOREIGN_PEER_PATIENCE_MS = 1500;

/** A peer that goes silent on this many transfers in a row is disconnected (as P2P Media Loader does after 3). */
const MAX_SILENT_STRIKES = 3;

type PrefetchCandidate = PrefetchInput["candidates"][number];

const OFFER_TTL_MS = 50_000;
const CHANNEL_OPEN_TIMEOUT_MS = 15_000;
const LIVE_KEEP_BEHIND_S = 60;
/**
 * The longest the player waits on the disk cache (opening it and reading its index, or reading
 * one segment): IndexedDB can stall (another tab holding an upgrade, a busy disk), and past
 * this the segment comes from the network as if the cache were empty.
 */
const DISK_PATIENCE_MS = 2000;

/** The promise's value, or undefined once `ms` have passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Where a segment handed to the player came from: HTTP, or the peers whose bytes it holds. */
/**
 * `queuedParts`: parts of it asked for while the one before them on the same peer's channel was
 * still coming; `tailParts`: parts taken from the tail of another peer's part under way.
 */
export type Delivery = { source: LoadResult["source"]; peers: string[]; queuedParts: number; tailParts: number };

/** Deliveries remembered per swarm, to tell where a segment the player rejects came from. */
const DELIVERIES_KEPT = 256;

export class StreamSwarm implements PeerHost {
  readonly segments = new Map<number, SegmentInfo>();
  /** The playlist's segments by start time, for prefetch, which walks them on every pump. */
  private inPlayOrder: SegmentInfo[] = [];
  private readonly deliveries = new Map<number, Delivery>();
  /** When each segment id first appeared in the playlist. */
  private readonly firstSeen = new Map<number, number>();
  live = false;
  private readonly peers = new Map<string, PeerEntry>();
  private readonly pendingOffers = new Map<string, { offer: PendingOffer; at: number }>();
  private readonly transfers = new Map<number, Transfer>();
  /**
   * Peers that sent parts of a bad segment not yet judged ({@link judgeSuspects}): asked for
   * nothing until then, so that a liar's bytes reach no second segment before its ban.
   */
  private readonly suspects = new Set<string>();
  private readonly httpLoading = new Set<number>();
  private announceTimer?: TimerHandle;
  private joined = false;
  private joinedAt = 0;
  /**
   * Other peers the trackers count in this swarm (the most any tracker said since we joined);
   * undefined until one answered. With none, there are no first peers to wait for.
   */
  private othersOnTrackers?: number;
  /** The swarm's size in the latest tracker count, us included: how many elect origin seeders. */
  private swarmSize?: number;
  /**
   * Before playback has started: the end time of the first segment the player asked for, by
   * which playback will have begun (see {@link Playback}).
   */
  private startupAnchorS?: number;
  private destroyed = false;
  lastUsed: number;
  /** The stream the player is on: only it prefetches. */
  active = false;
  /** Average bytes per second of media, learned from stored segments (for size estimates). */
  private mediaBps?: number;
  /** VOD segments of the current playlist held in the disk cache, by id: their keys. */
  private readonly onDisk = new Map<number, string>();
  /** The disk cache's keys of this swarm being read (once, at the first VOD playlist). */
  private diskIndex?: Promise<void>;
  private diskIndexDone = false;
  /** Fetches ahead waiting for the disk index. */
  private readonly aheadAfterIndex = new Set<number>();
  private lastReplacementAt?: number;
  private readonly clock: Clock;

  constructor(
    private readonly ctx: SwarmContext,
    readonly swarmId: string,
    readonly infoHash: string,
    readonly peerId: string,
    readonly runtimeUrl: string,
  ) {
    this.clock = ctx.clock ?? realClock;
    this.lastUsed = this.clock.now();
  }

  // ---- tracker membership -------------------------------------------------------------------

  join(): void {
    if (this.joined || this.destroyed) return;
    this.joined = true;
    this.joinedAt = this.clock.now();
    this.othersOnTrackers = undefined;
    this.swarmSize = undefined;
    for (const t of this.ctx.trackers()) t.join(this.subscription());
  }

  /** Rejoin on a tracker connection created later (or after P2P is re-enabled). */
  joinTracker(t: TrackerConnection): void {
    if (this.joined) t.join(this.subscription());
  }

  leave(): void {
    if (!this.joined) return;
    this.joined = false;
    for (const t of this.ctx.trackers()) t.leave(this.infoHash);
    for (const id of [...this.peers.keys()]) this.dropPeer(id, "leaving swarm");
    for (const { offer } of this.pendingOffers.values()) offer.pc.close();
    this.pendingOffers.clear();
  }

  get isJoined(): boolean {
    return this.joined;
  }

  private subscription(): SwarmSubscription {
    return {
      infoHash: this.infoHash,
      peerId: this.peerId,
      makeOffers: () => this.makeOffers(),
      onOffer: (remote, offerId, sdp, via) => void this.onOffer(remote, offerId, sdp, via),
      onAnswer: (remote, offerId, sdp) => void this.onAnswer(remote, offerId, sdp),
      onPeerCounts: (complete, incomplete) => this.trackerCounts(complete, incomplete),
    };
  }

  /** A tracker's count of the swarm's seeders and leechers (us included), from its announce response. */
  trackerCounts(complete?: number, incomplete?: number): void {
    if (complete === undefined && incomplete === undefined) return;
    const size = Math.max(1, (complete ?? 0) + (incomplete ?? 0));
    this.othersOnTrackers = Math.max(this.othersOnTrackers ?? 0, size - 1);
    this.swarmSize = size;
  }

  private async makeOffers(): Promise<OutgoingOffer[]> {
    const now = this.clock.now();
    for (const [id, p] of this.pendingOffers) {
      if (now - p.at > OFFER_TTL_MS) {
        p.offer.pc.close();
        this.pendingOffers.delete(id);
      }
    }
    if (!this.ctx.p2pEnabled()) return [];
    const room = this.ctx.config.maxPeers - this.peers.size - this.pendingOffers.size;
    const n = Math.max(0, Math.min(this.ctx.config.offersPerAnnounce, room));
    const made = await Promise.allSettled(Array.from({ length: n }, () => createOffer(this.ctx.config.rtcConfig)));
    const out: OutgoingOffer[] = [];
    for (const r of made) {
      if (r.status !== "fulfilled") {
        this.ctx.log.warn("offer failed", r.reason);
        continue;
      }
      if (this.destroyed || !this.joined) {
        r.value.pc.close();
        continue;
      }
      const offerId = randomOfferId();
      this.pendingOffers.set(offerId, { offer: r.value, at: this.clock.now() });
      out.push({ offer_id: offerId, offer: { type: "offer", sdp: r.value.sdp } });
    }
    return out;
  }

  private async onOffer(remote: string, offerId: string, sdp: string, via: TrackerConnection): Promise<void> {
    if (!this.admits(remote)) return;
    try {
      const a = await answerOffer(this.ctx.config.rtcConfig, sdp);
      if (this.destroyed || !this.joined) return a.pc.close();
      via.send(answerMessage({ infoHash: this.infoHash, peerId: this.peerId, toPeerId: remote, offerId, sdp: a.sdp }));
      const timeout = setTimeout(() => a.pc.close(), CHANNEL_OPEN_TIMEOUT_MS);
      const channel = await a.channel;
      clearTimeout(timeout);
      await this.attach(remote, a.pc, channel);
    } catch (err) {
      this.ctx.log.debug("answering offer failed", err);
    }
  }

  /**
   * Whether an offer from `remote` is answered: P2P on, not us, not connected or banned, and
   * room for it, made by dropping a slow peer when at the limit.
   */
  admits(remote: string): boolean {
    if (!this.ctx.p2pEnabled() || remote === this.peerId || this.peers.has(remote) || this.ctx.isBanned(remote)) return false;
    return this.peers.size < this.ctx.config.maxPeers || this.replaceSlowPeer();
  }

  /**
   * At the connection limit with another peer offering: drops the peer that delivered slowest,
   * when it is clearly slower than the others (peer-replacement.ts). True if room was made.
   */
  private replaceSlowPeer(): boolean {
    const now = this.clock.now();
    const rates = [...this.peers.entries()].map(([peerId, e]) => ({ peerId, connectedAtMs: e.connectedAt, throughputBps: e.session.throughput, busy: e.session.busy, server: isServerPeerId(peerId) }));
    const slow = peerToReplace(rates, now, this.lastReplacementAt);
    if (!slow) return false;
    this.lastReplacementAt = now;
    this.dropPeer(slow, "replaced by a new peer: slowest delivery");
    return true;
  }

  private async onAnswer(remote: string, offerId: string, sdp: string): Promise<void> {
    const p = this.pendingOffers.get(offerId);
    if (!p) return;
    this.pendingOffers.delete(offerId);
    if (this.peers.has(remote) || remote === this.peerId || this.ctx.isBanned(remote)) return p.offer.pc.close();
    try {
      await acceptAnswer(p.offer, sdp);
      await this.attach(remote, p.offer.pc, p.offer.channel);
    } catch (err) {
      this.ctx.log.debug("connecting to", remote, "failed", err);
      p.offer.pc.close();
    }
  }

  private async attach(remote: string, pc: RTCPeerConnection, channel: RTCDataChannel): Promise<void> {
    await channelOpen(channel, CHANNEL_OPEN_TIMEOUT_MS).catch((err) => {
      pc.close();
      throw err;
    });
    if (this.destroyed || !this.joined || this.peers.has(remote) || this.ctx.isBanned(remote)) {
      // Duplicate (both sides offered at once), banned meanwhile, or we left.
      pc.close();
      return;
    }
    const session = this.addPeer(remote, {
      send: (d) => channel.send(d as Uint8Array<ArrayBuffer>),
      get bufferedAmount() {
        return channel.bufferedAmount;
      },
      get maxMessageSize() {
        return pc.sctp?.maxMessageSize;
      },
      close: () => {
        channel.close();
        pc.close();
      },
    });
    channel.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) session.onMessage(e.data);
      else if (typeof e.data === "string") session.onMessage(new TextEncoder().encode(e.data));
    };
    channel.onbufferedamountlow = () => session.onDrain();
    channel.onclose = () => this.dropPeer(remote, "channel closed");
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.dropPeer(remote, `connection ${pc.connectionState}`);
    };
  }

  /**
   * Adds a connected peer over an open byte channel and greets it with our announcement. The
   * caller forwards the channel's messages and drain events to the returned session.
   */
  addPeer(remote: string, channel: ByteChannel): PeerSession {
    const session = new PeerSession(remote, channel, this);
    const ours = remote.startsWith(this.ctx.config.peerIdPrefix.slice(0, 3));
    this.peers.set(remote, { session, ours, silentStrikes: 0, connectedAt: this.clock.now() });
    this.ctx.log.info("peer connected", remote, "in", this.infoHash);
    if (ours) session.hello(); // our extensions: other clients would ignore it, so they are not sent it
    if (this.ctx.uploadEnabled()) session.announce(this.storedIds(), [...this.httpLoading]);
    this.ctx.onPeersChanged();
    return session;
  }

  dropPeer(remote: string, why: string): void {
    const e = this.peers.get(remote);
    if (!e) return;
    this.peers.delete(remote);
    this.ctx.log.info("peer dropped", remote, why);
    e.session.close();
    this.ctx.onPeersChanged();
    for (const t of this.ctx.trackers()) t.announceSoon(this.infoHash);
  }

  /** Where the segment the player has was loaded from, while remembered. */
  delivery(id: number): Delivery | undefined {
    return this.deliveries.get(id);
  }

  /** Connected peers with the bytes exchanged with each. */
  peerInfo(): { peerId: string; bytesDown: number; bytesUp: number; throughput?: number }[] {
    return [...this.peers.values()].map(({ session: s }) => ({ peerId: s.remotePeerId, bytesDown: s.bytesDown, bytesUp: s.bytesUp, throughput: s.throughput }));
  }

  peerIds(): string[] {
    return [...this.peers.keys()];
  }

  peerCount(): number {
    return this.peers.size;
  }

  // ---- PeerHost (called by sessions) ---------------------------------------------------------

  segmentData(id: number): Uint8Array | GrowingSegment | undefined | Promise<Uint8Array | undefined> {
    const held = this.ctx.storage.get(this.swarmId, id, this.clock.now()) ?? (this.onDisk.has(id) ? this.readDisk(id) : undefined);
    const t = this.transfers.get(id);
    return held ?? (t && this.relayable(t) ? this.growing(t) : undefined);
  }

  holds(id: number): boolean {
    return this.ctx.storage.has(this.swarmId, id) || this.onDisk.has(id);
  }

  uploadAllowed(): boolean {
    return this.ctx.uploadEnabled();
  }

  uploadLimiter(): UploadLimiter | undefined {
    return this.ctx.uploadLimiter();
  }

  onAnnouncement(): void {
    this.pump();
  }

  onRetracted(session: PeerSession, id: number): void {
    const peerId = session.remotePeerId;
    this.ctx.onRetracted?.(this, peerId, id);
    const t = this.transfers.get(id);
    if (!t || !t.relayedBy.has(peerId) || !t.bytes.contributors.includes(peerId)) return;
    // Its bytes held may be wrong and cannot be told from the others: start the segment over.
    this.ctx.log.info("peer", peerId, "retracted segment", id, ": its bytes are dropped");
    this.stopSource(t);
    t.bytes.discard();
    t.failedPeers.add(peerId);
    this.retractRelayed(t);
    t.mode = "wait";
    this.resume(t);
  }

  onUploaded(bytes: number, session: PeerSession, relayed = false): void {
    this.ctx.onUploadBytes(bytes, session.remotePeerId, relayed);
  }

  onDroppedBytes(bytes: number): void {
    this.ctx.onDroppedBytes(bytes);
  }

  onProtocolError(session: PeerSession, reason: string): void {
    this.ctx.log.warn("peer", session.remotePeerId, "protocol error:", reason);
    this.ctx.onException("PEER_EXPT", `peer ${session.remotePeerId}: ${reason}`);
    this.dropPeer(session.remotePeerId, reason);
  }

  // ---- relay (segments still arriving) ----------------------------------------------------------

  /** Offered to our peers before it is whole: its length is known and bytes are coming. */
  private relayable(t: Transfer): boolean {
    return this.ctx.config.relay !== false && t.bytes.total !== undefined && t.bytes.received > 0 && (t.mode === "http" || t.mode === "p2p" || t.mode === "verify");
  }

  /** What a session serves of a segment still arriving: its bytes as they come, until it is whole or lost. */
  private growing(t: Transfer): GrowingSegment {
    const total = t.bytes.total as number;
    const discards = t.bytes.discards;
    t.relayedOut = true;
    return {
      total,
      read: (from, max) => {
        if (t.whole) return t.whole.subarray(from, from + max);
        if (this.transfers.get(t.seg.id) !== t || t.bytes.discards !== discards || t.bytes.total !== total) return null;
        return t.bytes.read(from, max);
      },
    };
  }

  /** `n` bytes joined the segment: sessions relaying it send on; its first bytes make it worth announcing. */
  private grew(t: Transfer, n: number): void {
    this.pumpRelays(t);
    if (t.bytes.received === n && this.relayable(t)) this.scheduleAnnounce();
  }

  /** The segment's bytes grew, or it ended: sessions relaying it send on. */
  private pumpRelays(t: Transfer): void {
    if (!t.relayedOut) return;
    for (const e of this.peers.values()) if (e.session.relayingId === t.seg.id) e.session.onRelayBytes();
  }

  /** What we relayed of this segment may be wrong: the peers that speak relay are told. */
  private retractRelayed(t: Transfer): void {
    this.pumpRelays(t); // uploads still under way end now (their reads say the bytes are gone)
    if (!t.relayedOut) return;
    t.relayedOut = false;
    for (const e of this.peers.values()) e.session.retract(t.seg.id);
  }

  // ---- segments -------------------------------------------------------------------------------

  setSegments(list: SegmentInfo[], live: boolean): void {
    this.live = live;
    this.segments.clear();
    const now = this.clock.now();
    for (const s of list) {
      this.segments.set(s.id, s);
      if (!this.firstSeen.has(s.id)) this.firstSeen.set(s.id, now);
    }
    for (const id of this.firstSeen.keys()) if (!this.segments.has(id)) this.firstSeen.delete(id);
    this.inPlayOrder = [...this.segments.values()].sort((a, b) => a.startTime - b.startTime);
    if (live) this.onDisk.clear();
    else if (!this.diskIndex && this.ctx.disk()) this.diskIndex = this.indexDisk();
    else if (this.diskIndexDone) {
      for (const [id, key] of this.onDisk) {
        const seg = this.segments.get(id);
        if (!seg || diskKey(this.swarmId, seg) !== key) this.onDisk.delete(id);
      }
    }
  }

  /** Ids in memory and, for VOD, on disk: newest first, the ids most worth announcing. */
  private storedIds(): readonly number[] {
    const mem = this.ctx.storage.ids(this.swarmId);
    if (!this.onDisk.size) return mem;
    const all = new Set([...mem, ...this.onDisk.keys()]);
    return [...all].sort((a, b) => b - a);
  }

  // ---- disk cache (VOD) -----------------------------------------------------------------------

  /** Learns which of the playlist's segments the disk cache holds, then announces them. */
  private async indexDisk(): Promise<void> {
    try {
      const prefix = `${this.swarmId}|`;
      const keys = await within(
        (async () => {
          const disk = await this.ctx.disk();
          return disk && !this.live ? disk.keys(prefix) : [];
        })(),
        DISK_PATIENCE_MS,
      );
      if (!keys) this.ctx.log.warn("disk cache did not answer within", DISK_PATIENCE_MS, "ms: segments come from the network");
      for (const key of keys ?? []) {
        const id = Number(key.slice(prefix.length, key.indexOf("|", prefix.length)));
        const seg = this.segments.get(id);
        if (seg && diskKey(this.swarmId, seg) === key) this.onDisk.set(id, key);
      }
      if (this.onDisk.size) {
        this.ctx.log.info("disk cache holds", this.onDisk.size, "segments of", this.swarmId);
        this.scheduleAnnounce();
      }
    } catch (err) {
      this.ctx.log.debug("disk cache index failed", err);
    } finally {
      this.diskIndexDone = true;
    }
  }

  /**
   * A segment from the disk cache, or undefined (gone, or not the playlist's length). Only
   * segments that passed `verify` are ever written, so what is read back is as trusted as memory.
   */
  private async readDisk(id: number): Promise<Uint8Array | undefined> {
    const key = this.onDisk.get(id);
    const seg = this.segments.get(id);
    const disk = key && seg ? await within(this.ctx.disk()?.catch(() => undefined) ?? Promise.resolve(undefined), DISK_PATIENCE_MS) : undefined;
    const data = disk && key ? await within(disk.get(key).catch(() => undefined), DISK_PATIENCE_MS) : undefined;
    const want = seg?.byteRange ? seg.byteRange.end - seg.byteRange.start + 1 : undefined;
    if (!data || (want !== undefined && data.length !== want)) {
      this.onDisk.delete(id);
      return undefined;
    }
    return data;
  }

  private writeDisk(seg: SegmentInfo, data: Uint8Array): void {
    const opened = this.ctx.disk();
    if (this.live || !opened) return;
    const key = diskKey(this.swarmId, seg);
    void opened
      .then((disk) => disk?.put(key, data).then(() => void this.onDisk.set(seg.id, key)))
      .catch((err) => this.ctx.log.debug("disk cache write failed", err));
  }

  private scheduleAnnounce(): void {
    if (this.announceTimer || !this.ctx.uploadEnabled()) return;
    this.announceTimer = this.clock.setTimeout(() => {
      this.announceTimer = undefined;
      if (!this.peers.size) return;
      const l = this.storedIds();
      const p = [...this.httpLoading];
      // Peers that speak relay also hear of the segments still arriving here (the session tells only them).
      const arriving = [...this.transfers.values()].filter((t) => this.relayable(t)).map((t) => t.seg.id);
      for (const e of this.peers.values()) e.session.announce(l, p, arriving);
    }, 50);
  }

  private key(id: number): string {
    return `${this.swarmId}|${id}`;
  }

  /** Seconds until the player needs `seg`: by the playhead, and never later than `t`'s deadline. */
  private timeUntilNeededS(seg: SegmentInfo, t?: Transfer): number {
    const pb = this.ctx.playback();
    if (pb.waiting && t?.waiters.length) return 0;
    // Before playback: what it begins with is needed now, the segments after it later.
    const ahead =
      pb.started === false
        ? Math.max(0, seg.startTime - (pb.startAt ?? this.startupAnchorS ?? seg.startTime) - (pb.startupBufferS ?? 0))
        : Math.max(0, seg.startTime - pb.position) / Math.max(0.1, pb.rate || 1);
    return t?.dueAt === undefined ? ahead : Math.min(ahead, Math.max(0, (t.dueAt - this.clock.now()) / 1000));
  }

  /** Bytes HTTP would fetch to finish the transfer now (holes and the parts between them). */
  private rescueBytes(t: Transfer): number {
    return Math.max(1, t.bytes.rescueBytes ?? this.expectedBytes(t.seg) - t.bytes.received);
  }

  private expectedBytes(seg: SegmentInfo): number {
    if (seg.byteRange) return seg.byteRange.end - seg.byteRange.start + 1;
    return Math.round((this.mediaBps ?? 250_000) * Math.max(0.5, seg.endTime - seg.startTime));
  }

  /**
   * The player wants this segment: from memory, the disk cache (VOD), an ongoing transfer, a peer
   * or HTTP. `dueInS`: the player knows it needs it within that many seconds, whatever the
   * segment's time says (0: it has nothing to play until it comes, no waiting for peers).
   */
  async load(id: number, signal?: AbortSignal, dueInS?: number): Promise<LoadResult> {
    this.lastUsed = this.clock.now();
    const asked = this.segments.get(id);
    if (asked && this.startupAnchorS === undefined && this.ctx.playback().started === false) this.startupAnchorS = asked.endTime;
    if (!this.live && this.diskIndex && !this.ctx.storage.has(this.swarmId, id) && !this.transfers.has(id)) {
      await this.diskIndex;
      const data = this.onDisk.has(id) ? await this.readDisk(id) : undefined;
      if (data && !this.destroyed) {
        // Into memory: played now, served to peers from memory from then on.
        this.keep(id, data);
        return { data, source: "cache" };
      }
    }
    if (signal?.aborted) throw new DOMException("aborted", "AbortError");
    return this.loadNow(id, signal, dueInS);
  }

  private loadNow(id: number, signal?: AbortSignal, dueInS?: number): Promise<LoadResult> {
    const data = this.ctx.storage.get(this.swarmId, id, this.clock.now());
    if (data) return Promise.resolve({ data, source: "cache" });
    const seg = this.segments.get(id);
    if (!seg) return Promise.reject(new Error(`unknown segment ${id}`));
    let t = this.transfers.get(id);
    const isNew = !t;
    if (!t) {
      t = this.newTransfer(seg, "wait");
    }
    const transfer = t;
    const promise = new Promise<LoadResult>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      transfer.waiters.push(w);
      transfer.dueAt ??= this.clock.now() + this.timeUntilNeededS(seg) * 1000;
      if (dueInS !== undefined) transfer.dueAt = Math.min(transfer.dueAt, this.clock.now() + Math.max(0, dueInS) * 1000);
      signal?.addEventListener("abort", () => {
        transfer.waiters = transfer.waiters.filter((x) => x !== w);
        if (!transfer.waiters.length) transfer.dueAt = undefined;
        reject(new DOMException("aborted", "AbortError"));
        if (!transfer.waiters.length && transfer.mode === "wait") this.transfers.delete(id);
      });
    });
    if (isNew || transfer.mode === "wait") this.decide(transfer);
    return promise;
  }

  /**
   * Starts fetching a segment by HTTP before the player asks for it (the first segment, while
   * hls.js is still setting up its media buffers); the player's request then joins this
   * transfer or finds the bytes stored.
   */
  fetchAhead(id: number): boolean {
    const seg = this.segments.get(id);
    if (!seg || this.transfers.has(id) || this.ctx.storage.has(this.swarmId, id) || this.onDisk.has(id) || this.aheadAfterIndex.has(id)) return false;
    if (this.clock.now() < this.ctx.startupWaitUntil()) return false; // waitForPeer: peers first
    if (this.diskIndex && !this.diskIndexDone) {
      // Whether the disk cache holds it is known in a moment.
      this.aheadAfterIndex.add(id);
      void this.diskIndex.then(() => {
        this.aheadAfterIndex.delete(id);
        this.fetchAhead(id);
      });
      return true;
    }
    this.lastUsed = this.clock.now();
    this.startHttp(this.newTransfer(seg, "wait"));
    return true;
  }

  private newTransfer(seg: SegmentInfo, mode: Transfer["mode"]): Transfer {
    const known = seg.byteRange ? seg.byteRange.end - seg.byteRange.start + 1 : undefined;
    const t: Transfer = {
      seg,
      bytes: new SegmentTransfer(known, (n) => this.ctx.onDroppedBytes(n)),
      mode,
      peerParts: new Map(),
      startedAt: this.clock.now(),
      waiters: [],
      httpRestarts: 0,
      failedPeers: new Set(),
      relayedBy: new Set(),
      relayedOut: false,
      queuedParts: 0,
      tailParts: 0,
    };
    this.transfers.set(seg.id, t);
    return t;
  }

  /** Ends a transfer for good: its source stops, nothing it still receives is used. */
  private dropTransfer(t: Transfer): void {
    this.stopSource(t);
    if (this.transfers.get(t.seg.id) === t) this.transfers.delete(t.seg.id);
    this.pumpRelays(t); // relays of it end: their reads find it gone
  }

  /**
   * Stops the transfer's current source. Its handle goes stale first, so whatever the source
   * still reports (a cancel's own failure callback included) is ignored.
   */
  private stopSource(t: Transfer): void {
    t.bytes.stop();
    const cancel = t.cancel;
    t.cancel = undefined;
    cancel?.();
    const parts = [...t.peerParts.values()];
    t.peerParts.clear();
    for (const p of parts) cancelPart(p);
  }

  /** Stops one peer's part (and the one queued behind it); its bytes so far are kept, the rest is free again. */
  private stopPart(t: Transfer, peerId: string): void {
    const p = t.peerParts.get(peerId);
    if (!p) return;
    t.peerParts.delete(peerId);
    dropQueued(t, p); // first, so that the channel does not move on to it
    t.bytes.stop(p.src);
    p.cancel();
  }

  /** The part ended: the one queued behind it on the peer's channel, if any, is under way now. */
  private endPart(t: Transfer, peerId: string, part: PeerPart): void {
    const current = t.peerParts.get(peerId);
    if (current !== part) {
      if (current?.next === part) current.next = undefined; // ended before its turn
      return;
    }
    const next = part.next;
    part.next = undefined;
    if (!next) return void t.peerParts.delete(peerId);
    next.startedAt = this.clock.now();
    t.peerParts.set(peerId, next);
  }

  /**
   * Once half of a part has come, the peer is asked for the next free part to follow it on the
   * same channel, so that no round trip separates the two.
   */
  private queueNext(t: Transfer, peerId: string, part: PeerPart): void {
    if (part.next || t.peerParts.get(peerId) !== part || t.bytes.total === undefined || this.ctx.config.multiSource === false) return;
    const left = (t.bytes.claimEnd(part.src) ?? t.bytes.total) - (t.bytes.position(part.src) ?? part.src.from);
    if (left > part.got || !t.bytes.claimable) return;
    const e = this.peers.get(peerId);
    if (!e?.session.canQueue || this.suspects.has(peerId) || t.failedPeers.has(peerId)) return;
    const cfg = this.ctx.config.schedulerConfig;
    const size = this.partBytes(t, e.session);
    // Not when the two parts at this peer's pace would finish past the budget: HTTP may need those bytes.
    const now = this.clock.now();
    if (shouldAbandon(this.partProgress(t, part, now, this.mustFinishByMs(t, now, cfg), size), cfg)) return;
    const src = t.bytes.claim("p2p", peerId, size);
    if (src) this.requestFromPeer(t, peerId, src, part);
  }

  private holders(t: Transfer) {
    const out = [];
    for (const [peerId, e] of this.peers) {
      if (e.session.has(t.seg.id) && !t.failedPeers.has(peerId) && !this.suspects.has(peerId) && !this.relayingTo(e, t)) {
        out.push({ peerId, busy: this.isBusy(e), throughputBps: e.session.throughput, byteRanges: this.sendsParts(e.session) });
      }
    }
    return out;
  }

  /**
   * We are relaying this segment to the peer: it is receiving it from us, so whatever it could
   * send us of it would wait on our own bytes.
   */
  private relayingTo(e: PeerEntry, t: Transfer): boolean {
    return e.session.relayingId === t.seg.id;
  }

  /** Sending us something, or said it has no upload to spare a moment ago. */
  private isBusy(e: PeerEntry): boolean {
    return e.session.busy || (e.busyUntil !== undefined && this.clock.now() < e.busyUntil);
  }

  /** Chooses the source for a transfer the player waits for. */
  private decide(t: Transfer): void {
    if (t.mode !== "wait") return;
    const cfg = this.ctx.config.schedulerConfig;
    const remaining = this.rescueBytes(t);
    if (this.clock.now() < this.ctx.startupWaitUntil() && this.peers.size === 0) return; // waitForPeer
    let someoneHttp = false;
    for (const e of this.peers.values()) if (e.session.httpLoading.has(t.seg.id)) someoneHttp = true;
    const electorate = this.electorate();
    const segmentKey = this.key(t.seg.id);
    const timing = this.timing(t.seg, remaining, t);
    const ourTurn = designatedSeeder(this.peerId, electorate, segmentKey) === this.peerId;
    const d = decideSource(
      {
        ...timing,
        holders: this.holders(t),
        someoneHttpLoading: someoneHttp,
        designatedElsewhere: electorate.length > 0 && !ourTurn,
        mayArriveSoon: this.foreignPeerMayFetch(t.seg.id) || this.awaitingFirstPeers(),
        swarmMayBring: ourTurn && !seedsFromOrigin({ selfId: this.peerId, electorate, segmentKey, swarmSize: this.swarmSize, budgetS: p2pBudgetS(timing, cfg), knownForS: this.knownForS(t.seg.id) }, cfg),
        p2pEnabled: this.p2pDownloads(),
      },
      cfg,
    );
    if (d.kind === "http") this.startHttp(t);
    else if (d.kind === "p2p") this.startP2P(t, d.peerId);
  }

  /** Downloads from peers: P2P on and at least `minPeers` connected (below that we only serve). */
  private p2pDownloads(): boolean {
    return this.ctx.p2pEnabled() && this.peers.size >= (this.ctx.config.minPeers ?? 0);
  }

  /**
   * Just joined, no peer yet, the trackers know of others (or have not answered yet), and the
   * scheduler is told to give the first peers a moment.
   */
  private awaitingFirstPeers(): boolean {
    const patience = this.ctx.config.schedulerConfig.firstPeersPatienceMs;
    return patience > 0 && this.joined && this.peers.size === 0 && this.othersOnTrackers !== 0 && this.clock.now() - this.joinedAt < patience;
  }

  /** A peer outside our election is connected and the segment is new enough that it may be fetching it. */
  private foreignPeerMayFetch(id: number): boolean {
    let foreign = false;
    for (const e of this.peers.values()) if (!e.ours) foreign = true;
    return foreign && this.knownForS(id) * 1000 < FOREIGN_PEER_PATIENCE_MS;
  }

  private startHttp(t: Transfer): void {
    const src = t.bytes.begin("http");
    for (const peerId of [...t.peerParts.keys()]) this.stopPart(t, peerId); // begin made their sources stale
    t.mode = "http";
    t.startedAt = this.clock.now();
    t.lastByteAt = undefined;
    const controller = new AbortController();
    t.cancel = () => controller.abort();
    const id = t.seg.id;
    this.httpLoading.add(id);
    this.scheduleAnnounce();
    const began = this.clock.now();
    let firstByteAt = 0;
    let bytes = 0;
    // With its length stated up front, the response's bytes join the segment as they come, so
    // that peers can be relayed them; without, they join at the end.
    let streaming = false;
    (this.ctx.fetchSegment ?? fetchSegmentBytes)(t.seg.url, {
      ...httpRange(t.seg, src),
      signal: controller.signal,
      onFirstByte: (length) => {
        if (length !== undefined && t.bytes.isCurrent(src)) {
          const v = t.bytes.expect(src, length);
          if (v !== "ok") return this.httpDisagrees(t, src, v);
          streaming = true;
        }
        firstByteAt = this.clock.now();
        this.ctx.httpLatencyS.add((firstByteAt - began) / 1000);
      },
      onBytes: (chunk) => {
        bytes += chunk.length;
        if (streaming) {
          const v = t.bytes.append(src, chunk); // a stale source's bytes are dropped (and counted)
          if (v === "overlong") return this.httpDisagrees(t, src, v);
          if (v === "ok") this.grew(t, chunk.length);
        }
        t.lastByteAt = this.clock.now();
        this.ctx.onHttpBytes(chunk.length);
      },
    })
      .then((r) => {
        if (!t.bytes.isCurrent(src)) return void (streaming || t.bytes.append(src, r.data)); // stale: dropped, counted
        this.httpLoading.delete(id);
        const secs = (this.clock.now() - (firstByteAt || began)) / 1000;
        if (bytes > this.ctx.config.schedulerConfig.minHttpMeasureBytes && secs > 0) this.ctx.httpBps.add(bytes / secs);
        if (!streaming) {
          // The bytes join now, all at once (streamed ones joined as they came).
          const stated = r.length === undefined ? "ok" : t.bytes.expect(src, r.length);
          const appended = stated === "ok" ? t.bytes.append(src, r.data) : stated;
          if (appended !== "ok") return this.httpDisagrees(t, src, appended);
        }
        const done = t.bytes.finish(src);
        if (done.kind === "complete") return this.complete(t, done.data);
        this.httpFailed(t, new Error(`HTTP response for ${t.seg.url} ended after ${t.bytes.received} of ${t.bytes.total ?? "?"} bytes`));
      })
      .catch((err) => {
        if (!t.bytes.isCurrent(src)) return;
        t.bytes.stop();
        this.httpFailed(t, err);
      });
  }

  /**
   * HTTP gave a length or more bytes than the segment's bytes held so far allow: a peer's part
   * was wrong (or the origin changed the file). Everything held is dropped; the whole segment
   * is fetched again from the origin, once.
   */
  private httpDisagrees(t: Transfer, src: Source, verdict: string): void {
    this.ctx.log.warn("segment", t.seg.id, "HTTP from byte", src.from, "disagrees with the bytes held:", verdict);
    t.cancel?.();
    t.bytes.discard();
    this.retractRelayed(t);
    if (src.from === 0 && ++t.httpRestarts > 1) {
      return this.httpFailed(t, new Error(`HTTP length of ${t.seg.url} does not match its byte range`));
    }
    this.startHttp(t);
  }

  private httpFailed(t: Transfer, err: unknown): void {
    const id = t.seg.id;
    const aborted = err instanceof DOMException && err.name === "AbortError";
    if (!aborted) this.ctx.onException("HTTP_EXPT", `segment ${t.seg.url}: ${String(err)}`);
    this.httpLoading.delete(id);
    this.scheduleAnnounce();
    this.dropTransfer(t);
    this.blameUnresolved(t);
    for (const w of t.waiters) w.reject(err);
  }

  /**
   * Asks `peerId` for the segment: for a part of it when the peer speaks byte ranges (and the
   * other holders that do are given parts too, {@link spread}), else for the whole rest.
   */
  private startP2P(t: Transfer, peerId: string): void {
    const e = this.peers.get(peerId);
    if (!e || e.session.busy || this.relayingTo(e, t)) return;
    if (this.sendsParts(e.session)) {
      if (!this.startPart(t, peerId)) return;
      this.spread(t);
      return;
    }
    if (t.peerParts.size) return; // parts are under way; a peer that sends only the whole rest would replace them
    this.requestFromPeer(t, peerId, t.bytes.begin("p2p", peerId));
  }

  /**
   * Gives `peerId` the next free part of the segment, sized by its measured rate against the
   * other holders' so that all finish together (at least the scheduler's `minPartBytes`). False when
   * nothing is left to claim.
   */
  private startPart(t: Transfer, peerId: string): boolean {
    const e = this.freeFor(t, peerId);
    if (!e) return false;
    const src = t.bytes.claim("p2p", peerId, this.partBytes(t, e.session));
    if (!src) return false;
    this.requestFromPeer(t, peerId, src);
    return true;
  }

  /** How much of the segment to ask `session`'s peer for next: its share by rate against the other holders'. */
  private partBytes(t: Transfer, session: PeerSession): number {
    const cfg = this.ctx.config.schedulerConfig;
    // Until the first part's answer says the segment's length, a small part: the estimate of a
    // length can be far off, and a part that covers it all leaves nothing to share.
    if (t.bytes.total === undefined) return cfg.minPartBytes;
    const missing = t.bytes.missing ?? Math.max(1, this.expectedBytes(t.seg) - t.bytes.received);
    const rates = this.holders(t)
      .filter((h) => h.byteRanges || t.peerParts.has(h.peerId))
      .map((h) => ({ peerId: h.peerId, bps: h.throughputBps ?? cfg.defaultPeerBps }));
    return partSize(missing, session.throughput ?? cfg.defaultPeerBps, rates, cfg.minPartBytes);
  }

  /** The peer, if it may be given a part of the transfer now: idle, not failed for it, not receiving it from us. */
  private freeFor(t: Transfer, peerId: string): PeerEntry | undefined {
    const e = this.peers.get(peerId);
    if (!e || e.session.busy || t.peerParts.has(peerId) || t.failedPeers.has(peerId) || this.relayingTo(e, t)) return undefined;
    return e;
  }

  /** Whether we ask this peer for parts of segments: it speaks byte ranges and `multiSource` is on. */
  private sendsParts(session: PeerSession): boolean {
    return session.byteRanges && this.ctx.config.multiSource !== false;
  }

  /**
   * Idle holders that speak byte ranges take free parts of a transfer under way, or, when none is
   * left, the tail of the part that would end last.
   */
  private spread(t: Transfer): void {
    if (t.mode !== "p2p" || !this.p2pDownloads() || this.ctx.config.multiSource === false) return;
    for (const h of this.holders(t)) {
      if (!h.byteRanges || h.busy || t.peerParts.has(h.peerId)) continue;
      if (!this.startPart(t, h.peerId) && !this.takeTail(t, h.peerId)) return;
    }
  }

  /**
   * Gives `peerId` the tail of the part under way that would end last, of those that would not
   * end within the budget, cut where both would end together at their rates, the new one
   * starting a request's wait later. A part sized when it was asked for takes all the bytes free
   * then: a holder that appears later, often one with the whole segment beside a relay that goes
   * at its own bytes' pace, would otherwise find nothing to take. A part that will be in time is
   * left alone: its tail would cost a second request and the bytes its peer already queued. The
   * first peer stops at the cut ({@link endCutPart}). False when no tail is worth a part
   * (`minPartBytes`).
   */
  private takeTail(t: Transfer, peerId: string): boolean {
    const e = this.freeFor(t, peerId);
    // Only a peer whose pace is known, and that holds all of the segment: a relay's bytes of the
    // tail come last, and an unknown pace may be anything.
    const bps = e?.session.throughput;
    if (!e || bps === undefined || e.session.arriving.has(t.seg.id)) return false;
    const cfg = this.ctx.config.schedulerConfig;
    const now = this.clock.now();
    const mustFinishByMs = this.mustFinishByMs(t, now, cfg);
    let best: { src: Source; at: number; tail: number } | undefined;
    for (const [id, part] of t.peerParts) {
      const pos = t.bytes.position(part.src);
      const end = t.bytes.claimEnd(part.src);
      if (pos === undefined || end === undefined || !shouldAbandon(this.partProgress(t, part, now, mustFinishByMs), cfg)) continue;
      const left = end - pos;
      const partBps = paceBps(part, now, cfg.minPeerMeasureBytes) ?? this.peers.get(id)?.session.throughput ?? cfg.defaultPeerBps;
      // Both end together: keep / partBps = TAIL_WAIT_S + (left - keep) / bps.
      const keep = Math.ceil((TAIL_WAIT_S + left / bps) / (1 / partBps + 1 / bps));
      const tail = left - keep;
      if (tail >= cfg.minPartBytes && tail > (best?.tail ?? 0)) best = { src: part.src, at: pos + keep, tail };
    }
    const src = best && t.bytes.split(best.src, best.at, "p2p", peerId);
    if (!src) return false;
    t.tailParts++;
    this.requestFromPeer(t, peerId, src);
    return true;
  }

  /**
   * A part whose tail another peer took has come up to the cut: its peer is told to stop (the
   * part queued behind it, if any, comes next), and the transfer goes on with the others.
   */
  private endCutPart(t: Transfer, peerId: string, part: PeerPart): void {
    const done = t.bytes.finish(part.src); // whole, when the tail came first
    part.cancel();
    const e = this.peers.get(peerId);
    if (e) this.measure(e.session, part);
    this.endPart(t, peerId, part);
    if (done.kind !== "complete") return this.partEnded(t);
    this.stopSource(t);
    this.complete(t, done.data);
  }

  /** Asks the peer for `src`'s bytes; `after`: the part under way on its channel, which this one is to follow. */
  private requestFromPeer(t: Transfer, peerId: string, src: Source, after?: PeerPart): void {
    const e = this.peers.get(peerId);
    if (!e) return;
    t.mode = "p2p";
    const part: PeerPart = { src, cancel: () => {}, startedAt: this.clock.now(), got: 0 };
    if (after) {
      after.next = part;
      t.queuedParts++;
    } else t.peerParts.set(peerId, part);
    const handlers: DownloadHandlers = {
      onLength: (n, total, relayed) => {
        const known = t.bytes.total !== undefined;
        const v = t.bytes.expect(src, n, total);
        if (v === "ok" && relayed) t.relayedBy.add(peerId);
        if (v === "ok" && !known) this.spread(t); // the length is known now: parts for the other holders
        if (v === "ok" || v === "stale") return;
        // Its length is not the segment's (or not its part's): nothing it sends can be used.
        this.ctx.log.warn("peer", peerId, "announced", n, "bytes from", src.from, "for segment", t.seg.id, "which does not match", v === "mismatch" ? "its part" : "its length");
        if (v === "conflict") {
          this.stopSource(t); // everything held was discarded
          this.retractRelayed(t);
        }
        this.peerFailedSegment(t, peerId, "length mismatch");
      },
      onBytes: (chunk) => {
        const v = t.bytes.append(src, chunk); // a message's own bytes: held without a copy
        if (v === "stale") return;
        part.lastByteAt = t.lastByteAt = this.clock.now();
        part.got += chunk.length;
        this.ctx.onP2PBytes(chunk.length, peerId);
        this.grew(t, chunk.length);
        if (v === "overlong") return this.peerFailedSegment(t, peerId, "more bytes than announced");
        if (t.bytes.reachedCut(src)) return this.endCutPart(t, peerId, part);
        this.queueNext(t, peerId, part);
      },
      onComplete: () => {
        const done = t.bytes.finish(src);
        if (done.kind === "stale") return;
        this.endPart(t, peerId, part);
        if (done.kind === "short") return this.peerFailedSegment(t, peerId, "incomplete segment");
        e.silentStrikes = 0;
        this.measure(e.session, part);
        if (done.kind === "complete") {
          this.stopSource(t); // parts still running cover bytes held by now
          return this.complete(t, done.data);
        }
        this.partEnded(t);
      },
      onFail: (reason) => {
        if (!t.bytes.isCurrent(src)) return;
        t.bytes.stop(src);
        this.endPart(t, peerId, part);
        if (reason === "busy") e.busyUntil = this.clock.now() + BUSY_BACKOFF_MS;
        else if (reason !== "cancelled") t.failedPeers.add(peerId);
        this.partEnded(t);
      },
    };
    part.cancel = after ? e.session.requestNext(t.seg.id, src.from, handlers, src.end as number) : e.session.request(t.seg.id, src.from, handlers, src.end);
  }

  /** The peer's throughput, smoothed, from what a part brought in its time (`minPeerMeasureBytes` at least). */
  private measure(session: PeerSession, part: PeerPart): void {
    const bps = paceBps(part, this.clock.now(), this.ctx.config.schedulerConfig.minPeerMeasureBytes);
    if (bps === undefined) return;
    session.throughput = session.throughput ? 0.5 * bps + 0.5 * session.throughput : bps;
  }

  /** A peer's share ended without the segment being whole: others go on, or the scheduler decides anew. */
  private partEnded(t: Transfer): void {
    if (this.transfers.get(t.seg.id) !== t) return;
    if (t.peerParts.size) return this.spread(t);
    this.resume(t);
  }

  /** The peer's transfer of this segment cannot be used: stop it, never ask it again for the segment, go on elsewhere. */
  private peerFailedSegment(t: Transfer, peerId: string, why: string): void {
    t.failedPeers.add(peerId);
    this.ctx.onException("PEER_EXPT", `peer ${peerId}: segment ${t.seg.id}: ${why}`);
    this.stopPart(t, peerId);
    this.partEnded(t);
  }

  /** The transfer's source ended without the segment: keep the bytes held, let the scheduler go on. */
  private resume(t: Transfer): void {
    if (this.transfers.get(t.seg.id) !== t) return;
    t.mode = "wait";
    t.cancel = undefined;
    if (t.waiters.length) this.decide(t);
    else if (!t.bytes.received && !t.failedPeers.size) this.transfers.delete(t.seg.id);
    // else: a prefetch stays parked, with its partial bytes or the peers that failed it, so
    // that the player or the next prefetch resumes it without asking those peers again.
  }

  /** The segment is whole: check it, then store it, announce it, hand it to whoever waits. */
  private complete(t: Transfer, data: Uint8Array): void {
    if (this.transfers.get(t.seg.id) !== t) return;
    t.mode = "verify";
    t.cancel = undefined;
    const fromPeers = t.bytes.usedP2P;
    this.ctx
      .verify(this, t.seg, data, fromPeers)
      .catch((err): Verification => ({ ok: false, reason: `check failed: ${String(err)}`, blame: false }))
      .then((v) => {
        if (this.transfers.get(t.seg.id) !== t || t.mode !== "verify") return;
        if (v.ok) return this.accept(t, data);
        this.retractRelayed(t);
        if (!fromPeers) return this.httpFailed(t, new Error(`segment ${t.seg.url}: ${v.reason}`));
        this.rejectPeersBytes(t, data, v);
      });
  }

  /**
   * Bytes from peers failed the check: none of it is used; the segment comes from elsewhere.
   * One peer's segment is its fault. Parts of several peers are judged once the right bytes are
   * known: only the peers whose bytes differ from them are blamed ({@link judgeSuspects}).
   */
  private rejectPeersBytes(t: Transfer, data: Uint8Array, v: Verification & { ok: false }): void {
    const peers = t.bytes.contributors;
    for (const p of peers) t.failedPeers.add(p);
    if (peers.length > 1 && v.blame) {
      if (t.suspect) this.blameUnresolved(t); // a second bad version before the first was judged
      t.suspect = { data, origins: t.bytes.origins, verdict: v };
      for (const p of peers) this.suspects.add(p);
    } else this.blame(t, peers, v);
    t.bytes.discard();
    t.mode = "wait";
    this.resume(t);
  }

  /** The segment is right now: the peers whose bytes in the bad version differ from it sent them. */
  private judgeSuspects(t: Transfer, data: Uint8Array): void {
    const s = t.suspect;
    if (!s) return;
    t.suspect = undefined;
    for (const p of peersOf(s.origins)) this.suspects.delete(p);
    const guilty = new Set<string>();
    for (const o of s.origins) {
      if (o.peerId === undefined || guilty.has(o.peerId)) continue;
      const bad = s.data.subarray(o.start, o.end);
      const good = data.subarray(o.start, o.end);
      if (bad.length !== good.length || bad.some((b, i) => b !== good[i])) guilty.add(o.peerId);
    }
    // The bad version's length differed (a truncated part): everyone's bytes may match; the
    // peers that stated the length are not known here, so all share the blame.
    if (!guilty.size && s.data.length !== data.length) return this.blame(t, peersOf(s.origins), s.verdict);
    if (guilty.size) this.blame(t, [...guilty], s.verdict, true);
  }

  /**
   * Reports a bad segment against its senders, leaving out peers banned meanwhile: a segment
   * that was on its way when its sender was banned is no second offence.
   */
  private blame(t: Transfer, peers: string[], v: Verification & { ok: false }, proven = false): void {
    const left = v.blame ? peers.filter((p) => !this.ctx.isBanned(p)) : peers;
    if (left.length || !peers.length) this.ctx.onBadSegment(this, t.seg, left, v, proven, t.relayedBy);
  }

  /** A bad version from several peers that can no longer be judged: they share the blame. */
  private blameUnresolved(t: Transfer): void {
    const s = t.suspect;
    if (!s) return;
    t.suspect = undefined;
    for (const p of peersOf(s.origins)) this.suspects.delete(p);
    this.blame(t, peersOf(s.origins), s.verdict);
  }

  private accept(t: Transfer, data: Uint8Array): void {
    this.judgeSuspects(t, data);
    this.transfers.delete(t.seg.id);
    t.whole = data;
    this.pumpRelays(t);
    t.cancel = undefined;
    this.httpLoading.delete(t.seg.id);
    const dur = t.seg.endTime - t.seg.startTime;
    if (dur > 0 && !t.seg.byteRange) {
      const bps = data.length / dur;
      this.mediaBps = this.mediaBps ? 0.7 * this.mediaBps + 0.3 * bps : bps;
    }
    const pb = this.ctx.playback();
    this.ctx.storage.put(
      { swarmId: this.swarmId, id: t.seg.id, data, startTime: t.seg.startTime, endTime: t.seg.endTime },
      (s) => s.endTime < pb.position - 5,
      this.clock.now(),
    );
    this.writeDisk(t.seg, data); // checked by now: the disk holds only verified segments
    this.scheduleAnnounce();
    this.ctx.onSegmentStored(this);
    const source = t.bytes.usedHttp && t.bytes.usedP2P ? "mixed" : t.bytes.usedP2P ? "p2p" : "http";
    const delivery: Delivery = { source, peers: t.bytes.contributors, queuedParts: t.queuedParts, tailParts: t.tailParts };
    this.deliveries.delete(t.seg.id);
    this.deliveries.set(t.seg.id, delivery);
    this.ctx.onDelivered?.(delivery);
    if (this.deliveries.size > DELIVERIES_KEPT) this.deliveries.delete(this.deliveries.keys().next().value as number);
    for (const w of t.waiters) w.resolve({ data, source });
  }

  /**
   * A segment's bytes from the player integration's own store (a disk cache): kept in memory
   * and offered to peers like any other. The caller vouches for them (they were checked or came
   * from HTTP when stored). `fetched`: they came by HTTP just now, so the disk cache keeps them too.
   */
  adopt(id: number, data: Uint8Array, fetched = false): void {
    if (this.ctx.storage.has(this.swarmId, id)) return;
    this.keep(id, data);
    const seg = this.segments.get(id);
    if (fetched && seg) this.writeDisk(seg, data);
  }

  private keep(id: number, data: Uint8Array): void {
    const seg = this.segments.get(id);
    if (!seg) return;
    const pos = this.ctx.playback().position;
    this.ctx.storage.put({ swarmId: this.swarmId, id, data, startTime: seg.startTime, endTime: seg.endTime }, (s) => s.endTime < pos - 5, this.clock.now());
    this.scheduleAnnounce();
  }

  // ---- periodic work --------------------------------------------------------------------------

  /** Called by the engine every few hundred ms and whenever peers announce. */
  pump(): void {
    if (this.destroyed) return;
    const now = this.clock.now();
    const cfg: SchedulerConfig = this.ctx.config.schedulerConfig;
    for (const t of [...this.transfers.values()]) {
      if (t.mode === "wait" && t.waiters.length) this.decide(t);
      else if (t.mode === "p2p") this.watchP2P(t, now, cfg);
    }
    for (const t of [...this.transfers.values()]) {
      // A parked transfer of a segment that left the playlist is done for.
      if (t.mode === "wait" && !t.waiters.length && !this.segments.has(t.seg.id)) {
        this.transfers.delete(t.seg.id);
        this.blameUnresolved(t);
      }
    }
    if (this.active) this.prefetch();
    if (this.live) {
      const pos = this.ctx.playback().position;
      const gone = this.ctx.storage.evictEndedBefore(this.swarmId, pos - LIVE_KEEP_BEHIND_S);
      if (gone.length) this.scheduleAnnounce();
    }
  }

  /** When the peers' bytes of a transfer the player waits for must be in, so that HTTP can still finish it in time. */
  private mustFinishByMs(t: Transfer, now: number, cfg: SchedulerConfig): number {
    if (!t.waiters.length) return Infinity;
    return now + p2pBudgetS(this.timing(t.seg, this.rescueBytes(t), t), cfg) * 1000;
  }

  /** A part's progress for {@link shouldAbandon}; `extraBytes`: more to come after it on the same channel (a queued part). */
  private partProgress(t: Transfer, part: PeerPart, now: number, mustFinishByMs: number, extraBytes = 0): TransferProgress {
    const sent = (t.bytes.position(part.src) ?? part.src.from) - part.src.from;
    const partEnd = Math.min(t.bytes.claimEnd(part.src) ?? Infinity, t.bytes.total ?? this.expectedBytes(t.seg));
    return { nowMs: now, startedAtMs: part.startedAt, lastByteAtMs: part.lastByteAt, receivedBytes: sent, expectedBytes: partEnd - part.src.from + extraBytes, mustFinishByMs };
  }

  /**
   * Each peer's share is given up when it goes silent or the transfer's peer budget is spent
   * (its bytes so far are kept); the scheduler then hands the rest to other peers or to HTTP
   * `Range`, which the budget leaves time for.
   */
  private watchP2P(t: Transfer, now: number, cfg: SchedulerConfig): void {
    const mustFinishByMs = this.mustFinishByMs(t, now, cfg);
    for (const [peerId, part] of [...t.peerParts]) {
      if (t.peerParts.get(peerId) !== part) continue;
      const silent = now - (part.lastByteAt ?? part.startedAt) > cfg.p2pStallTimeoutMs;
      // A part still coming is kept until the budget is spent, even at a pace that would not
      // finish it in time: its bytes until then are bytes HTTP need not fetch, and idle holders
      // take its tail meanwhile (takeTail).
      if (!silent && now < mustFinishByMs) {
        // The part queued behind it is let go (its bytes free for others) when both would not be done in time.
        if (part.next && shouldAbandon(this.partProgress(t, part, now, mustFinishByMs, partLength(t, part.next)), cfg)) dropQueued(t, part);
        continue;
      }
      this.ctx.log.info("abandoning peer", peerId, silent ? "(silent)" : "(budget spent)", "for segment", t.seg.id, "at", t.bytes.received, "bytes");
      t.failedPeers.add(peerId);
      // The cancel's own failure callback is stale by then: exactly one decision follows.
      this.stopPart(t, peerId);
      const e = this.peers.get(peerId);
      // What it sent until now is its rate too: a peer too slow to finish would never be measured.
      if (e && !silent) this.measure(e.session, part);
      if (e && silent && ++e.silentStrikes >= MAX_SILENT_STRIKES) this.dropPeer(peerId, `silent on ${MAX_SILENT_STRIKES} transfers in a row`);
    }
    if (!t.peerParts.size) this.resume(t); // -> decide: another peer, or HTTP Range for the rest when due
    else this.spread(t);
  }

  /**
   * Bytes prefetching may still bring in: half the memory store, less what it already holds at
   * or ahead of the playhead and what is on its way. More would evict segments fetched ahead
   * before they play, and fetch them again, over and over, when the store is small.
   */
  private prefetchRoom(pos: number): number {
    let ahead = 0;
    for (const id of this.ctx.storage.ids(this.swarmId)) {
      const seg = this.segments.get(id);
      if (seg && seg.endTime > pos) ahead += this.expectedBytes(seg);
    }
    for (const t of this.transfers.values()) if (t.mode !== "wait") ahead += this.expectedBytes(t.seg);
    return this.ctx.storage.limitBytes / 2 - ahead;
  }

  /** Connected peers whose schedulers take part in seeder election (ours, not PML's). */
  private electorate(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.peers) if (e.ours) out.push(id);
    return out;
  }

  /** Seconds since the segment appeared in the playlist. */
  private knownForS(id: number): number {
    const seen = this.firstSeen.get(id);
    return seen === undefined ? Infinity : (this.clock.now() - seen) / 1000;
  }

  /** What a segment's peer budget is made of ({@link p2pBudgetS}): `bytes` still to fetch, and its deadline. */
  private timing(seg: SegmentInfo, bytes: number, t?: Transfer) {
    return { timeUntilNeededS: this.timeUntilNeededS(seg, t), expectedBytes: bytes, httpBps: this.ctx.httpBps.get(), httpLatencyS: this.ctx.httpLatencyS.get() };
  }

  private prefetch(): void {
    if (!this.p2pDownloads() || !this.peers.size) return;
    const cfg = this.ctx.config.schedulerConfig;
    const pb = this.ctx.playback();
    if (pb.started === false) return; // startup first; the playhead isn't known yet
    const pos = pb.position;
    const horizon = this.live ? Infinity : pos + cfg.prefetchWindowS;
    let p2pActive = 0;
    let httpActive = 0;
    for (const t of this.transfers.values()) {
      if (t.mode === "p2p") p2pActive++;
      if (t.mode === "http") httpActive++;
    }
    const candidates: PrefetchCandidate[] = [];
    let room = this.prefetchRoom(pos);
    for (const s of this.inPlayOrder) {
      if (s.endTime <= pos || s.startTime > horizon) continue;
      const t = this.transfers.get(s.id);
      if ((t && t.mode !== "wait") || this.ctx.storage.has(this.swarmId, s.id) || this.onDisk.has(s.id)) continue;
      if (t && t.waiters.length) continue; // the player's own transfer is decided elsewhere
      room -= this.expectedBytes(s);
      if (room < 0) break;
      candidates.push({ id: s.id, key: this.key(s.id), httpHold: this.foreignPeerMayFetch(s.id), failedPeers: t?.failedPeers, budgetS: p2pBudgetS(this.timing(s, this.expectedBytes(s)), cfg), knownForS: this.knownForS(s.id) });
    }
    if (!candidates.length) return;
    const peers = [...this.peers.entries()]
      .filter(([peerId]) => !this.suspects.has(peerId))
      .map(([peerId, e]) => ({ peerId, busy: this.isBusy(e), loaded: e.session.loaded, httpLoading: e.session.httpLoading, throughputBps: e.session.throughput }));
    const plan = planPrefetch({
      candidates,
      peers,
      selfId: this.peerId,
      freeP2PSlots: cfg.simultaneousP2PDownloads - p2pActive,
      freeHttpSlots: Math.min(1, cfg.simultaneousHttpDownloads - httpActive),
      electorate: this.electorate(),
      swarmSize: this.swarmSize,
      seeding: cfg,
    });
    for (const { id, peerId } of plan.p2p) {
      const seg = this.segments.get(id);
      if (!seg) continue;
      const t = this.transfers.get(id) ?? this.newTransfer(seg, "wait");
      if (t.failedPeers.has(peerId)) continue;
      this.startP2P(t, peerId);
    }
    for (const id of plan.http) {
      const seg = this.segments.get(id);
      if (!seg) continue;
      this.startHttp(this.transfers.get(id) ?? this.newTransfer(seg, "wait"));
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.leave();
    this.destroyed = true;
    if (this.announceTimer !== undefined) this.clock.clearTimeout(this.announceTimer);
    for (const t of [...this.transfers.values()]) {
      this.dropTransfer(t);
      for (const w of t.waiters) w.reject(new Error("destroyed"));
    }
  }

  /** Stops all peer transfers and disconnects (P2P disabled); HTTP transfers go on. */
  disconnectPeers(): void {
    for (const t of [...this.transfers.values()]) {
      if (t.mode !== "p2p") continue;
      this.stopSource(t);
      this.resume(t);
    }
    this.leave();
  }
}

/** A part's pace since it was asked for, bytes/s; undefined until it brought `minBytes`. */
function paceBps(part: PeerPart, now: number, minBytes: number): number | undefined {
  const secs = (now - part.startedAt) / 1000;
  return part.got >= minBytes && secs > 0 ? part.got / secs : undefined;
}

/** The bytes a part was asked for (to the segment's end when the length is known). */
function partLength(t: Transfer, part: PeerPart): number {
  return Math.min(part.src.end ?? Infinity, t.bytes.total ?? Infinity) - part.src.from;
}

/** Lets the part queued behind `p` go: its bytes are free again, its request cancelled. */
function dropQueued(t: Transfer, p: PeerPart): void {
  const next = p.next;
  if (!next) return;
  p.next = undefined;
  t.bytes.stop(next.src);
  next.cancel();
}

/** Cancels a part and, first, the one queued behind it (so that the channel does not move on to it). */
function cancelPart(p: PeerPart): void {
  p.next?.cancel();
  p.cancel();
}

/**
 * Bytes of a part for a peer of rate `bps`, when `missing` bytes are shared between `holders`
 * (every peer that may send parts of it, this one included) in proportion to their rates, so
 * that they would all finish at once; at least `minBytes`, at most what is missing.
 */
export function partSize(missing: number, bps: number, holders: { bps: number }[], minBytes: number): number {
  const sum = holders.reduce((n, h) => n + h.bps, 0);
  const share = sum > bps ? (missing * bps) / sum : missing;
  return Math.min(missing, Math.max(minBytes, Math.ceil(share)));
}

/** The peers among the origins of bytes, once each. */
function peersOf(origins: Origin[]): string[] {
  return [...new Set(origins.flatMap((o) => (o.peerId === undefined ? [] : [o.peerId])))];
}

/** The HTTP request for a source's bytes: from its start, to its end when it fills a hole. */
function httpRange(seg: SegmentInfo, src: Source): { range?: ByteRange; offset?: number } {
  if (src.end === undefined) return { range: seg.byteRange, offset: src.from };
  const base = seg.byteRange?.start ?? 0;
  return { range: { start: base + src.from, end: base + src.end - 1 } };
}
