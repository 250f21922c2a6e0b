/**
 * The worker's answer to a media element's request for a proxied file: status and headers from
 * the range arithmetic (range.ts), and a body that pulls the pieces it spans one at a time, as
 * the element reads, from the page's engine, or by HTTP `Range` from the worker itself when no
 * engine answers for it (the page left, or the engine failed the piece).
 */
import { pieceRange, slicesOf } from "../pieces.js";
import { parseContentRange, planResponse } from "../range.js";
import type { ProxiedFile } from "../link.js";
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

/** One piece, from the page when it is there, else by HTTP `Range` from here. */
function getPiece(file: ProxiedFile, index: number, pieceLength: number, link: EngineLink | undefined): Fetching {
  const ctl = new AbortController();
  const range = pieceRange(index, file.length, pieceLength);
  const byHttp = async () => ({ data: await fetchRange(file.url, range.start, range.end, ctl.signal), via: "http" as const });
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
export function pieceStream(file: ProxiedFile, start: number, end: number, link: EngineLink | undefined, opts: ProxyOptions, clientId: string): ReadableStream<Uint8Array> {
  const slices = slicesOf(start, end, opts.pieceLength);
  const fetching = new Map<number, Fetching>();
  let next = 0;
  const want = (k: number) => {
    const s = slices[k];
    if (s && !fetching.has(k)) fetching.set(k, getPiece(file, s.index, opts.pieceLength, link));
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

/** The whole answer to a request for a proxied file. */
export function answer(req: Request, file: ProxiedFile, link: EngineLink | undefined, opts: ProxyOptions, clientId: string): Response {
  const plan = planResponse(req.method, req.headers.get("Range"), file.length, file.type);
  const body = plan.body && plan.end >= plan.start ? pieceStream(file, plan.start, plan.end, link, opts, clientId) : null;
  return new Response(body, { status: plan.status, headers: plan.headers });
}
