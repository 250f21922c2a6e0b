/**
 * The bytes of one segment while they arrive, as a state machine with no I/O.
 *
 * A segment is filled by sources: HTTP, a peer, a second peer that resumes where the first
 * stopped, HTTP `Range` for the rest; or, with peers that speak our byte-range extension,
 * several peers at once, each sending its own part (`claim`), a later one maybe taking the tail
 * of a part under way (`split`). Each source gets a
 * {@link Source} handle when it begins; only active handles' bytes count. From then on nothing
 * a source, a late message or our own scheduler gets wrong can reach the player:
 * - bytes of a source that was stopped or replaced are dropped (and counted);
 * - every source states how many bytes follow from where it starts; a statement that
 *   contradicts the segment's known length discards what it would be appended to; a part's
 *   source that states another size than the part's stops alone (`mismatch`);
 * - bytes beyond the stated length or the part's end are dropped, the source is marked overlong;
 * - bytes for a place already held (two sources covered it) are dropped, the first kept;
 * - {@link SegmentTransfer.finish} yields the segment only when every byte of the stated
 *   length is held.
 */

export type SourceKind = "http" | "p2p";

/** One source's turn at filling the segment. */
export type Source = {
  readonly kind: SourceKind;
  readonly peerId?: string;
  /** Offset in the segment where this source's bytes start. */
  readonly from: number;
  /**
   * Where this source's bytes end (exclusive) when it sends a part of the segment (a claim,
   * or HTTP filling the holes parts left); undefined: to the segment's end, whatever it is.
   */
  readonly end?: number;
  readonly turn: number;
};

/** What became of bytes or statements a source gave. */
export type Verdict =
  /** Accepted. */
  | "ok"
  /** From a source that is no longer active: ignored. */
  | "stale"
  /** The source's length disagrees with the segment's: the bytes held were discarded. */
  | "conflict"
  /** A part's source states another size than the part it was asked for: it is stopped. */
  | "mismatch"
  /** More bytes than the source said would follow: the excess was dropped. */
  | "overlong";

export type Finished =
  | { kind: "complete"; data: Uint8Array }
  /** The source delivered its whole part; other parts are still missing. */
  | { kind: "part" }
  /** The source ended before its part or the segment was whole (the caller resumes elsewhere). */
  | { kind: "short" }
  | { kind: "stale" };

/** Bytes held at one place of the segment. */
type Span = { start: number; chunks: Uint8Array[]; len: number };

/** Where bytes held came from: `[start, end)` of the segment, from that source. */
export type Origin = { kind: SourceKind; peerId?: string; start: number; end: number };

export class SegmentTransfer {
  /** Held bytes: disjoint, sorted by start. */
  private spans: Span[] = [];
  private held = 0;
  private length?: number;
  private readonly playlistLength?: number;
  /** Active sources and where each one's next byte goes. */
  private readonly active = new Map<Source, number>();
  /** Where an active source's claim ends since another source took its tail ({@link split}). */
  private readonly cuts = new Map<Source, number>();
  private turns = 0;
  /** Bytes dropped: stale, beyond the stated length, duplicates, or discarded after a conflict. */
  private dropped = 0;
  /** Times sources disagreed about the segment's length. */
  conflicts = 0;
  /** Times every byte held was discarded: bytes read before a discard may not be the segment's. */
  discards = 0;
  usedHttp = false;
  usedP2P = false;
  private readonly peers = new Set<string>();
  /** Which source each byte held came from, in the order they came. */
  private from: (Origin & { source: Source })[] = [];

  /**
   * `knownLength`: the segment's length when the playlist says it (a byte range). `onDrop` hears
   * of every byte dropped.
   */
  constructor(knownLength?: number, private readonly onDrop: (bytes: number) => void = () => {}) {
    this.length = knownLength;
    this.playlistLength = knownLength;
  }

  /** Bytes held, wherever they are in the segment. */
  get received(): number {
    return this.held;
  }

  /** The segment's length, once known. */
  get total(): number | undefined {
    return this.length;
  }

  /** Bytes still missing (undefined while the length is unknown). */
  get missing(): number | undefined {
    return this.length === undefined ? undefined : this.length - this.held;
  }

  /**
   * Bytes an HTTP rescue would fetch: from the first byte missing to the end of the last hole
   * (parts held between holes come again); undefined while the length is unknown.
   */
  get rescueBytes(): number | undefined {
    const end = this.lastMissingEnd();
    return this.length === undefined ? undefined : end === undefined ? 0 : end - this.firstMissing(0);
  }

  /**
   * Held bytes from `from` on, at most `max`, without copying: those of one stored piece, so
   * possibly fewer. Undefined when byte `from` is not held. A relay serves a segment still
   * arriving with this.
   */
  read(from: number, max: number): Uint8Array | undefined {
    for (const s of this.spans) {
      if (s.start > from) return undefined;
      if (from >= s.start + s.len) continue;
      let at = s.start;
      for (const c of s.chunks) {
        if (from < at + c.length) return c.subarray(from - at, Math.min(c.length, from - at + max));
        at += c.length;
      }
    }
    return undefined;
  }

  /** The active sources. */
  get sources(): Source[] {
    return [...this.active.keys()];
  }

  /** Where the source's next byte goes (its start plus what it sent). */
  position(source: Source): number | undefined {
    return this.active.get(source);
  }

  /**
   * A new source takes over: every other one becomes stale, and it sends from the first byte
   * not held. HTTP stops at the end of the last hole when parts beyond it are held; a peer
   * without our extension sends to the segment's end (its bytes on held places are dropped).
   */
  begin(kind: SourceKind, peerId?: string): Source {
    this.active.clear();
    this.cuts.clear();
    const from = this.firstMissing(0);
    const lastHole = kind === "http" ? this.lastMissingEnd() : undefined;
    const end = lastHole !== undefined && lastHole < (this.length ?? Infinity) ? lastHole : undefined;
    return this.activate({ kind, peerId, from, end, turn: ++this.turns });
  }

  /**
   * A part for a source that sends byte ranges, alongside the active ones: from the first byte
   * neither held nor claimed, at most `maxBytes`, up to the next byte held or claimed. Undefined
   * when nothing is left to claim.
   */
  claim(kind: SourceKind, peerId: string | undefined, maxBytes: number): Source | undefined {
    const from = this.firstFree();
    if (from === undefined) return undefined;
    const end = Math.min(from + Math.max(1, maxBytes), this.nextTaken(from), this.length ?? Infinity);
    return this.activate({ kind, peerId, from, end, turn: ++this.turns });
  }

  /**
   * The tail of `source`'s claim, from `at`, for a new source (another peer, idle while that one
   * still has far to go). `source` goes on sending, but its claim ends at `at`: once there,
   * {@link reachedCut} says so. Undefined when `at` is not ahead of what `source` has sent.
   */
  split(source: Source, at: number, kind: SourceKind, peerId?: string): Source | undefined {
    const pos = this.active.get(source);
    const end = this.claimEnd(source);
    if (pos === undefined || end === undefined || at <= pos || at >= end) return undefined;
    this.cuts.set(source, at);
    return this.activate({ kind, peerId, from: at, end, turn: ++this.turns });
  }

  /** Where an active source's claim ends: its part's end, or where a split cut it (undefined while unknown). */
  claimEnd(source: Source): number | undefined {
    return this.cuts.get(source) ?? source.end ?? this.length;
  }

  /**
   * Whether a source whose tail was split off has sent up to the cut while the bytes after it
   * are held or another source's to send: what it would send next is not needed. If the tail's
   * source stopped meanwhile, the source takes the free bytes after the cut back (false).
   */
  reachedCut(source: Source): boolean {
    const cut = this.cuts.get(source);
    const pos = this.active.get(source);
    if (cut === undefined || pos === undefined || pos < cut) return false;
    if (this.firstMissing(pos) > pos || this.claimAt(pos) !== undefined) return true;
    const partEnd = source.end ?? this.length ?? Infinity;
    const end = this.nextTaken(pos);
    if (end >= partEnd) this.cuts.delete(source);
    else this.cuts.set(source, end);
    return false;
  }

  /** Whether {@link claim} would give a part now. */
  get claimable(): boolean {
    return this.firstFree() !== undefined;
  }

  /** The first byte neither held nor claimed by an active source; undefined when there is none. */
  private firstFree(): number | undefined {
    let from = 0;
    for (;;) {
      from = this.firstMissing(from);
      const claimedBy = this.claimAt(from);
      if (claimedBy === undefined) break;
      if (claimedBy === Infinity) return undefined;
      from = claimedBy;
    }
    return this.length !== undefined && from >= this.length ? undefined : from;
  }

  /** The source stops (abandoned, cancelled, failed); its later bytes are stale. Without one: all stop. */
  stop(source?: Source): void {
    if (source) {
      this.active.delete(source);
      this.cuts.delete(source);
    } else {
      this.active.clear();
      this.cuts.clear();
    }
  }

  isCurrent(source: Source): boolean {
    return this.active.has(source);
  }

  /**
   * The source states that `count` bytes follow from its start (P2P `SegmentData.s`, HTTP's
   * `Content-Range` or `Content-Length`), and, for a part, maybe the segment's length `total`.
   * A source of the whole rest makes the segment's length `from + count`. If the playlist or
   * another source said otherwise, there is no telling which bytes are right: all of them are
   * discarded, every source is stopped, and the segment starts over. A part's source must state
   * its part's size (less only where the segment ends).
   */
  expect(source: Source, count: number, total?: number): Verdict {
    if (!this.isCurrent(source)) return "stale";
    if (source.end === undefined) return this.setLength(source.from + count);
    if (total !== undefined && this.setLength(total) === "conflict") return "conflict";
    const due = Math.min(source.end, this.length ?? Infinity) - source.from;
    if (count === due) return "ok";
    if (count < due && this.length === undefined && total === undefined) return this.setLength(source.from + count);
    this.stop(source);
    return "mismatch";
  }

  /**
   * Bytes from an active source, in order. The chunk is held as it is, not copied: its bytes
   * must not change afterwards (a fetch stream's pieces and data channel messages never do).
   */
  append(source: Source, chunk: Uint8Array): Verdict {
    const at = this.active.get(source);
    if (at === undefined) {
      this.drop(chunk.length);
      return "stale";
    }
    let verdict: Verdict = "ok";
    const limit = Math.min(source.end ?? Infinity, this.length ?? Infinity);
    if (at + chunk.length > limit) {
      const room = Math.max(0, limit - at);
      this.drop(chunk.length - room);
      chunk = chunk.subarray(0, room);
      verdict = "overlong";
    }
    if (chunk.length) {
      this.active.set(source, at + chunk.length);
      const kept = this.write(at, chunk, source);
      if (kept > 0) {
        if (source.kind === "http") this.usedHttp = true;
        else {
          this.usedP2P = true;
          if (source.peerId !== undefined) this.peers.add(source.peerId);
        }
      }
    }
    return verdict;
  }

  /**
   * The source says it is done. The segment is complete when every byte of its length is held;
   * a source of the whole rest that never stated a length (HTTP without one) defines it.
   */
  finish(source: Source): Finished {
    const at = this.active.get(source);
    if (at === undefined) return { kind: "stale" };
    this.stop(source);
    if (this.length === undefined && source.kind === "http" && source.end === undefined && this.held > 0 && this.spans.length === 1) {
      this.length = this.held;
    }
    if (this.length !== undefined && this.held === this.length && this.held > 0) return { kind: "complete", data: this.assemble() };
    const partEnd = Math.min(source.end ?? Infinity, this.length ?? Infinity);
    return source.end !== undefined && at >= partEnd ? { kind: "part" } : { kind: "short" };
  }

  /**
   * Drops every byte held and stops every source: the segment starts over. Only the playlist's
   * length is kept.
   */
  discard(): void {
    if (this.held) this.discards++;
    this.drop(this.held);
    this.spans = [];
    this.held = 0;
    this.length = this.playlistLength;
    this.active.clear();
    this.cuts.clear();
    this.usedHttp = false;
    this.usedP2P = false;
    this.peers.clear();
    this.from = [];
  }

  /** The peers whose bytes are held. */
  get contributors(): string[] {
    return [...this.peers];
  }

  /** Which source sent which bytes held (so that a bad segment's wrong part can be told later). */
  get origins(): Origin[] {
    return this.from.map(({ kind, peerId, start, end }) => ({ kind, peerId, start, end }));
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  private drop(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    this.onDrop(n);
  }

  private activate(s: Source): Source {
    this.active.set(s, s.from);
    return s;
  }

  private setLength(stated: number): Verdict {
    if (this.length === undefined || this.length === stated) {
      this.length = stated;
      return "ok";
    }
    this.conflicts++;
    this.discard();
    return "conflict";
  }

  /** The first byte at or after `from` that is not held. */
  private firstMissing(from: number): number {
    for (const s of this.spans) {
      if (s.start > from) break;
      from = Math.max(from, s.start + s.len);
    }
    return from;
  }

  /** The end of the last hole (exclusive), when the length is known and bytes are missing. */
  private lastMissingEnd(): number | undefined {
    if (this.length === undefined || this.held >= this.length) return undefined;
    let end = this.length;
    for (let i = this.spans.length - 1; i >= 0; i--) {
      const s = this.spans[i] as Span;
      if (s.start + s.len < end) break;
      end = s.start;
    }
    return end;
  }

  /** If an active source will send byte `at`, where its claim ends (Infinity: to the unknown end). */
  private claimAt(at: number): number | undefined {
    for (const [s, pos] of this.active) {
      const end = this.claimEnd(s) ?? Infinity;
      if (at >= pos && at < end) return end;
    }
    return undefined;
  }

  /** The first byte after `from` that is held or claimed by an active source. */
  private nextTaken(from: number): number {
    let next = Infinity;
    for (const s of this.spans) {
      if (s.start > from) {
        next = s.start;
        break;
      }
    }
    for (const pos of this.active.values()) if (pos > from) next = Math.min(next, pos);
    return next;
  }

  /** Stores `chunk` at `at`, except where bytes are held already (dropped). Returns the bytes kept. */
  private write(at: number, chunk: Uint8Array, source: Source): number {
    let kept = 0;
    while (chunk.length) {
      // The first span that ends past `at` (spans are few: a handful of parts at most).
      let i = 0;
      while (i < this.spans.length && (this.spans[i] as Span).start + (this.spans[i] as Span).len <= at) i++;
      const next = this.spans[i];
      if (next && next.start <= at) {
        // Held already: skip what this span covers.
        const skip = Math.min(chunk.length, next.start + next.len - at);
        this.drop(skip);
        chunk = chunk.subarray(skip);
        at += skip;
        continue;
      }
      const n = Math.min(chunk.length, (next?.start ?? Infinity) - at);
      const piece = chunk.subarray(0, n);
      const prev = this.spans[i - 1];
      if (prev && prev.start + prev.len === at) {
        prev.chunks.push(piece);
        prev.len += n;
        if (next && prev.start + prev.len === next.start) {
          prev.chunks.push(...next.chunks);
          prev.len += next.len;
          this.spans.splice(i, 1);
        }
      } else if (next && at + n === next.start) {
        next.chunks.unshift(piece);
        next.start = at;
        next.len += n;
      } else {
        this.spans.splice(i, 0, { start: at, chunks: [piece], len: n });
      }
      this.held += n;
      kept += n;
      const last = this.from[this.from.length - 1];
      if (last && last.source === source && last.end === at) last.end += n;
      else this.from.push({ source, kind: source.kind, peerId: source.peerId, start: at, end: at + n });
      chunk = chunk.subarray(n);
      at += n;
    }
    return kept;
  }

  private assemble(): Uint8Array {
    const only = this.spans[0] as Span;
    if (only.chunks.length === 1) return only.chunks[0] as Uint8Array;
    const data = new Uint8Array(this.held);
    let pos = 0;
    for (const c of only.chunks) {
      data.set(c, pos);
      pos += c.length;
    }
    only.chunks = [data];
    return data;
  }
}
