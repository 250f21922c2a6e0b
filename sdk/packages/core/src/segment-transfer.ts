/**
 * The bytes of one segment while they arrive, as a state machine with no I/O.
 *
 * A segment is filled by one source at a time: HTTP, a peer, a second peer that resumes where
 * the first stopped, HTTP `Range` for the rest. Each source gets a {@link Source} handle when it
 * begins; only the current handle's bytes count. From then on nothing a source, a late message
 * or our own scheduler gets wrong can reach the player:
 * - bytes of a source that was stopped or replaced are dropped (and counted);
 * - every source states how many bytes follow from where it starts; a statement that
 *   contradicts the segment's known length discards what it would be appended to;
 * - bytes beyond the stated length are dropped, the source is marked overlong;
 * - {@link SegmentTransfer.finish} yields the segment only when the bytes held are exactly the
 *   stated length.
 */

export type SourceKind = "http" | "p2p";

/** One source's turn at filling the segment. */
export type Source = {
  readonly kind: SourceKind;
  readonly peerId?: string;
  /** Offset in the segment where this source's bytes start. */
  readonly from: number;
  readonly turn: number;
};

/** What became of bytes or statements a source gave. */
export type Verdict =
  /** Accepted. */
  | "ok"
  /** From a source that is no longer the current one: ignored. */
  | "stale"
  /** The source's length disagrees with the segment's: the bytes held were discarded. */
  | "conflict"
  /** More bytes than the source said would follow: the excess was dropped. */
  | "overlong";

export type Finished =
  | { kind: "complete"; data: Uint8Array }
  /** The current source ended before the segment was whole (the caller resumes elsewhere). */
  | { kind: "short" }
  | { kind: "stale" };

export class SegmentTransfer {
  private chunks: Uint8Array[] = [];
  private held = 0;
  private length?: number;
  private readonly playlistLength?: number;
  private current?: Source;
  private turns = 0;
  /** Bytes dropped: stale, beyond the stated length, or discarded after a conflict. */
  private dropped = 0;
  /** Times sources disagreed about the segment's length. */
  conflicts = 0;
  usedHttp = false;
  usedP2P = false;
  private readonly peers = new Set<string>();

  /**
   * `knownLength`: the segment's length when the playlist says it (a byte range). `onDrop` hears
   * of every byte dropped.
   */
  constructor(knownLength?: number, private readonly onDrop: (bytes: number) => void = () => {}) {
    this.length = knownLength;
    this.playlistLength = knownLength;
  }

  /** Bytes held, all contiguous from the segment's start. */
  get received(): number {
    return this.held;
  }

  /** The segment's length, once known. */
  get total(): number | undefined {
    return this.length;
  }

  get source(): Source | undefined {
    return this.current;
  }

  /** A new source takes over from the bytes held; the previous one becomes stale. */
  begin(kind: SourceKind, peerId?: string): Source {
    this.current = { kind, peerId, from: this.held, turn: ++this.turns };
    return this.current;
  }

  /** The current source stops (abandoned, cancelled, failed); its later bytes are stale. */
  stop(): void {
    this.current = undefined;
  }

  isCurrent(source: Source): boolean {
    return this.current === source;
  }

  /**
   * The source states that `count` bytes follow from its start (P2P `SegmentData.s`, HTTP's
   * `Content-Range` or `Content-Length`). The segment's length becomes `from + count`. If the
   * playlist or another source said otherwise, there is no telling which bytes are right: all
   * of them are discarded, the source is stopped, and the segment starts over.
   */
  expect(source: Source, count: number): Verdict {
    if (!this.isCurrent(source)) return "stale";
    const stated = source.from + count;
    if (this.length === undefined || this.length === stated) {
      this.length = stated;
      return "ok";
    }
    this.conflicts++;
    this.discard();
    return "conflict";
  }

  /** Bytes from the current source, in order. */
  append(source: Source, chunk: Uint8Array): Verdict {
    if (!this.isCurrent(source)) {
      this.drop(chunk.length);
      return "stale";
    }
    let verdict: Verdict = "ok";
    if (this.length !== undefined && this.held + chunk.length > this.length) {
      const room = Math.max(0, this.length - this.held);
      this.drop(chunk.length - room);
      chunk = chunk.subarray(0, room);
      verdict = "overlong";
    }
    if (chunk.length) {
      this.chunks.push(chunk);
      this.held += chunk.length;
      if (source.kind === "http") this.usedHttp = true;
      else {
        this.usedP2P = true;
        if (source.peerId !== undefined) this.peers.add(source.peerId);
      }
    }
    return verdict;
  }

  /**
   * The current source says it is done. The segment is complete when the bytes held are
   * exactly its length; a source that never stated one (HTTP without a length) defines it.
   */
  finish(source: Source): Finished {
    if (!this.isCurrent(source)) return { kind: "stale" };
    this.current = undefined;
    if (this.length === undefined && source.kind === "http" && this.held > 0) this.length = this.held;
    if (this.length === undefined || this.held !== this.length || this.held === 0) return { kind: "short" };
    return { kind: "complete", data: this.assemble() };
  }

  /**
   * Drops every byte held and stops the current source: the segment starts over. Only the
   * playlist's length is kept.
   */
  discard(): void {
    this.drop(this.held);
    this.chunks = [];
    this.held = 0;
    this.length = this.playlistLength;
    this.current = undefined;
    this.usedHttp = false;
    this.usedP2P = false;
    this.peers.clear();
  }

  /** The peers whose bytes are held. */
  get contributors(): string[] {
    return [...this.peers];
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  private drop(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    this.onDrop(n);
  }

  private assemble(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const data = new Uint8Array(this.held);
    let pos = 0;
    for (const c of this.chunks) {
      data.set(c, pos);
      pos += c.length;
    }
    this.chunks = [data];
    return data;
  }
}
