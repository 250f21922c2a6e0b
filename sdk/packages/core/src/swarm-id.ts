/**
 * Swarm identity by the P2P Media Loader 2.3 rules, so that our peers, PML 2.3 peers and the
 * super peer meet in the same tracker swarm:
 *   streamSwarmId = "v2-" + base + "-" + type + "-" + shortId
 *   infoHash      = base64(sha1(streamSwarmId)[0..15])   (20 ASCII chars)
 * where base is the manifest's final URL without query (or a configured channel id).
 *
 * P2P Media Loader up to 2.2 (and its Shaka integration, newest release 2.2.2) names a stream by
 * its position among the streams of its type instead of a short id, and hashes with MD5
 * (`infoHashMd5`). `IdRules` says which a stream follows.
 */
import { md5 } from "./md5.js";
import { base64, sha1, utf8 } from "./sha1.js";

export const PEER_PROTOCOL_VERSION = "v2";

export type StreamType = "main" | "secondary";

export type StreamProps = {
  bitrate?: number | null;
  codecs?: string | null;
  width?: number | null;
  height?: number | null;
  language?: string | null;
  channels?: string | number | null;
  name?: string | null;
  frameRate?: number | string | null;
  videoRange?: string | null;
};

function normalizeCodec(raw: string): string {
  let c = raw.trim().toLowerCase();
  const parts = c.split(".");
  // RFC 4281 decimal avc1 ("avc1.66.30") becomes hex ("avc1.42001e").
  if (parts.length === 3 && (parts[0] === "avc1" || parts[0] === "avc")) {
    const profile = parseInt(parts[1] as string, 10);
    const level = parseInt(parts[2] as string, 10);
    if (!isNaN(profile) && !isNaN(level) && parts[1] === String(profile) && parts[2] === String(level)) {
      c = `${parts[0]}.${profile.toString(16).padStart(2, "0")}00${level.toString(16).padStart(2, "0")}`;
    }
  }
  return c;
}

/** The per-variant short id (PML `generateStreamShortId`). */
export function streamShortId(p: StreamProps): string {
  const codecs = p.codecs ? p.codecs.split(",").map(normalizeCodec).sort().join(",") : "";
  const lang = p.language && p.language !== "und" ? p.language.slice(0, 2).toLowerCase() : "";
  const channels = p.channels ? p.channels.toString().split("/")[0] : "";
  const name = p.name ? p.name.toLowerCase().trim() : "";
  const fps = p.frameRate && !isNaN(Number(p.frameRate)) ? Number(p.frameRate).toString() : "";
  const range = p.videoRange ? p.videoRange.toUpperCase().trim() : "";
  const s = `${p.bitrate ?? 0}-${codecs}-${p.width ?? ""}-${p.height ?? ""}-${lang}-${channels}-${name}-${fps}-${range}`;
  return base64(sha1(utf8(s)));
}

/** Short id of an hls.js video level, as PML's hls.js integration derives it. */
export function hlsVideoShortId(level: {
  bitrate: number;
  maxBitrate?: number;
  videoCodec?: string;
  width?: number;
  height?: number;
  attrs?: Record<string, string | undefined>;
}): string {
  const b = level.maxBitrate ?? level.bitrate;
  const missing = b === 0;
  return streamShortId({
    bitrate: b,
    codecs: missing ? undefined : level.videoCodec,
    width: missing ? undefined : level.width,
    height: missing ? undefined : level.height,
    frameRate: missing ? undefined : level.attrs?.["FRAME-RATE"],
    videoRange: missing ? undefined : level.attrs?.["VIDEO-RANGE"],
  });
}

/** Short id of an hls.js audio track. */
export function hlsAudioShortId(track: { audioCodec?: string; lang?: string; channels?: string; name?: string }): string {
  return streamShortId({ bitrate: 0, codecs: track.audioCodec, language: track.lang, channels: track.channels, name: track.name });
}

/** The swarm base: a manifest URL without its query (PML splits at the first "?"). */
export function swarmBase(manifestUrl: string): string {
  return manifestUrl.split("?")[0] as string;
}

export function streamSwarmId(base: string, type: StreamType, shortId: string): string {
  return `${PEER_PROTOCOL_VERSION}-${base}-${type}-${shortId}`;
}

/** 20-char ASCII info hash of a stream swarm id. */
export function infoHash(streamSwarmIdValue: string): string {
  return base64(sha1(utf8(streamSwarmIdValue)).subarray(0, 15));
}

/** 20-char ASCII info hash by the P2P Media Loader 2.2 rule: base64(md5(id)[1..16]). */
export function infoHashMd5(streamSwarmIdValue: string): string {
  return base64(md5(utf8(streamSwarmIdValue)).subarray(1));
}

/**
 * Which P2P Media Loader generation's swarm naming a stream follows: "pml-2.3" (short id of the
 * stream's attributes, SHA-1; P2P Media Loader 2.3, our hls.js engine) or "pml-2.2" (position
 * of the stream, MD5; P2P Media Loader 2.2, the published p2p-media-loader-shaka).
 */
export type IdRules = "pml-2.3" | "pml-2.2";

export function infoHashFor(rules: IdRules, streamSwarmIdValue: string): string {
  return rules === "pml-2.2" ? infoHashMd5(streamSwarmIdValue) : infoHash(streamSwarmIdValue);
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Peer ids of our servers (super peers, `swarmcast peer`) start with this. */
export const SERVER_PEER_ID_PREFIX = "-SCSP";

/** Whether a peer id is one of our servers' (a super peer) rather than a browser's. */
export function isServerPeerId(peerId: string): boolean {
  return peerId.startsWith(SERVER_PEER_ID_PREFIX);
}

/** 20-char ASCII peer id: a client prefix ("-SC0001-") then random alphanumerics. */
export function generatePeerId(prefix: string, random: () => number = Math.random): string {
  let id = prefix.slice(0, 20);
  while (id.length < 20) id += ID_CHARS[Math.floor(random() * ID_CHARS.length)];
  return id;
}
