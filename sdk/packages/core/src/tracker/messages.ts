/**
 * WebTorrent tracker messages (JSON text frames), as bittorrent-tracker's websocket client speaks
 * them, plus our stats report. Pure: build and parse only.
 */

export type Sdp = { type: "offer" | "answer"; sdp: string };
export type OutgoingOffer = { offer_id: string; offer: Sdp };

export type AnnounceParams = {
  infoHash: string;
  peerId: string;
  offers: OutgoingOffer[];
  event?: "started" | "stopped" | "completed";
  uploaded?: number;
  downloaded?: number;
  trackerId?: string;
};

export function announceMessage(p: AnnounceParams): string {
  const msg: Record<string, unknown> = {
    action: "announce",
    info_hash: p.infoHash,
    peer_id: p.peerId,
    numwant: p.offers.length,
    uploaded: p.uploaded ?? 0,
    downloaded: p.downloaded ?? 0,
  };
  if (p.event) msg.event = p.event;
  if (p.offers.length) msg.offers = p.offers;
  if (p.trackerId) msg.trackerid = p.trackerId;
  return JSON.stringify(msg);
}

export function answerMessage(p: { infoHash: string; peerId: string; toPeerId: string; offerId: string; sdp: string }): string {
  return JSON.stringify({
    action: "announce",
    info_hash: p.infoHash,
    peer_id: p.peerId,
    to_peer_id: p.toPeerId,
    offer_id: p.offerId,
    answer: { type: "answer", sdp: p.sdp },
  });
}

export type StatsReport = {
  infoHash: string;
  peerId: string;
  channel: string;
  httpDown: number;
  p2pDown: number;
  p2pUp: number;
  peers: number;
  rebuffers: number;
  /** Player errors on segments from HTTP, from browser peers, from super peers. */
  errorsHttp?: number;
  errorsPeer?: number;
  errorsSuperPeer?: number;
  /** Segments from peers that failed the integrity check, and peers banned for them. */
  badSegments?: number;
  bannedPeers?: number;
  /** The viewer's QoE and group (qoe.ts), as the tracker reads it. */
  qoe?: Record<string, unknown>;
};

/** The stats contract with our tracker: `{"action":"stats", ...}` every ~10 s, bytes cumulative. */
export function statsMessage(s: StatsReport): string {
  return JSON.stringify({
    action: "stats",
    info_hash: s.infoHash,
    peer_id: s.peerId,
    channel: s.channel,
    http_down: Math.round(s.httpDown),
    p2p_down: Math.round(s.p2pDown),
    p2p_up: Math.round(s.p2pUp),
    peers: s.peers,
    rebuffers: s.rebuffers,
    errors_http: s.errorsHttp ?? 0,
    errors_peer: s.errorsPeer ?? 0,
    errors_superpeer: s.errorsSuperPeer ?? 0,
    bad_segments: s.badSegments ?? 0,
    banned_peers: s.bannedPeers ?? 0,
    ...(s.qoe ? { qoe: s.qoe } : {}),
  });
}

/** `ws(s)://host/path[?token=T]` -> `http(s)://host/stats[?token=T]` for `POST /stats`. */
export function statsBeaconUrl(trackerUrl: string): string | undefined {
  try {
    const u = new URL(trackerUrl);
    const scheme = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : undefined;
    // The tracker asks for its token on POST /stats as on the WebSocket.
    const token = u.searchParams.get("token");
    return scheme ? `${scheme}//${u.host}/stats${token ? "?token=" + encodeURIComponent(token) : ""}` : undefined;
  } catch {
    return undefined;
  }
}

export type TrackerEvent =
  | { kind: "announce-response"; infoHash: string; interval?: number; complete?: number; incomplete?: number; trackerId?: string; warning?: string }
  | { kind: "offer"; infoHash: string; peerId: string; offerId: string; sdp: string }
  | { kind: "answer"; infoHash: string; peerId: string; offerId: string; sdp: string }
  | { kind: "failure"; infoHash?: string; reason: string }
  | { kind: "ignored"; why: string };

const isStr = (v: unknown): v is string => typeof v === "string";
const is20 = (v: unknown): v is string => isStr(v) && v.length === 20;

export function parseTrackerMessage(text: string): TrackerEvent {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return { kind: "ignored", why: "not JSON" };
  }
  if (!m || typeof m !== "object") return { kind: "ignored", why: "not an object" };
  const o = m as Record<string, unknown>;
  const infoHash = is20(o.info_hash) ? o.info_hash : undefined;
  if (isStr(o["failure reason"])) return { kind: "failure", infoHash, reason: o["failure reason"] };
  if (o.action !== "announce") return { kind: "ignored", why: `action ${String(o.action)}` };
  if (!infoHash) return { kind: "ignored", why: "no info_hash" };
  const sdpOf = (v: unknown) => (v && typeof v === "object" && isStr((v as Sdp).sdp) ? (v as Sdp).sdp : undefined);
  const offer = sdpOf(o.offer);
  const answer = sdpOf(o.answer);
  if (offer !== undefined || answer !== undefined) {
    if (!is20(o.peer_id) || !isStr(o.offer_id)) return { kind: "ignored", why: "signal without peer_id/offer_id" };
    return offer !== undefined
      ? { kind: "offer", infoHash, peerId: o.peer_id, offerId: o.offer_id, sdp: offer }
      : { kind: "answer", infoHash, peerId: o.peer_id, offerId: o.offer_id, sdp: answer as string };
  }
  const num = (v: unknown) => (typeof v === "number" && isFinite(v) ? v : undefined);
  return {
    kind: "announce-response",
    infoHash,
    interval: num(o.interval),
    complete: num(o.complete),
    incomplete: num(o.incomplete),
    trackerId: isStr(o["tracker id"]) ? o["tracker id"] : undefined,
    warning: isStr(o["warning message"]) ? o["warning message"] : undefined,
  };
}

/** Reconnect delay: exponential from `base`, capped, with full jitter on the upper half. */
export function reconnectDelay(attempt: number, random: () => number = Math.random, baseMs = 1000, maxMs = 30_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

const OFFER_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 20-char offer id; alphanumeric keeps it valid in any JSON/latin-1 handling. */
export function randomOfferId(random: () => number = Math.random): string {
  let s = "";
  for (let i = 0; i < 20; i++) s += OFFER_ID_CHARS[Math.floor(random() * OFFER_ID_CHARS.length)];
  return s;
}
