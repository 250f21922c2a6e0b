/** HTTP segment fetch with progress, abort and byte-range resume. */

export type ByteRange = { start: number; end: number }; // inclusive, like HTTP Range

/**
 * `length`: how many bytes the server said follow from the requested start (from
 * `Content-Range`, or `Content-Length` when the body is not encoded), when it said so.
 */
export type HttpResult = { data: Uint8Array; status: number; url: string; length?: number };

export class HttpError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Fetches `url` from `offset` bytes into the resource (or into `range` when the segment is a
 * byte range). Calls onBytes for every chunk and onFirstByte once (for latency estimates).
 * If the server ignores Range, the unwanted head is dropped so the result always starts at
 * the requested offset.
 */
export async function fetchSegmentBytes(
  url: string,
  opts: {
    range?: ByteRange;
    offset?: number;
    signal?: AbortSignal;
    onBytes?: (chunk: Uint8Array) => void;
    /** Once the response's head arrived, with how many bytes follow when the server says so. */
    onFirstByte?: (length?: number) => void;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpResult> {
  const offset = opts.offset ?? 0;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let wantStart: number | undefined;
  if (opts.range) {
    wantStart = opts.range.start + offset;
    headers.Range = `bytes=${wantStart}-${opts.range.end}`;
  } else if (offset > 0) {
    wantStart = offset;
    headers.Range = `bytes=${offset}-`;
  }
  const res = await fetch(url, { headers, signal: opts.signal ?? null });
  if (!res.ok) throw new HttpError(`HTTP ${res.status} for ${url}`, res.status);
  // A 200 to a ranged request carries the whole resource: skip to what we asked for.
  let skip = wantStart !== undefined && res.status === 200 ? wantStart : 0;
  let limit = opts.range && res.status === 200 ? opts.range.end - opts.range.start + 1 - offset : Infinity;
  const length = statedLength(res, wantStart, skip, limit);
  opts.onFirstByte?.(length);
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (chunk: Uint8Array) => {
    if (skip > 0) {
      const drop = Math.min(skip, chunk.length);
      chunk = chunk.subarray(drop);
      skip -= drop;
    }
    if (chunk.length > limit) chunk = chunk.subarray(0, limit);
    if (!chunk.length) return;
    limit -= chunk.length;
    parts.push(chunk);
    total += chunk.length;
    opts.onBytes?.(chunk);
  };
  if (res.body && typeof res.body.getReader === "function") {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value) push(value);
    }
  } else {
    push(new Uint8Array(await res.arrayBuffer()));
  }
  const data = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    data.set(p, pos);
    pos += p.length;
  }
  return { data, status: res.status, url: res.url || url, length };
}

/**
 * How many bytes of what we asked for the response says it carries, or undefined when it does
 * not say (no length, an encoded body, a `Content-Range` a cross-origin server did not expose).
 * A 206 for another start than the one requested is an error: its bytes would land at the wrong
 * place.
 */
function statedLength(res: Response, wantStart: number | undefined, skip: number, limit: number): number | undefined {
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("Content-Range")?.trim() ?? "");
    if (!m) return undefined;
    const first = Number(m[1]);
    const last = Number(m[2]);
    if (wantStart !== undefined && first !== wantStart) {
      throw new HttpError(`HTTP 206 starts at byte ${first}, not at ${wantStart}`, res.status);
    }
    return last - first + 1;
  }
  const encoding = res.headers.get("Content-Encoding");
  const header = res.headers.get("Content-Length");
  if (header === null || (encoding && encoding !== "identity")) return undefined;
  const total = Number(header);
  if (!Number.isSafeInteger(total) || total < 0) return undefined;
  return Math.max(0, Math.min(total - skip, limit));
}

/** Exponentially weighted moving average. */
export class Ewma {
  private value?: number;
  constructor(private readonly alpha: number, private readonly fallback: number) {}
  add(x: number): void {
    if (!isFinite(x) || x <= 0) return;
    this.value = this.value === undefined ? x : this.alpha * x + (1 - this.alpha) * this.value;
  }
  get(): number {
    return this.value ?? this.fallback;
  }
  get measured(): boolean {
    return this.value !== undefined;
  }
}
