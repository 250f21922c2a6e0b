/**
 * The worker's answer to a media element's request for a proxied file: status and headers from
 * the range arithmetic (range.ts), and a body that pulls the pieces it spans one at a time, as
 * the element reads, from the page's engine, or by HTTP `Range` from the worker itself when no
 * engine answers for it (the page left, or the engine failed the piece). The engine is looked up
 * for each piece, not once per request: a long answer goes on through the page's current link
 * when the page says hello again (or says it late), instead of by HTTP to its end.
 */
import { pieceRange, slicesOf } from "../pieces.js";
import { classify, typeFromName } from "../probe.js";
import { parseContentRange, parseRange, planResponse } from "../range.js";
import type { KnownFile, ProxiedFile } from "../link.js";
import type { EngineLink } from "./engines.js";

/** What the proxy reports of every part of a piece it answered with (diagnostics, tests). */
export type Served = { clientId: string; url: string; start: number; data: Uint8Array; via: "page" | "http" };

export type ProxyOptions = {
  pieceLength: number;
  /** Pieces fetched ahead of the one the element reads. */
  readAhead: number;
  onServed?: (s: Served) => void;
};

type Fetching = { promise: Promise<{ data: Uint8Array; via: Served["via"] }>; abort(): void };

/** Bytes [start, end] of `url` by HTTP `Range`; exactly those bytes or an error. */
async function fetchRange(url: string, start: number, end: number, signal: AbortSignal): Promise<Uint8Array> {
  const res = await fetch(url, { headers: { Range: `bytes=${start}-${end}` }, signal });
  if (res.status !== 206 && res.status !== 200) throw new Error(`HTTP ${res.status} for ${url}`);
  const stated = parseContentRange(res.headers.get("Content-Range"));
  if (res.status === 206 && stated?.first !== undefined && stated.first !== start) throw new Error(`HTTP 206 for ${url} starts at ${stated.first}, not ${start}`);
  const body = new Uint8Array(await res.arrayBuffer());
  const data = res.status === 200 ? body.subarray(start, end + 1) : body;
  if (data.length !== end - start + 1) throw new Error(`HTTP gave ${data.length} bytes of ${url} ${start}-${end}`);
  return data;
}

/** A piece in hand. */
export type Piece = { index: number; data: Uint8Array };

/** What the worker's first request for a file of unknown length says: the file and the piece it brought, or why it can't be proxied. */
export type Opening = { ok: true; file: KnownFile; first?: Piece } | { ok: false; code?: "HTTP_EXPT" | "MEDIA_EXPT"; message: string };

/**
 * The first request for a file the page has not opened before: the piece that holds the first
 * byte the element asks for, by HTTP `Range`. Its answer says whether the file can be proxied
 * (status, type, range support: `classify`) and its length, and brings that piece: one request
 * to the origin before the first bytes reach the element, as for a plain `<video src>`.
 */
export async function openFile(file: ProxiedFile, rangeHeader: string | null, pieceLength: number): Promise<Opening> {
  const r = parseRange(rangeHeader);
  const index = r.kind === "from" && Number.isSafeInteger(r.first) ? Math.floor(r.first / pieceLength) : 0;
  const start = index * pieceLength;
  let res: Response;
  try {
    res = await fetch(file.url, { headers: { Range: `bytes=${start}-${start + pieceLength - 1}` } });
  } catch (err) {
    return { ok: false, code: "HTTP_EXPT", message: `${file.url} cannot be read (${String(err)}; a cross-origin file without CORS, or the network failed): played from its own URL` };
  }
  const header = (h: string) => res.headers.get(h);
  if (res.status === 416) {
    // The element asked past the end: the file is known, no piece came with it.
    const length = parseContentRange(header("Content-Range"))?.length;
    if (length !== undefined) return { ok: true, file: { ...file, length, type: typeFromName(file.url) ?? "application/octet-stream" } };
  }
  const c = classify(file.url, res.status, header);
  if (!c.ok) return c;
  // A 200 to a ranged request: the origin serves no ranges, unless the whole file is this one piece.
  if (res.status === 200 && !(index === 0 && c.length <= pieceLength)) return { ok: false, message: `${file.url}: the origin serves no byte ranges` };
  const stated = parseContentRange(header("Content-Range"));
  if (res.status === 206 && stated?.first !== undefined && stated.first !== start) return { ok: false, code: "HTTP_EXPT", message: `HTTP 206 for ${file.url} starts at ${stated.first}, not ${start}: played from its own URL` };
  const known: KnownFile = { ...file, length: c.length, type: c.type };
  if (start >= c.length) return { ok: true, file: known };
  const data = new Uint8Array(await res.arrayBuffer());
  const want = pieceRange(index, c.length, pieceLength);
  if (data.length !== want.end - want.start + 1) return { ok: false, code: "HTTP_EXPT", message: `HTTP gave ${data.length} bytes of ${file.url} ${want.start}-${want.end}: played from its own URL` };
  return { ok: true, file: known, first: { index, data } };
}

/** The page's engine, when it is linked now. */
export type LinkNow = () => EngineLink | undefined;

/** One piece, from the page when it is there, else by HTTP `Range` from here. */
function getPiece(file: KnownFile, index: number, pieceLength: number, linkNow: LinkNow): Fetching {
  const ctl = new AbortController();
  const range = pieceRange(index, file.length, pieceLength);
  const byHttp = async () => ({ data: await fetchRange(file.url, range.start, range.end, ctl.signal), via: "http" as const });
  const link = linkNow();
  const promise =
    link && link.isOpen
      ? link.piece(file.url, index, ctl.signal).then(
          (data) => ({ data, via: "page" as const }),
          (err: unknown) => {
            if (ctl.signal.aborted) throw err;
            return byHttp();
          },
        )
      : byHttp();
  promise.catch(() => {}); // a read-ahead nobody reads must not be an unhandled rejection
  return { promise, abort: () => ctl.abort() };
}

/** The body for bytes [start, end] of the file, pulled piece by piece. */
export function pieceStream(file: KnownFile, start: number, end: number, link: LinkNow, opts: ProxyOptions, clientId: string, have?: Piece): ReadableStream<Uint8Array> {
  const slices = slicesOf(start, end, opts.pieceLength);
  const fetching = new Map<number, Fetching>();
  let next = 0;
  const want = (k: number) => {
    const s = slices[k];
    if (!s || fetching.has(k)) return;
    const inHand = have && have.index === s.index ? have : undefined;
    fetching.set(k, inHand ? { promise: Promise.resolve({ data: inHand.data, via: "http" }), abort: () => {} } : getPiece(file, s.index, opts.pieceLength, link));
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const s = slices[next];
        if (!s) return controller.close();
        for (let k = next; k <= next + opts.readAhead; k++) want(k);
        const f = fetching.get(next) as Fetching;
        const { data, via } = await f.promise;
        fetching.delete(next);
        if (data.length < s.to) throw new Error(`piece ${s.index} of ${file.url} has ${data.length} bytes, not ${s.to}`);
        const part = data.subarray(s.from, s.to);
        controller.enqueue(part);
        opts.onServed?.({ clientId, url: file.url, start: s.index * opts.pieceLength + s.from, data: part, via });
        if (++next >= slices.length) controller.close();
      },
      cancel() {
        for (const f of fetching.values()) f.abort();
        fetching.clear();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The whole answer to a request for a proxied file (`have`: a piece already in hand). */
export function answer(req: Request, file: KnownFile, link: LinkNow, opts: ProxyOptions, clientId: string, have?: Piece): Response {
  const plan = planResponse(req.method, req.headers.get("Range"), file.length, file.type);
  const body = plan.body && plan.end >= plan.start ? pieceStream(file, plan.start, plan.end, link, opts, clientId, have) : null;
  return new Response(body, { status: plan.status, headers: plan.headers });
}
