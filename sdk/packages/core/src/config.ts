import type { LogLevel } from "./logger.js";
import type { QoeConfig } from "./qoe.js";
import { DEFAULT_SCHEDULER, type SchedulerConfig } from "./scheduler.js";

export type SignalConfig = { main: string; backup?: string };

/** A segment as `validateP2PSegment` sees it. */
export type SegmentRef = { url: string; byteRange?: { start: number; end: number }; id: number; swarmId: string };

/**
 * Segment integrity. By default every segment that came from peers is checked against the
 * SHA-256 digests the site publishes in `segments-sha256.json` beside each media playlist (with
 * Shaka: beside each segment), when it publishes them; `false` checks nothing.
 */
export type IntegrityConfig = {
  /**
   * Where a stream's digest manifest is: a URL, or a function of the media playlist's URL (with
   * Shaka, which names no playlist per stream: of the segment's URL).
   */
  manifestUrl?: string | ((playlistUrl: string) => string | undefined);
  /** Check segments from HTTP too (sites that use several CDNs). Default false. */
  verifyHttp?: boolean;
};

export type P2PConfig = {
  /** 'debug' | 'info' | 'warn' | 'error' | 'none' (or true/false). Default 'error'. */
  logLevel?: LogLevel;
  /** Sent to the tracker as the `token` query parameter of its URL. */
  token?: string;
  /** Tracker WebSocket URL(s). Each URL gets its own socket. */
  announce?: string | string[];
  /** Picks a tracker from `announceLocations` when `announce` is not set. */
  trackerZone?: string;
  announceLocations?: Record<string, string>;
  /** Main tracker with a failover backup (one socket, switching on failure). */
  signalConfig?: SignalConfig;
  /** P2P on or off at start (HTTP only when off). Default true. */
  p2pEnabled?: boolean;
  /** Upload to peers. Default true. */
  p2pUploadEnabled?: boolean;
  /**
   * RTCPeerConnection configuration, passed as is (STUN/TURN servers, `iceTransportPolicy`).
   * `iceTransportPolicy: "relay"` with the site's TURN server in `iceServers` hides viewers'
   * IP addresses from each other: peers then see only the TURN server's address.
   */
  webRTCConfig?: RTCConfiguration;
  /** QoE control group and label (qoe.ts): `controlGroupRatio` (0..1, default 0), `tag` (<= 20 chars). */
  controlGroupRatio?: QoeConfig["controlGroupRatio"];
  tag?: QoeConfig["tag"];
  /** Maps the manifest URL to the channel id that names the swarms (default: URL without query). */
  channelId?: (url: string) => string;
  /** Memory for segments in bytes, or per device kind. Default 400 MiB desktop, 100 MiB mobile. */
  memoryCacheLimit?: number | { pc: number; mobile: number };
  // ---- disk cache (VOD) ----
  /**
   * IndexedDB cache of VOD segments (live segments stay in memory), bytes, or per device kind;
   * one cache shared by every engine and tab of the origin, least recently used out, clipped to
   * half the origin's storage quota. Default 2500 MiB desktop, 1500 MiB mobile; 0 turns it off.
   */
  diskCacheLimit?: number | { pc: number; mobile: number };
  /** The disk cache on or off. Default true. */
  useDiskCache?: boolean;
  // ---- upload and connection controls ----
  /** Cap on what we serve to peers, kilobits per second (0 or unset: uncapped). */
  maxUploadKbps?: number;
  /**
   * Upload on metered connections (`navigator.connection.type` "cellular" or `saveData`).
   * Default false: download only there.
   */
  uploadOnCellular?: boolean;
  /**
   * P2P only on wifi or ethernet (or, on desktop, a connection of unknown type); elsewhere
   * HTTP only. Default false.
   */
  wifiOnly?: boolean;
  /** Download from peers only once the swarm has this many peers (we still announce and serve). Default 0. */
  minPeers?: number;
  /**
   * Take one segment from several peers at once (parts of it, from peers that speak our
   * byte-range extension; P2P Media Loader peers send whole segments). We serve parts to peers
   * that ask either way. Default true.
   */
  multiSource?: boolean;
  /**
   * Serve a segment to our own peers while it is still arriving (from HTTP or from peers), as
   * its bytes come, so that a fresh live segment crosses the swarm in the time of one transfer
   * rather than one per hop. P2P Media Loader peers are only ever offered whole segments.
   * Default true.
   */
  relay?: boolean;
  /** Print one line naming the engine and its version to the console at start. Default true. */
  showSlogan?: boolean;
  /** Hold the first HTTP requests until a peer connects (or waitForPeerTimeout). Default false. */
  waitForPeer?: boolean;
  /** Seconds. Default 4. */
  waitForPeerTimeout?: number;
  /** Peers per swarm. Default 20. */
  maxPeers?: number;
  /** Offers sent with each announce (5 like bittorrent-tracker clients). */
  offersPerAnnounce?: number;
  /** Stats report to the tracker, ms. Default 10000. */
  statsReportInterval?: number;
  /** Scheduler tuning. */
  scheduler?: Partial<SchedulerConfig>;
  /** Segment integrity against published digests (on when the site publishes them). */
  integrity?: boolean | IntegrityConfig;
  /**
   * A site's own check of every segment that came from peers, before it is played, stored or
   * offered to others (as P2P Media Loader's hook). False: the bytes are dropped, the segment
   * comes by HTTP, and the peers that sent it are disconnected.
   */
  validateP2PSegment?: (segment: SegmentRef, data: Uint8Array) => boolean | Promise<boolean>;
  /** Prefix of our peer ids (8 chars). Default "-SC0001-". */
  peerIdPrefix?: string;
  /** Callbacks (alternatives to the events of the same data). */
  getStats?: (totalP2PDownloaded: number, totalP2PUploaded: number, totalHTTPDownloaded: number, p2pDownloadSpeed: number) => void;
  getPeerId?: (peerId: string) => void;
  getPeersInfo?: (peers: string[]) => void;
};

export type ResolvedConfig = Required<Pick<P2PConfig, "logLevel" | "showSlogan" | "p2pEnabled" | "p2pUploadEnabled" | "waitForPeer" | "waitForPeerTimeout" | "maxPeers" | "offersPerAnnounce" | "statsReportInterval" | "peerIdPrefix">> &
  P2PConfig & { trackerGroups: string[][]; memoryLimitBytes: number; diskLimitBytes: number; schedulerConfig: SchedulerConfig; rtcConfig: RTCConfiguration; integrityConfig: IntegrityConfig | false };

export const DEFAULT_ICE_SERVERS: RTCIceServer[] = [{ urls: ["stun:stun.l.google.com:19302", "stun:global.stun.twilio.com:3478"] }];

const MiB = 1024 * 1024;

/** A phone or tablet, by its user agent (which limits apply, and `wifiOnly` on unknown connections). */
export function isMobile(): boolean {
  return typeof navigator !== "undefined" && /Android|iPhone|iPad|iPod|Mobile/i.test(navigator.userAgent ?? "");
}

function withToken(url: string, token?: string): string {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

/** Tracker socket groups: each group is one socket with failover URLs. */
export function trackerGroups(c: P2PConfig): string[][] {
  const groups: string[][] = [];
  if (c.signalConfig?.main) groups.push([c.signalConfig.main, ...(c.signalConfig.backup ? [c.signalConfig.backup] : [])]);
  const announce = c.announce ?? (c.trackerZone && c.announceLocations ? c.announceLocations[c.trackerZone] : undefined);
  for (const url of Array.isArray(announce) ? announce : announce ? [announce] : []) {
    if (!groups.some((g) => g.includes(url))) groups.push([url]);
  }
  // ws:// trackers can't be used from https pages.
  const secure = typeof location !== "undefined" && location.protocol === "https:";
  return groups
    .map((g) => g.filter((u) => !(secure && u.startsWith("ws:"))).map((u) => withToken(u, c.token)))
    .filter((g) => g.length > 0);
}

/** What would keep peers from connecting with this RTCConfiguration, in words (empty: nothing). */
export function rtcConfigProblems(rtc: RTCConfiguration): string[] {
  if (rtc.iceTransportPolicy !== "relay") return [];
  const turn = (rtc.iceServers ?? []).filter((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u) => /^turns?:/i.test(u)));
  if (!turn.length) {
    return ['webRTCConfig.iceTransportPolicy is "relay" but iceServers has no turn: or turns: URL: no peer connection can form'];
  }
  if (turn.some((s) => !s.username || !s.credential)) {
    return ["webRTCConfig: a TURN server without username and credential: most TURN servers refuse it, and relay-only peers cannot connect"];
  }
  return [];
}

/** A scheduler setting a page may give: a finite number, 0 or more. */
function isSetting(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/** The page's scheduler settings over the defaults; one that is not a finite number ≥ 0 keeps its default. */
export function resolveScheduler(given: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const out = { ...DEFAULT_SCHEDULER };
  for (const key of Object.keys(out) as (keyof SchedulerConfig)[]) {
    const v = given[key];
    if (isSetting(v)) out[key] = v;
  }
  return out;
}

/** What is wrong with the page's scheduler settings, in words (empty: nothing). */
export function schedulerProblems(given: Partial<SchedulerConfig> = {}): string[] {
  return Object.entries(given).flatMap(([key, v]) => {
    if (!(key in DEFAULT_SCHEDULER)) return [`scheduler.${key} is not a setting and is ignored; the settings are ${Object.keys(DEFAULT_SCHEDULER).join(", ")}`];
    if (!isSetting(v)) return [`scheduler.${key} is ${String(v)}, not a number of 0 or more: its default, ${DEFAULT_SCHEDULER[key as keyof SchedulerConfig]}, applies`];
    return [];
  });
}

/** A byte limit given as a number or per device kind, with the defaults for each kind. */
export function limitFor(l: number | { pc: number; mobile: number } | undefined, pc: number, mobile: number): number {
  if (typeof l === "number") return l;
  return isMobile() ? (l?.mobile ?? mobile) : (l?.pc ?? pc);
}

export function resolveConfig(c: P2PConfig): ResolvedConfig {
  const limit = c.memoryCacheLimit;
  const memoryLimitBytes = limitFor(limit, 400 * MiB, 100 * MiB);
  const diskLimitBytes = c.useDiskCache === false ? 0 : limitFor(c.diskCacheLimit, 2500 * MiB, 1500 * MiB);
  return {
    ...c,
    logLevel: c.logLevel ?? "error",
    showSlogan: c.showSlogan ?? true,
    p2pEnabled: c.p2pEnabled ?? true,
    p2pUploadEnabled: c.p2pUploadEnabled ?? true,
    waitForPeer: c.waitForPeer ?? false,
    waitForPeerTimeout: c.waitForPeerTimeout ?? 4,
    maxPeers: c.maxPeers ?? 20,
    offersPerAnnounce: c.offersPerAnnounce ?? 5,
    statsReportInterval: c.statsReportInterval ?? 10_000,
    peerIdPrefix: (c.peerIdPrefix ?? "-SC0001-").slice(0, 8),
    trackerGroups: trackerGroups(c),
    memoryLimitBytes,
    diskLimitBytes,
    // A count that is not one (NaN, negative) would hold P2P downloads for good: 0.
    minPeers: Number.isFinite(c.minPeers) ? Math.max(0, Math.floor(c.minPeers as number)) : 0,
    multiSource: c.multiSource ?? true,
    relay: c.relay ?? true,
    schedulerConfig: resolveScheduler(c.scheduler),
    rtcConfig: c.webRTCConfig ?? { iceServers: DEFAULT_ICE_SERVERS },
    integrityConfig: c.integrity === false ? false : c.integrity === true || c.integrity === undefined ? {} : c.integrity,
  };
}
