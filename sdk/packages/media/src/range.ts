/**
 * HTTP byte ranges as the ServiceWorker answers them (RFC 9110, sections 14 and 15.3.7): the
 * `Range` header of a media element's request, parsed; the status, headers and byte span of the
 * answer for a file of known length. Pure: no I/O.
 *
 * What the answer is, by request:
 * - no `Range` (or a method other than GET, HEAD included): 200 with the whole file;
 * - one satisfiable range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): 206 with `Content-Range`,
 *   the end clipped to the file;
 * - a range that starts at or past the end of the file, or `bytes=-0`: 416 with
 *   `Content-Range: bytes *\/<length>`;
 * - a header we must or may ignore (another unit, bad syntax, several ranges): 200, whole.
 */

/** What a `Range` header asks for. */
export type RangeRequest =
  /** No header: the whole file. */
  | { kind: "none" }
  /** A header served as if absent; `why` says what was wrong with it. */
  | { kind: "ignored"; why: string }
  /** `bytes=first-` or `bytes=first-last` (last may be past the end). */
  | { kind: "from"; first: number; last?: number }
  /** `bytes=-length`: the last `length` bytes. */
  | { kind: "suffix"; length: number };

const DIGITS = /^[0-9]+$/;

function num(s: string): number {
  // Numbers beyond 2^53 are only ever "past the end": Infinity keeps that meaning.
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : Infinity;
}

/** Parses a `Range` header value (null: no header). */
export function parseRange(header: string | null | undefined): RangeRequest {
  if (header === null || header === undefined) return { kind: "none" };
  const eq = header.indexOf("=");
  if (eq < 0) return { kind: "ignored", why: "no range unit" };
  const unit = header.slice(0, eq).trim().toLowerCase();
  if (unit !== "bytes") return { kind: "ignored", why: `unit "${unit}" is not bytes` };
  // A list may carry empty elements (RFC 9110 section 5.6.1): they are skipped.
  const specs = header
    .slice(eq + 1)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (specs.length === 0) return { kind: "ignored", why: "no range" };
  if (specs.length > 1) return { kind: "ignored", why: "several ranges" };
  const spec = specs[0] as string;
  const dash = spec.indexOf("-");
  if (dash < 0 || spec.indexOf("-", dash + 1) >= 0) return { kind: "ignored", why: `"${spec}" is not first-last` };
  const a = spec.slice(0, dash);
  const b = spec.slice(dash + 1);
  if (a === "") {
    if (!DIGITS.test(b)) return { kind: "ignored", why: `"${spec}" is not a suffix length` };
    return { kind: "suffix", length: num(b) };
  }
  if (!DIGITS.test(a) || (b !== "" && !DIGITS.test(b))) return { kind: "ignored", why: `"${spec}" is not first-last` };
  const first = num(a);
  if (b === "") return { kind: "from", first };
  const last = num(b);
  if (last < first) return { kind: "ignored", why: `"${spec}" ends before it starts` };
  return { kind: "from", first, last };
}

/** The answer to a request for a file of `length` bytes: status and the inclusive byte span sent. */
export type RangeAnswer =
  | { status: 200; start: number; end: number }
  | { status: 206; start: number; end: number }
  | { status: 416 };

/** Resolves a parsed range against the file's length. An empty file has an empty 200 (end -1). */
export function resolveRange(req: RangeRequest, length: number): RangeAnswer {
  switch (req.kind) {
    case "none":
    case "ignored":
      return { status: 200, start: 0, end: length - 1 };
    case "from":
      if (req.first >= length) return { status: 416 };
      return { status: 206, start: req.first, end: Math.min(req.last ?? Infinity, length - 1) };
    case "suffix":
      if (req.length === 0 || length === 0) return { status: 416 };
      return { status: 206, start: Math.max(0, length - req.length), end: length - 1 };
  }
}

/** What the ServiceWorker sends: status, headers, and the bytes [start, end] unless `body` is false. */
export type ResponsePlan = { status: 200 | 206 | 405 | 416; headers: Record<string, string>; start: number; end: number; body: boolean };

/**
 * The whole answer for a request (method, `Range` header) to a file of known length and type.
 * HEAD gets GET's headers without a body; Range applies to GET only (RFC 9110 section 14.2).
 */
export function planResponse(method: string, rangeHeader: string | null, length: number, contentType: string): ResponsePlan {
  const m = method.toUpperCase();
  const base: Record<string, string> = { "Accept-Ranges": "bytes", "Cache-Control": "no-store" };
  if (m !== "GET" && m !== "HEAD") return { status: 405, headers: { Allow: "GET, HEAD" }, start: 0, end: -1, body: false };
  const answer = resolveRange(m === "GET" ? parseRange(rangeHeader) : { kind: "none" }, length);
  if (answer.status === 416) {
    return { status: 416, headers: { ...base, "Content-Range": `bytes */${length}`, "Content-Length": "0" }, start: 0, end: -1, body: false };
  }
  const headers: Record<string, string> = { ...base, "Content-Type": contentType, "Content-Length": String(answer.end - answer.start + 1) };
  if (answer.status === 206) headers["Content-Range"] = `bytes ${answer.start}-${answer.end}/${length}`;
  return { status: answer.status, headers, start: answer.start, end: answer.end, body: m === "GET" };
}

/** A `Content-Range` header (`bytes a-b/length`, `bytes a-b/*`, or `bytes *\/length`), or undefined when malformed. */
export function parseContentRange(header: string | null | undefined): { first?: number; last?: number; length?: number } | undefined {
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header ?? "");
  if (!m) return undefined;
  const n = (s: string | undefined) => (s === undefined || s === "*" ? undefined : Number.isSafeInteger(Number(s)) ? Number(s) : undefined);
  return { first: n(m[1]), last: n(m[2]), length: n(m[3]) };
}

/** The complete length a `Content-Range` header states, or undefined when it does not say. */
export function contentRangeLength(header: string | null | undefined): number | undefined {
  return parseContentRange(header)?.length;
}
