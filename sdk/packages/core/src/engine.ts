/**
 * The P2P engine: configuration, tracker connections, one StreamSwarm per stream variant, the
 * periodic scheduler tick, stats, events. Player integrations (hls.js, ...) feed it manifests,
 * playlists and playback position and ask it for segments.
 */
import { BlameLedger } from "./blame.js";
import { isMobile, resolveConfig, rtcConfigProblems, schedulerProblems, type P2PConfig, type ResolvedConfig } from "./config.js";
import { DiskCache } from "./disk-cache.js";
import { currentConnection, networkPolicy, type NetworkPolicy } from "./network-policy.js";
import { UploadLimiter } from "./upload-limit.js";
import { Emitter } from "./events.js";
import { DigestManifests } from "./digests.js";
import { Ewma, fetchSegmentBytes } from "./http.js";
import { defaultManifestUrl, sha256Hex } from "./integrity.js";
import { Logger } from "./logger.js";
import { MemoryStorage } from "./storage.js";
import { StreamSwarm, type LoadResult, type Playback, type SegmentInfo, type SwarmContext, type Verification } from "./stream-swarm.js";
import { generatePeerId, infoHashFor, isServerPeerId, streamSwarmId, swarmBase, PEER_PROTOCOL_VERSION, type IdRules, type StreamType } from "./swarm-id.js";
import { statsBeaconUrl, statsMessage } from "./tracker/messages.js";
import { QoeMeter, qoeJson } from "./qoe.js";
import { TrackerConnection } from "./tracker/tracker-connection.js";

declare const __SWARMCAST_VERSION__: string;
export const VERSION: string = typeof __SWARMCAST_VERSION__ === "string" ? __SWARMCAST_VERSION__ : "0.0.0-dev";

export type Stats = {
  /** KB */
  totalHTTPDownloaded: number;
  /** KB */
  totalP2PDownloaded: number;
  /** KB */
  totalP2PUploaded: number;
  /** KB/s over the last seconds */
  p2pDownloadSpeed: number;
};

/**
 * `MEDIA_EXPT`: the player could not use a segment (parsing, decoding), or a file is not media;
 * says where it came from. `SW_EXPT`: the media engine's ServiceWorker could not be used.
 */
export type ExceptionCode = "TRACKER_EXPT" | "SIGNAL_EXPT" | "HTTP_EXPT" | "PEER_EXPT" | "HLSJS_EXPT" | "SHAKA_EXPT" | "MEDIA_EXPT" | "SW_EXPT";
export type EngineException = { code: ExceptionCode; message: string; stack?: string };

export type EngineEvents = {
  peerId(peerId: string): void;
  peers(peers: string[]): void;
  stats(stats: Stats): void;
  serverConnected(connected: boolean): void;
  exception(e: EngineException): void;
  segmentLoaded(info: { id: number; source: LoadResult["source"]; bytes: number; swarmId: string }): void;
};

/**
 * The engine's counters since it started: bytes (HTTP down, P2P down and up, received but
 * dropped), rebuffers, segments from peers that failed their check or were unverifiable, peers
 * banned, and player errors by where the segment came from.
 */
export type EngineCounters = {
  httpDown: number;
  p2pDown: number;
  p2pUp: number;
  rebuffers: number;
  dropped: number;
  badSegments: number;
  unverified: number;
  banned: number;
  errorsHttp: number;
  errorsPeer: number;
  errorsSuperPeer: number;
  /** Bytes checked against published digests, and the time the digests took (ms). */
  verifiedBytes: number;
  verifyMs: number;
  /** Segments whose bytes came from two or more peers at once (`multiSource`). */
  multiPeerSegments: number;
  /** Of `p2pUp`, bytes of segments we were still receiving (`relay`). */
  relayedUp: number;
  /** Parts asked of a peer while its part before them was still coming (queued requests, `multiSource`). */
  queuedParts: number;
  /** Parts taken from the tail of another peer's part under way by an idle holder (`multiSource`). */
  tailParts: number;
};

/** A stream the player plays: `shortId` names it within the channel, by `idRules` (default "pml-2.3"). */
export type StreamRef = { runtimeUrl: string; type: StreamType; shortId: string; idRules?: IdRules };

export type PeerInfo = { peerId: string; swarm: string; bytesDown: number; bytesUp: number; throughput?: number };

const TICK_MS = 250;
const INACTIVE_SWARM_MS = 30_000;

export class P2PEngine extends Emitter<EngineEvents> {
  static readonly version = VERSION;
  static readonly protocolVersion = PEER_PROTOCOL_VERSION;

  /** WebRTC data channels and fetch streaming are available. */
  static isSupported(): boolean {
    return P2PEngine.isWebRTCSupported() && typeof WebSocket !== "undefined" && typeof fetch !== "undefined";
  }

  /** RTCPeerConnection with data channels exists. */
  static isWebRTCSupported(): boolean {
    return typeof RTCPeerConnection !== "undefined" && typeof RTCPeerConnection.prototype.createDataChannel === "function";
  }

  /** Media Source Extensions (or Safari's ManagedMediaSource) for H.264/AAC exist. */
  static isMSESupported(): boolean {
    const g = globalThis as { MediaSource?: { isTypeSupported?(t: string): boolean }; ManagedMediaSource?: { isTypeSupported?(t: string): boolean } };
    const ms = g.MediaSource ?? g.ManagedMediaSource;
    return !!ms && typeof ms.isTypeSupported === "function" && ms.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"');
  }

  /** ServiceWorkers are available (a secure context is required). */
  static isServiceWorkerSupported(): boolean {
    return typeof navigator !== "undefined" && "serviceWorker" in navigator;
  }

  /** The same as isServiceWorkerSupported, under the name existing pages already call. */
  static isSeviceWorkerSupported(): boolean {
    return P2PEngine.isServiceWorkerSupported();
  }

  readonly config: ResolvedConfig;
  readonly log: Logger;
  /** The viewer's QoE group (P2P or HTTP-only control) and playback measures. */
  readonly qoe: QoeMeter;
  private readonly storage: MemoryStorage;
  private readonly httpBps: Ewma;
  private readonly httpLatencyS = new Ewma(0.3, 0.1);
  private trackers: TrackerConnection[] = [];
  private readonly streams = new Map<string, StreamRef>();
  private readonly swarms = new Map<string, StreamSwarm>();
  private readonly peerIdsByHash = new Map<string, string>();
  private manifestUrl?: string;
  private p2pOn: boolean;
  private destroyed = false;
  private readonly tickTimer: ReturnType<typeof setInterval>;
  private readonly statsTimer: ReturnType<typeof setInterval>;
  private reportTimer?: ReturnType<typeof setInterval>;
  private playbackFn: () => Playback = () => ({ position: 0, rate: 1, playing: false });
  private activeSwarm?: StreamSwarm;
  private readonly startedAt = Date.now();
  private connectedCount = 0;
  private announcedPeerId?: string;
  private lastPeersKey = "";
  /**
   * `dropped`: bytes received and never used (stale, overlong, or from sources that disagreed).
   * `badSegments`: segments from peers that failed their check; `unverified`: segments from
   * peers the published digests did not list (fetched by HTTP instead); `banned`: peers banned.
   */
  private readonly counters: EngineCounters = {
    httpDown: 0,
    p2pDown: 0,
    p2pUp: 0,
    rebuffers: 0,
    dropped: 0,
    badSegments: 0,
    unverified: 0,
    banned: 0,
    /** Player errors (parsing, decoding) by where the segment came from. */
    errorsHttp: 0,
    errorsPeer: 0,
    errorsSuperPeer: 0,
    verifiedBytes: 0,
    verifyMs: 0,
    multiPeerSegments: 0,
    relayedUp: 0,
    queuedParts: 0,
    tailParts: 0,
  };
  private readonly digests: DigestManifests;
  /** Peers banned for this session, and blame shared with others before a ban. */
  private readonly banned = new Set<string>();
  private readonly blame = new BlameLedger();
  private speedWindow: { at: number; bytes: number }[] = [];
  private lastStatsKey = "";
  private readonly onPageHide = () => this.sendBeaconStats();
  /** What the connection allows (wifiOnly, download only on metered connections). */
  private net: NetworkPolicy = { p2p: true, upload: true };
  /** P2P was turned off by `wifiOnly` (not by the page): back on when the connection allows. */
  private offByNetwork = false;
  private readonly uploadCap?: UploadLimiter;
  /** The disk cache of VOD segments, shared by the origin's engines and tabs. */
  private readonly disk?: Promise<DiskCache | undefined>;
  private readonly onConnectionChange = () => this.applyNetworkPolicy();

  constructor(config: P2PConfig = {}) {
    super();
    this.config = resolveConfig(config);
    this.log = new Logger(this.config.logLevel);
    if (this.config.showSlogan && typeof console !== "undefined") console.info(`Swarmcast P2P engine v${VERSION} (P2P Media Loader v2 compatible)`);
    for (const problem of rtcConfigProblems(this.config.rtcConfig)) this.log.warn(problem);
    for (const problem of schedulerProblems(this.config.scheduler)) this.log.warn(problem);
    this.storage = new MemoryStorage(this.config.memoryLimitBytes);
    this.httpBps = new Ewma(0.3, this.config.schedulerConfig.defaultHttpBps);
    this.digests = new DigestManifests(this.log);
    this.qoe = new QoeMeter(this.config);
    this.p2pOn = this.config.p2pEnabled && P2PEngine.isSupported() && this.qoe.group === "p2p";
    if (this.qoe.group === "control") this.log.info("QoE control group: HTTP only (no P2P download, no upload)");
    if (!this.config.trackerGroups.length) {
      this.log.warn("no tracker configured (announce or signalConfig): HTTP only");
      this.p2pOn = false;
    }
    const kbps = this.config.maxUploadKbps;
    if (kbps !== undefined && kbps > 0 && Number.isFinite(kbps)) this.uploadCap = new UploadLimiter(kbps);
    this.net = this.networkPolicy();
    if (this.p2pOn && !this.net.p2p) {
      this.log.info("P2P off:", this.net.reason);
      this.p2pOn = false;
      this.offByNetwork = true;
    }
    currentConnection()?.addEventListener?.("change", this.onConnectionChange);
    if (this.config.diskLimitBytes > 0 && typeof indexedDB !== "undefined") this.disk = DiskCache.open(this.config.diskLimitBytes);
    if (this.p2pOn) this.openTrackers();
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.statsTimer = setInterval(() => {
      this.qoe.sample();
      this.emitStats();
    }, 1000);
    this.reportTimer = setInterval(() => this.reportStats(), this.config.statsReportInterval);
    if (typeof addEventListener === "function") addEventListener("pagehide", this.onPageHide);
  }

  // ---- integration API ------------------------------------------------------------------------

  /** The manifest URL as requested and as finally served (after redirects). */
  setManifestUrl(requestedUrl: string, responseUrl?: string): void {
    this.manifestUrl = responseUrl || requestedUrl;
  }

  get channel(): string {
    const url = this.manifestUrl ?? "";
    return this.config.channelId ? this.config.channelId(url) : swarmBase(url);
  }

  /** Declares a stream (variant or audio track) by the URL of its playlist. */
  addStream(ref: StreamRef): void {
    if (!this.streams.has(ref.runtimeUrl)) this.streams.set(ref.runtimeUrl, ref);
  }

  hasStream(runtimeUrl: string): boolean {
    return this.streams.has(runtimeUrl);
  }

  /** New playlist content for a stream. */
  updateStream(runtimeUrl: string, segments: SegmentInfo[], live: boolean): void {
    const swarm = this.swarmFor(runtimeUrl);
    swarm?.setSegments(segments, live);
  }

  /** How the engine reads the playhead. */
  setPlaybackSource(fn: () => Playback): void {
    this.playbackFn = fn;
  }

  /** Current HTTP throughput estimate, bytes/s. */
  getHttpThroughput(): number {
    return this.httpBps.get();
  }

  /** The player stalled: what it waits for is due now (Playback.waiting), from this moment, not the next tick. */
  reportRebuffer(): void {
    this.counters.rebuffers++;
    this.activeSwarm?.pump();
  }

  /**
   * The player could not use a segment (parsing or decoding failed): counted by where the
   * segment came from (HTTP, browser peers, super peers) and reported as `MEDIA_EXPT`, so that
   * a bad peer or a bad release shows in the stats the tracker receives.
   */
  reportPlaybackError(runtimeUrl: string, id: number, what: string): void {
    if (this.destroyed) return;
    const peers = this.swarms.get(runtimeUrl)?.delivery(id)?.peers ?? [];
    const servers = peers.filter(isServerPeerId);
    let from: string;
    if (!peers.length) {
      this.counters.errorsHttp++;
      from = "HTTP";
    } else if (servers.length) {
      this.counters.errorsSuperPeer++;
      from = `super peer ${servers.join(", ")}`;
    } else {
      this.counters.errorsPeer++;
      from = `peer ${peers.join(", ")}`;
    }
    this.emit("exception", { code: "MEDIA_EXPT", message: `segment ${id} from ${from}: ${what}` });
  }

  get rebuffers(): number {
    return this.counters.rebuffers;
  }

  /**
   * A segment for the player; falls back to plain HTTP when the stream is unknown. `dueInS`: the
   * player knows it needs it within that many seconds, whatever the segment's time says; 0: it
   * can play nothing until it comes (StreamSwarm.load).
   */
  async loadSegment(runtimeUrl: string, id: number, fallback: { url: string; byteRange?: { start: number; end: number } }, signal?: AbortSignal, opts: { dueInS?: number } = {}): Promise<LoadResult> {
    const swarm = this.swarmFor(runtimeUrl);
    if (swarm && swarm.segments.has(id)) {
      this.activeSwarm = swarm;
      this.joinActive(swarm);
      const r = await swarm.load(id, signal, opts.dueInS);
      this.emit("segmentLoaded", { id, source: r.source, bytes: r.data.length, swarmId: swarm.swarmId });
      return r;
    }
    const r = await fetchSegmentBytes(fallback.url, { range: fallback.byteRange, signal, onBytes: (c) => (this.counters.httpDown += c.length) });
    return { data: r.data, source: "http" };
  }

  /** The swarm id of a declared stream (once it has segments). */
  swarmIdOf(runtimeUrl: string): string | undefined {
    return this.swarms.get(runtimeUrl)?.swarmId;
  }

  /** Whether a segment of the stream is in memory (served at once). */
  hasSegment(runtimeUrl: string, id: number): boolean {
    return this.swarms.get(runtimeUrl)?.segmentData(id) !== undefined;
  }

  /**
   * A segment the integration got itself: from its own disk cache, or by HTTP outside the
   * engine (counted as HTTP bytes and reported as loaded). Into memory, offered to peers
   * (StreamSwarm.adopt).
   */
  adoptSegment(runtimeUrl: string, id: number, data: Uint8Array, from: "disk" | "http" = "disk"): void {
    const swarm = this.swarms.get(runtimeUrl);
    if (!swarm) return;
    swarm.adopt(id, data, from === "http");
    if (from !== "http") return;
    this.counters.httpDown += data.length;
    this.emit("segmentLoaded", { id, source: "http", bytes: data.length, swarmId: swarm.swarmId });
  }

  /** Fetches a segment by HTTP now, before the player asks for it (startup). */
  fetchAhead(runtimeUrl: string, id: number): boolean {
    const swarm = this.swarmFor(runtimeUrl);
    return swarm ? swarm.fetchAhead(id) : false;
  }

  private swarmFor(runtimeUrl: string): StreamSwarm | undefined {
    let swarm = this.swarms.get(runtimeUrl);
    if (swarm) return swarm;
    const ref = this.streams.get(runtimeUrl);
    if (!ref || !this.manifestUrl) return undefined;
    const id = streamSwarmId(this.channel, ref.type, ref.shortId);
    const hash = infoHashFor(ref.idRules ?? "pml-2.3", id);
    let peerId = this.peerIdsByHash.get(hash);
    if (!peerId) {
      peerId = generatePeerId(this.config.peerIdPrefix);
      this.peerIdsByHash.set(hash, peerId);
    }
    swarm = new StreamSwarm(this.context(), id, hash, peerId, runtimeUrl);
    this.swarms.set(runtimeUrl, swarm);
    this.log.info("swarm", id, "->", hash);
    return swarm;
  }

  private context(): SwarmContext {
    return {
      config: this.config,
      log: this.log,
      storage: this.storage,
      httpBps: this.httpBps,
      httpLatencyS: this.httpLatencyS,
      playback: () => this.playbackFn(),
      p2pEnabled: () => this.p2pOn,
      trackers: () => this.trackers,
      onHttpBytes: (n) => (this.counters.httpDown += n),
      onP2PBytes: (n) => {
        this.counters.p2pDown += n;
        this.speedWindow.push({ at: Date.now(), bytes: n });
      },
      onUploadBytes: (n, _peer, relayed) => {
        this.counters.p2pUp += n;
        if (relayed) this.counters.relayedUp += n;
      },
      onDroppedBytes: (n) => (this.counters.dropped += n),
      verify: (swarm, seg, data, fromPeers) => this.verifySegment(swarm, seg, data, fromPeers),
      onBadSegment: (swarm, seg, peers, v, proven, relayed) => this.onBadSegment(swarm, seg, peers, v, proven, relayed),
      onRetracted: (swarm, peerId, id) => {
        if (this.blame.retraction(peerId, `${swarm.swarmId}|${id}`)) this.log.info("peer", peerId, "retracted segment", id, "of", swarm.swarmId, ": not held against it");
      },
      isBanned: (peerId) => this.banned.has(peerId),
      uploadEnabled: () => this.p2pOn && this.config.p2pUploadEnabled && this.net.upload,
      uploadLimiter: () => this.uploadCap,
      disk: () => this.disk,
      onPeersChanged: () => this.emitPeers(),
      onSegmentStored: () => {},
      onDelivered: (d) => {
        if (d.peers.length > 1) this.counters.multiPeerSegments++;
        this.counters.queuedParts += d.queuedParts;
        this.counters.tailParts += d.tailParts;
      },
      onException: (code, message) => this.emit("exception", { code, message }),
      // No peer will come to the control group: it never holds requests for one.
      startupWaitUntil: () => (this.config.waitForPeer && this.qoe.group === "p2p" ? this.startedAt + this.config.waitForPeerTimeout * 1000 : 0),
    };
  }

  // ---- connection ---------------------------------------------------------------------------

  private networkPolicy(): NetworkPolicy {
    return networkPolicy(currentConnection(), isMobile(), { wifiOnly: this.config.wifiOnly ?? false, uploadOnCellular: this.config.uploadOnCellular ?? false });
  }

  /** The connection changed: P2P off or back on (`wifiOnly`), upload off or on (metered). */
  private applyNetworkPolicy(): void {
    if (this.destroyed) return;
    const before = this.net;
    this.net = this.networkPolicy();
    if (before.upload !== this.net.upload) this.log.info(this.net.upload ? "upload on" : `upload off: ${this.net.reason}`);
    if (!this.net.p2p && this.p2pOn) {
      this.log.info("P2P off:", this.net.reason);
      this.disableP2P();
      this.offByNetwork = true;
    } else if (this.net.p2p && this.offByNetwork) {
      this.offByNetwork = false;
      this.enableP2P();
    }
  }

  // ---- integrity ------------------------------------------------------------------------------

  private async verifySegment(swarm: StreamSwarm, seg: SegmentInfo, data: Uint8Array, fromPeers: boolean): Promise<Verification> {
    const validate = this.config.validateP2PSegment;
    if (fromPeers && validate) {
      let ok: boolean;
      try {
        ok = await validate({ url: seg.url, byteRange: seg.byteRange, id: seg.id, swarmId: swarm.swarmId }, data);
      } catch (err) {
        this.log.warn("validateP2PSegment threw:", err);
        ok = false;
      }
      if (!ok) return { ok: false, reason: "rejected by validateP2PSegment", blame: true };
    }
    const integrity = this.config.integrityConfig;
    if (integrity === false || (!fromPeers && !integrity.verifyHttp)) return { ok: true };
    const where = integrity.manifestUrl;
    // Streams of the Shaka engine are keyed by Shaka's stream id, not a playlist URL: their
    // digests are looked up beside the segment.
    const base = /^https?:/i.test(swarm.runtimeUrl) ? swarm.runtimeUrl : seg.url;
    const manifestUrl = typeof where === "function" ? where(base) : (where ?? defaultManifestUrl(base));
    if (!manifestUrl) return { ok: true };
    const found = await this.digests.lookup(manifestUrl, seg.url, seg.byteRange);
    if (found.kind === "none") return { ok: true };
    if (found.kind === "unlisted") return { ok: false, reason: "not listed in the published digests", blame: false };
    const began = performance.now();
    const actual = await sha256Hex(data);
    this.counters.verifyMs += performance.now() - began;
    this.counters.verifiedBytes += data.length;
    if (actual === found.sha256) return { ok: true };
    return { ok: false, reason: `its SHA-256 ${actual.slice(0, 16)}… is not the published ${found.sha256.slice(0, 16)}…`, blame: true };
  }

  /**
   * A segment from peers failed its check: its senders are blamed as blame.ts says (its only
   * sender is banned for the session; one that shared or relayed it, at the second). Unlisted
   * segments blame nobody.
   */
  private onBadSegment(swarm: StreamSwarm, seg: SegmentInfo, peers: string[], v: Verification & { ok: false }, proven = false, relayed: ReadonlySet<string> = new Set()): void {
    if (!v.blame) {
      this.counters.unverified++;
      this.log.info("segment", seg.id, "from", peers.join(", "), "not used:", v.reason);
      return;
    }
    this.counters.badSegments++;
    for (const { peerId, ban, excused } of this.blame.offence({ key: `${swarm.swarmId}|${seg.id}`, senders: peers, proven, relayed })) {
      if (excused) {
        this.log.info("segment", seg.id, "relayed by", peerId, "was bad, which it retracted: not held against it");
        continue;
      }
      const message = `peer ${peerId} sent segment ${seg.id} of ${swarm.swarmId} (${seg.url}): ${v.reason}${ban ? "; banned for this session" : ""}`;
      this.log.warn(message);
      this.emit("exception", { code: "PEER_EXPT", message });
      if (ban) this.banPeer(peerId, v.reason);
    }
  }

  private banPeer(peerId: string, why: string): void {
    if (this.banned.has(peerId)) return;
    this.banned.add(peerId);
    this.counters.banned++;
    for (const s of this.swarms.values()) s.dropPeer(peerId, `banned: ${why}`);
  }

  // ---- trackers -------------------------------------------------------------------------------

  private openTrackers(): void {
    this.trackers = this.config.trackerGroups.map(
      (urls) =>
        new TrackerConnection(urls, this.log, {
          connected: () => {
            this.connectedCount++;
            if (this.connectedCount === 1) this.emit("serverConnected", true);
          },
          disconnected: (url, reason) => {
            if (this.connectedCount > 0 && reason !== "connection failed") {
              this.connectedCount--;
              if (this.connectedCount === 0) this.emit("serverConnected", false);
            }
            this.emit("exception", { code: "SIGNAL_EXPT", message: `tracker ${url}: ${reason}` });
          },
          failure: (reason) => this.emit("exception", { code: "TRACKER_EXPT", message: reason }),
        }),
    );
  }

  private closeTrackers(): void {
    for (const t of this.trackers) t.destroy();
    this.trackers = [];
    if (this.connectedCount > 0) this.emit("serverConnected", false);
    this.connectedCount = 0;
  }

  // ---- periodic work --------------------------------------------------------------------------

  /**
   * Joins the stream's swarm (tracker announce, WebRTC offers) as soon as the player is on it:
   * the segment playback starts with comes by HTTP, but the ones the player buffers after it
   * can come from the first peers, which the scheduler waits for while their deadlines allow
   * (`firstPeersPatienceMs`).
   */
  private joinActive(swarm: StreamSwarm): void {
    if (this.p2pOn && !swarm.isJoined) swarm.join();
  }

  private tick(): void {
    if (this.destroyed) return;
    const now = Date.now();
    if (this.activeSwarm) this.joinActive(this.activeSwarm);
    for (const s of this.swarms.values()) {
      const active = s === this.activeSwarm;
      s.active = active;
      s.pump();
      if (!active && s.isJoined && now - s.lastUsed > INACTIVE_SWARM_MS) s.leave();
    }
    const id = this.activeSwarm?.peerId;
    if (id && id !== this.announcedPeerId) {
      this.announcedPeerId = id;
      this.emit("peerId", id);
      this.config.getPeerId?.(id);
    }
  }

  private emitPeers(): void {
    const peers = this.getPeers();
    const key = peers.join(",");
    if (key === this.lastPeersKey) return;
    this.lastPeersKey = key;
    this.emit("peers", peers);
    this.config.getPeersInfo?.(peers);
  }

  getStats(): Stats & { rebuffers: number; peers: number } {
    const now = Date.now();
    this.speedWindow = this.speedWindow.filter((s) => now - s.at < 5000);
    const recent = this.speedWindow.reduce((n, s) => n + s.bytes, 0);
    return {
      totalHTTPDownloaded: Math.round(this.counters.httpDown / 1024),
      totalP2PDownloaded: Math.round(this.counters.p2pDown / 1024),
      totalP2PUploaded: Math.round(this.counters.p2pUp / 1024),
      p2pDownloadSpeed: Math.round(recent / 1024 / 5),
      rebuffers: this.counters.rebuffers,
      peers: this.getPeers().length,
    };
  }

  /** Raw byte counters (the tracker report uses bytes). */
  getByteCounters(): EngineCounters {
    return { ...this.counters };
  }

  private emitStats(): void {
    const s = this.getStats();
    const key = `${s.totalHTTPDownloaded}/${s.totalP2PDownloaded}/${s.totalP2PUploaded}/${s.p2pDownloadSpeed}`;
    if (key === this.lastStatsKey) return;
    this.lastStatsKey = key;
    const { rebuffers: _r, peers: _p, ...stats } = s;
    this.emit("stats", stats);
    this.config.getStats?.(stats.totalP2PDownloaded, stats.totalP2PUploaded, stats.totalHTTPDownloaded, stats.p2pDownloadSpeed);
  }

  private statsJson(): string | undefined {
    const swarm = this.activeSwarm;
    if (!swarm || !this.manifestUrl) return undefined;
    return statsMessage({
      infoHash: swarm.infoHash,
      peerId: swarm.peerId,
      channel: this.channel,
      httpDown: this.counters.httpDown,
      p2pDown: this.counters.p2pDown,
      p2pUp: this.counters.p2pUp,
      peers: this.getPeers().length,
      rebuffers: this.counters.rebuffers,
      errorsHttp: this.counters.errorsHttp,
      errorsPeer: this.counters.errorsPeer,
      errorsSuperPeer: this.counters.errorsSuperPeer,
      badSegments: this.counters.badSegments,
      bannedPeers: this.counters.banned,
      qoe: qoeJson(this.qoe.report()),
    });
  }

  /** Sends the cumulative counters over the first connected tracker socket. */
  reportStats(): void {
    const json = this.statsJson();
    if (!json) return;
    for (const t of this.trackers) if (t.send(json)) return;
    // The control group opens no tracker socket: its reports go by HTTP.
    const url = this.statsUrl();
    if (this.qoe.group === "control" && url && typeof fetch === "function") {
      fetch(url, { method: "POST", body: json, keepalive: true }).catch((e) => this.log.debug(`stats report: ${e}`));
    }
  }

  private statsUrl(): string | undefined {
    const tracker = this.trackers[0]?.url ?? this.config.trackerGroups[0]?.[0];
    return tracker ? statsBeaconUrl(tracker) : undefined;
  }

  private sendBeaconStats(): void {
    const json = this.statsJson();
    const url = this.statsUrl();
    if (!json || !url || typeof navigator === "undefined" || !navigator.sendBeacon) return;
    try {
      navigator.sendBeacon(url, json);
    } catch {
      /* page is closing anyway */
    }
  }

  // ---- public controls ------------------------------------------------------------------------

  getPeerId(): string | undefined {
    return this.activeSwarm?.peerId;
  }

  /** Every connected peer of every swarm, with the bytes exchanged with it. */
  getPeerInfo(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const s of this.swarms.values()) for (const p of s.peerInfo()) out.push({ ...p, swarm: s.swarmId });
    return out;
  }

  getPeers(): string[] {
    const out = new Set<string>();
    for (const s of this.swarms.values()) for (const p of s.peerIds()) out.add(p);
    return [...out];
  }

  get p2pEnabled(): boolean {
    return this.p2pOn;
  }

  enableP2P(): void {
    if (this.p2pOn || this.destroyed || !this.config.trackerGroups.length || !P2PEngine.isSupported()) return;
    if (this.qoe.group === "control") return; // the control group stays on HTTP for the whole session
    if (!this.net.p2p) {
      this.log.info("P2P stays off:", this.net.reason);
      this.offByNetwork = true; // on once the connection allows
      return;
    }
    this.p2pOn = true;
    this.openTrackers();
    if (this.activeSwarm) this.joinActive(this.activeSwarm);
  }

  /** Drops every peer and tracker connection and starts P2P afresh (if it was on or can be turned on). */
  restartP2p(): void {
    if (this.destroyed) return;
    this.disableP2P();
    this.enableP2P();
  }

  /** Alias of restartP2p. */
  restartP2P(): void {
    this.restartP2p();
  }

  /** Reports an exception of the player integration (e.g. a fatal hls.js error) to listeners. */
  reportException(e: EngineException): void {
    if (!this.destroyed) this.emit("exception", e);
  }

  disableP2P(): void {
    this.offByNetwork = false;
    if (!this.p2pOn) return;
    this.p2pOn = false;
    for (const s of this.swarms.values()) s.disconnectPeers();
    this.closeTrackers();
    this.emitPeers();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.reportStats();
    this.destroyed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.statsTimer);
    clearInterval(this.reportTimer);
    if (typeof removeEventListener === "function") removeEventListener("pagehide", this.onPageHide);
    currentConnection()?.removeEventListener?.("change", this.onConnectionChange);
    void this.disk?.then((d) => d?.close());
    for (const s of this.swarms.values()) s.destroy();
    this.swarms.clear();
    this.closeTrackers();
    this.storage.clear();
    this.removeAllListeners();
  }
}
