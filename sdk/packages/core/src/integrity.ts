/**
 * Segment digests a site publishes, and the check of a segment's bytes against them.
 *
 * The manifest is PeerTube's `segments-sha256.json` format, which `swarmcast hash` writes and
 * `swarmcast origin` keeps current for live streams: a JSON object keyed by the segment's file
 * name (the last path component of its URL, without query), whose value is the SHA-256 (hex) of
 * the whole file, or an object keyed by inclusive byte ranges `"<first>-<last>"` (segments that
 * are byte ranges of a file, and the pieces of a progressive file) whose values are the digests
 * of those ranges.
 *
 * Pure but for {@link sha256Hex}, which uses WebCrypto.
 */
import type { ByteRange } from "./http.js";

export type DigestManifest = Map<string, string | Map<string, string>>;

/** What is wrong with a manifest; the only error {@link parseDigestManifest} throws. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

const HEX64 = /^[0-9a-f]{64}$/;
const RANGE = /^(\d+)-(\d+)$/;

/** Reads a manifest; throws a {@link ManifestError} that says what is wrong with it. */
export function parseDigestManifest(json: unknown): DigestManifest {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ManifestError("a segment digest manifest is a JSON object keyed by file name");
  }
  const out: DigestManifest = new Map();
  for (const [file, value] of Object.entries(json as Record<string, unknown>)) {
    if (typeof value === "string") {
      out.set(file, checkDigest(value, file));
    } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const ranges = new Map<string, string>();
      for (const [range, digest] of Object.entries(value as Record<string, unknown>)) {
        const m = RANGE.exec(range);
        if (!m || Number(m[1]) > Number(m[2])) throw new ManifestError(`${file}: "${range}" is not a byte range "<first>-<last>"`);
        if (typeof digest !== "string") throw new ManifestError(`${file} ${range}: the digest is not a string`);
        ranges.set(`${Number(m[1])}-${Number(m[2])}`, checkDigest(digest, `${file} ${range}`));
      }
      out.set(file, ranges);
    } else {
      throw new ManifestError(`${file}: expected a digest or an object of byte ranges`);
    }
  }
  return out;
}

function checkDigest(value: string, what: string): string {
  const v = value.toLowerCase();
  if (!HEX64.test(v)) throw new ManifestError(`${what}: "${value.slice(0, 80)}" is not a SHA-256 in hex`);
  return v;
}

/** The file name a manifest knows a segment URL by: its last path component, decoded, without query. */
export function manifestKey(url: string): string {
  let path: string;
  try {
    path = new URL(url, "http://x/").pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? url;
  }
  const last = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * The digest the manifest gives for a segment: by file name, and for a byte range by its
 * inclusive range. Undefined when the manifest does not list it.
 */
export function expectedDigest(manifest: DigestManifest, url: string, byteRange?: ByteRange): string | undefined {
  const entry = manifest.get(manifestKey(url));
  if (entry === undefined) return undefined;
  if (typeof entry === "string") return byteRange ? undefined : entry;
  if (!byteRange) return undefined;
  return entry.get(`${byteRange.start}-${byteRange.end}`);
}

/** SHA-256 of the bytes, lowercase hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  let hex = "";
  for (const b of new Uint8Array(digest)) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The default place of a stream's manifest: `segments-sha256.json` beside its playlist. */
export function defaultManifestUrl(playlistUrl: string): string | undefined {
  try {
    return new URL("segments-sha256.json", playlistUrl).toString();
  } catch {
    return undefined;
  }
}
