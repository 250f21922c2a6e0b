/**
 * Before a file is proxied: what the origin says of it (status, length, type, range support).
 * A file that cannot be shared in pieces (missing, not media, unreadable across origins, no
 * length, no ranges) is played from its own URL, as without the engine. `classify` is pure;
 * `probe` is the one HEAD (or, where HEAD is refused, a one-byte GET) it takes.
 */
import { contentRangeLength } from "./range.js";

export type ProbeResult =
  | { ok: true; length: number; type: string }
  /** `code` undefined: nothing is wrong, the file just can't be shared (no length, no ranges). */
  | { ok: false; code?: "HTTP_EXPT" | "MEDIA_EXPT"; message: string };

const MEDIA_TYPE = /^(video|audio)\/|^application\/(ogg|mp4|octet-stream)$|^$/;

const BY_EXTENSION: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/mp4",
  m4a: "audio/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  ogv: "video/ogg",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  opus: "audio/ogg",
  mp3: "audio/mpeg",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
};

/** A media type for a file the origin calls `application/octet-stream` (or nothing), from its name. */
export function typeFromName(url: string): string | undefined {
  const path = url.split(/[?#]/)[0] ?? url;
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  return BY_EXTENSION[ext];
}

/** What a response to HEAD (or to a one-byte ranged GET) says of the file. */
export function classify(url: string, status: number, header: (name: string) => string | null): ProbeResult {
  if (status < 200 || status > 299) return { ok: false, code: "HTTP_EXPT", message: `HTTP ${status} for ${url}: played from its own URL` };
  const raw = (header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!MEDIA_TYPE.test(raw)) return { ok: false, code: "MEDIA_EXPT", message: `${url} is not a media file (${raw}): played from its own URL` };
  if ((header("Accept-Ranges") ?? "").trim().toLowerCase() === "none") return { ok: false, message: `${url}: the origin serves no byte ranges` };
  let length: number | undefined;
  if (status === 206) length = contentRangeLength(header("Content-Range"));
  else {
    const encoded = (header("Content-Encoding") ?? "identity").toLowerCase() !== "identity";
    const n = Number(header("Content-Length") ?? NaN);
    if (!encoded && Number.isSafeInteger(n) && n >= 0) length = n;
  }
  if (length === undefined) return { ok: false, message: `${url}: the origin does not say its length` };
  const type = raw === "" || raw === "application/octet-stream" ? (typeFromName(url) ?? "application/octet-stream") : (header("Content-Type") as string);
  return { ok: true, length, type };
}

/** Asks the origin about a file: HEAD, or a one-byte GET where HEAD is refused or says no length. */
export async function probe(url: string): Promise<ProbeResult> {
  try {
    const head = await fetch(url, { method: "HEAD", cache: "no-store" });
    const r = classify(url, head.status, (h) => head.headers.get(h));
    if (r.ok || (r.code && head.status !== 405 && head.status !== 501)) return r;
    const ctl = new AbortController();
    const get = await fetch(url, { headers: { Range: "bytes=0-0" }, cache: "no-store", signal: ctl.signal });
    ctl.abort(); // the headers are all we need
    return classify(url, get.status, (h) => get.headers.get(h));
  } catch (err) {
    return { ok: false, code: "HTTP_EXPT", message: `${url} cannot be read (${String(err)}; a cross-origin file without CORS, or the network failed): played from its own URL` };
  }
}
