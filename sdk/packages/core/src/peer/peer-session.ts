/**
 * The P2P Media Loader v2 protocol spoken over one data channel, independent of WebRTC: the
 * channel is anything that can send bytes and report its buffered amount, so the whole exchange
 * is unit-tested in Node with a pair of in-memory channels.
 *
 * Like PML, a session downloads one segment and uploads one segment at a time; a new request
 * from the remote replaces the upload in progress (PML peers rely on that). A peer of ours may
 * ask for its next part to follow the upload under way instead (queued, `requestNext`), so that
 * no round trip separates two parts.
 *
 * Our extension (commands.ts): each session greets its peer with `ExtensionHello`; a peer that
 * greets back with byte ranges may be asked for a part of a segment (`request(..., end)`), so a
 * segment can come from several peers at once. A peer that greets back with relay may be served
 * a segment we are still receiving, as its bytes arrive ({@link GrowingSegment}). P2P Media
 * Loader ignores the greeting and is only ever sent its own commands.
 */
import {
  CommandJoiner,
  decodeCommandBody,
  encodeCommand,
  Extension,
  isCommandChunk,
  type PeerCommand,
} from "../protocol/index.js";
import type { UploadLimiter } from "../upload-limit.js";

export interface ByteChannel {
  send(data: Uint8Array): void;
  readonly bufferedAmount: number;
  /**
   * The largest message the remote takes (`RTCSctpTransport.maxMessageSize`: a super-peer
   * worker advertises 8 KiB by default); {@link MAX_MESSAGE_SIZE} when unknown. `send` throws
   * above it.
   */
  readonly maxMessageSize?: number;
  /**
   * Bytes of an upload kept queued in the channel at most; {@link SEND_HIGH_WATER} when unset
   * (the simulator scales it with its bytes).
   */
  readonly sendHighWater?: number;
  close(): void;
}

/** A segment we are still receiving, served to a peer that speaks relay as its bytes arrive. */
export interface GrowingSegment {
  /** The segment's length. */
  readonly total: number;
  /**
   * Held bytes from `from` on, at most `max` (fewer is fine); undefined: not yet (the host calls
   * {@link PeerSession.onRelayBytes} when more came); null: they will not come, or the bytes
   * held were thrown away: the upload ends.
   */
  read(from: number, max: number): Uint8Array | undefined | null;
}

export interface PeerHost {
  /**
   * Bytes of a segment we can upload, or undefined; a promise when they must be read first
   * (disk); a {@link GrowingSegment} while we are still receiving it (served only to a peer that
   * speaks relay, else it is absent).
   */
  segmentData(id: number): Uint8Array | GrowingSegment | undefined | Promise<Uint8Array | undefined>;
  /** Whether we hold the segment (in memory or on disk), without reading it. */
  holds?(id: number): boolean;
  uploadAllowed(): boolean;
  onAnnouncement(session: PeerSession): void;
  /** `relayed`: bytes of a segment we are still receiving. */
  onUploaded(bytes: number, session: PeerSession, relayed?: boolean): void;
  onProtocolError(session: PeerSession, reason: string): void;
  /** Segment bytes received that belonged to no request of ours, or overflowed one. */
  onDroppedBytes?(bytes: number, session: PeerSession): void;
  /** The cap on what we serve (`maxUploadKbps`), shared by the engine's sessions; none: uncapped. */
  uploadLimiter?(): UploadLimiter | undefined;
  /** The peer says the bytes of segment `id` it relayed to us may be wrong. */
  onRetracted?(session: PeerSession, id: number): void;
}

export type DownloadHandlers = {
  /**
   * The peer says this many bytes follow from `fromByte` (its `SegmentData`) and, answering a
   * request for a part, the segment's whole length; `relayed`: it is still receiving the
   * segment and sends its bytes as they come.
   */
  onLength?(bytes: number, total?: number, relayed?: boolean): void;
  /** Bytes from `fromByte` on, as they arrive. */
  onBytes(chunk: Uint8Array): void;
  onComplete(): void;
  /**
   * The peer doesn't have it, has it but no upload to spare now (`busy`: ask again shortly), we
   * cancelled, the channel closed, or the peer broke the protocol.
   */
  onFail(reason: "absent" | "busy" | "protocol" | "closed" | "cancelled"): void;
};

type Download = {
  id: number;
  requestId: number;
  expected?: number;
  received: number;
  handlers: DownloadHandlers;
};

/** What we send: `data` up to `end`, or, relaying, `growing`'s bytes up to `end` as they come. */
type Upload = { id: number; requestId: number; data?: Uint8Array; growing?: GrowingSegment; offset: number; end: number };

/** Max bytes per data message (PML's webRtcMaxMessageSize). */
export const MAX_MESSAGE_SIZE = 65535;
/**
 * Stop filling the channel above this many buffered bytes; resume on bufferedamountlow. Small on
 * purpose: what is queued is committed. Bytes queued for an upload the requester then cancels,
 * or that a new request replaces, still cross the uplink, ahead of everything sent after them on
 * that channel and beside every other upload. The browser's SCTP stack keeps the link busy
 * meanwhile: it holds a congestion window of its own beyond `bufferedAmount`.
 */
export const SEND_HIGH_WATER = 64 * 1024;
export const SEND_LOW_WATER = 16 * 1024;

export class PeerSession {
  loaded = new Set<number>();
  httpLoading = new Set<number>();
  /** Of `loaded`, the segments the peer is still receiving (it speaks relay and said so). */
  arriving = new Set<number>();
  bytesDown = 0;
  bytesUp = 0;
  /** Segment bytes that belonged to no request of ours (late bytes of a cancelled one): dropped. */
  bytesDropped = 0;
  /** Smoothed download throughput from this peer, bytes/s (undefined until measured). */
  throughput?: number;
  failures = 0;
  closed = false;
  private readonly joiner = new CommandJoiner();
  private download?: Download;
  /** Our part asked to follow the download under way: it becomes the download when that one ends. */
  private queuedDownload?: Download;
  private upload?: Upload;
  /** The peer's part that waits for the upload under way to end (queued request). */
  private waiting?: { id: number; requestId: number; fromByte: number; end: number };
  /** The limiter the current upload counts in (kept so that its end is counted where it began). */
  private uploadLimiter?: UploadLimiter;
  private paceTimer?: ReturnType<typeof setTimeout>;
  /** A request whose bytes are being read (from disk): answered when they are, unless replaced. */
  private reading?: { id: number; requestId: number };
  /** Request ids only need to differ within one channel: each session counts its own. */
  private nextRequestId = Math.floor(Math.random() * 1000);
  /** The peer said it serves parts of segments (our extension). */
  byteRanges = false;
  /** The peer tells a refusal for lack of upload from a missing segment (our extension). */
  busyAnswers = false;
  /** The peer takes segments we are still receiving, and relays its own (our extension). */
  relays = false;
  /** The peer serves a queued request after the upload under way (our extension). */
  queues = false;

  constructor(
    readonly remotePeerId: string,
    private readonly channel: ByteChannel,
    private readonly host: PeerHost,
  ) {}

  get busy(): boolean {
    return this.download !== undefined;
  }

  get downloadingId(): number | undefined {
    return this.download?.id;
  }

  /** Whether a next part may be asked for now, to follow the download under way ({@link requestNext}). */
  get canQueue(): boolean {
    return this.download !== undefined && this.queuedDownload === undefined && this.queues && this.byteRanges;
  }

  /** The segment we are relaying to this peer as its bytes arrive, if any. */
  get relayingId(): number | undefined {
    return this.upload?.growing ? this.upload.id : undefined;
  }

  has(id: number): boolean {
    return this.loaded.has(id);
  }

  /**
   * Says which extensions we speak (a browser all of them; the simulator's super peer, as ours,
   * parts and queued requests); sent first, so the peer knows before any request of ours.
   */
  hello(f: number = Extension.ByteRanges | Extension.Busy | Extension.Relay | Extension.Queue): void {
    this.sendCommand({ c: 32, f });
  }

  /** Tells a peer that speaks relay that what we relayed of segment `id` may be wrong. */
  retract(id: number): void {
    if (this.relays) this.sendCommand({ c: 33, i: id });
  }

  /**
   * `arriving`: segments still arriving here, which only a peer that speaks relay hears of (in
   * `l`, and again in `g`).
   */
  announce(loaded: readonly number[], httpLoading: readonly number[], arriving: readonly number[] = []): void {
    const g = this.relays ? arriving : [];
    this.sendCommand({ c: 0, l: [...loaded, ...g], p: [...httpLoading], ...(g.length ? { g: [...g] } : {}) });
  }

  /**
   * Requests a segment from byte `fromByte` (to `end`, exclusive, when given: a part, only of a
   * peer that speaks {@link byteRanges}); returns a cancel function.
   */
  request(id: number, fromByte: number, handlers: DownloadHandlers, end?: number): () => void {
    if (this.download) throw new Error("peer is busy");
    if (end !== undefined && (!this.byteRanges || end <= fromByte)) throw new Error("not a part this peer can send");
    const d = this.newDownload(id, handlers);
    this.download = d;
    this.sendCommand({ c: 1, i: id, r: d.requestId, ...(fromByte > 0 ? { b: fromByte } : {}), ...(end !== undefined ? { e: end } : {}) });
    return () => this.cancel(d);
  }

  /**
   * Asks for a part (`fromByte` to `end`) to follow the download under way on this channel
   * (only when {@link canQueue}): the peer sends it as soon as the current one ends, and it
   * becomes the download then. Returns a cancel function.
   */
  requestNext(id: number, fromByte: number, handlers: DownloadHandlers, end: number): () => void {
    if (!this.canQueue) throw new Error("no part can wait behind this peer's upload");
    if (end <= fromByte) throw new Error("not a part this peer can send");
    const d = this.newDownload(id, handlers);
    this.queuedDownload = d;
    this.sendCommand({ c: 1, i: id, r: d.requestId, ...(fromByte > 0 ? { b: fromByte } : {}), e: end, q: 1 });
    return () => this.cancel(d);
  }

  private newDownload(id: number, handlers: DownloadHandlers): Download {
    this.nextRequestId = (this.nextRequestId + 1) % 1_000_000;
    return { id, requestId: this.nextRequestId, received: 0, handlers };
  }

  private cancel(d: Download): void {
    if (this.queuedDownload === d) this.queuedDownload = undefined;
    else if (this.download === d) this.endDownload();
    else return;
    this.sendCommand({ c: 5, i: d.id, r: d.requestId });
    d.handlers.onFail("cancelled");
  }

  /** The download under way ended (its handlers are told next): the queued part, if any, takes its place. */
  private endDownload(): void {
    this.download = this.queuedDownload;
    this.queuedDownload = undefined;
  }

  onMessage(data: ArrayBuffer | Uint8Array): void {
    if (this.closed) return;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (isCommandChunk(bytes)) {
      const r = this.joiner.push(bytes);
      if (r.kind === "error") return this.host.onProtocolError(this, `framing: ${r.reason}`);
      if (r.kind === "partial") return;
      let cmd;
      try {
        cmd = decodeCommandBody(r.body);
      } catch (err) {
        return this.host.onProtocolError(this, `decode: ${String(err)}`);
      }
      if ("unknown" in cmd) return; // an extension we don't speak: ignore, as PML does
      this.onCommand(cmd);
      return;
    }
    this.onSegmentBytes(bytes);
  }

  /** The channel drained below the low-water mark: continue the upload. */
  onDrain(): void {
    this.pumpUpload();
  }

  /** More bytes of the segment we relay arrived (or it ended): continue the upload. */
  onRelayBytes(): void {
    this.pumpUpload();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.setUpload(undefined);
    this.waiting = undefined;
    const d = this.download;
    const queued = this.queuedDownload;
    this.download = undefined;
    this.queuedDownload = undefined;
    d?.handlers.onFail("closed");
    queued?.handlers.onFail("closed");
    try {
      this.channel.close();
    } catch {
      /* already closed */
    }
  }

  /** Our message size towards this peer: PML's, or less when the peer takes less. */
  private get messageSize(): number {
    const remote = this.channel.maxMessageSize;
    return remote !== undefined && remote > 0 ? Math.min(MAX_MESSAGE_SIZE, remote) : MAX_MESSAGE_SIZE;
  }

  private sendCommand(cmd: PeerCommand): void {
    if (this.closed) return;
    for (const m of encodeCommand(cmd, this.messageSize)) this.channel.send(m);
  }

  private onCommand(cmd: PeerCommand): void {
    switch (cmd.c) {
      case 0:
        this.loaded = new Set(cmd.l ?? []);
        this.httpLoading = new Set(cmd.p ?? []);
        this.arriving = new Set(this.relays ? (cmd.g ?? []) : []);
        this.host.onAnnouncement(this);
        return;
      case 1:
        return this.onRequest(cmd.i, cmd.r, cmd.b ?? 0, cmd.e, cmd.q === 1);
      case 32:
        this.byteRanges = (cmd.f & Extension.ByteRanges) !== 0;
        this.busyAnswers = (cmd.f & Extension.Busy) !== 0;
        this.relays = (cmd.f & Extension.Relay) !== 0;
        this.queues = (cmd.f & Extension.Queue) !== 0;
        return;
      case 33:
        if (this.relays) this.host.onRetracted?.(this, cmd.i);
        return;
      case 5:
        if (this.waiting && this.waiting.id === cmd.i && this.waiting.requestId === cmd.r) this.waiting = undefined;
        if (this.upload && this.upload.id === cmd.i && this.upload.requestId === cmd.r) this.setUpload(undefined);
        if (this.reading && this.reading.id === cmd.i && this.reading.requestId === cmd.r) this.reading = undefined;
        this.serveWaiting();
        return;
      case 2: {
        const d = this.download;
        if (!d || d.id !== cmd.i || d.requestId !== cmd.r) return;
        if (d.expected !== undefined) return this.failDownload("protocol");
        if (cmd.s <= 0) {
          // Nothing to send is no segment: some peers (PML whose buffer was handed to the
          // player's worker) announce data they no longer hold. Treat it as absent.
          this.loaded.delete(cmd.i);
          this.endDownload();
          d.handlers.onFail("absent");
          return;
        }
        d.expected = cmd.s;
        d.handlers.onLength?.(cmd.s, cmd.t, cmd.g === 1 && this.relays);
        return;
      }
      case 3: {
        const d = this.download;
        if (!d || d.id !== cmd.i || d.requestId !== cmd.r) return;
        if (d.expected === undefined || d.received !== d.expected) return this.failDownload("protocol");
        this.endDownload();
        d.handlers.onComplete();
        return;
      }
      case 4: {
        const d = this.download;
        if (!d || d.id !== cmd.i || d.requestId !== cmd.r) return;
        this.endDownload();
        if (cmd.b && this.busyAnswers) return d.handlers.onFail("busy"); // it still has it
        this.loaded.delete(cmd.i);
        d.handlers.onFail("absent");
        return;
      }
    }
  }

  private failDownload(reason: "protocol"): void {
    const d = this.download;
    this.endDownload();
    d?.handlers.onFail(reason);
    this.host.onProtocolError(this, "bad segment transfer");
  }

  private onSegmentBytes(bytes: Uint8Array): void {
    const d = this.download;
    if (!d || d.expected === undefined) {
      // Late bytes of a transfer we cancelled: the channel is ordered, so they all arrive
      // before the next request's SegmentData.
      this.dropBytes(bytes.length);
      return;
    }
    if (d.received + bytes.length > d.expected) {
      this.dropBytes(bytes.length);
      return this.failDownload("protocol");
    }
    d.received += bytes.length;
    this.bytesDown += bytes.length;
    d.handlers.onBytes(bytes);
  }

  private dropBytes(n: number): void {
    this.bytesDropped += n;
    this.host.onDroppedBytes?.(n, this);
  }

  /** Sets or clears the upload in progress, counting it in the upload cap's limiter. */
  private setUpload(u: Upload | undefined): void {
    if (this.upload) this.uploadLimiter?.end();
    this.uploadLimiter = undefined;
    clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    this.upload = u;
    if (u) {
      this.uploadLimiter = this.host.uploadLimiter?.();
      this.uploadLimiter?.begin();
    }
  }

  private onRequest(id: number, requestId: number, fromByte: number, end?: number, queued = false): void {
    if (queued && end !== undefined && (this.upload || this.reading)) {
      this.waiting = { id, requestId, fromByte, end }; // served when the upload under way ends
      return;
    }
    this.setUpload(undefined); // a new request replaces the current upload (and a waiting one)
    this.reading = undefined;
    this.waiting = undefined;
    // Over the upload cap with others already waiting on it: "absent", and the requester goes
    // elsewhere now rather than after its scheduler gives up on a trickle. A peer of ours is told
    // it is for lack of upload, so that it may come back for the segment once we are free.
    const busy = this.host.uploadLimiter?.()?.saturated() ?? false;
    if (busy && this.busyAnswers && this.host.uploadAllowed() && this.host.holds?.(id)) {
      this.sendCommand({ c: 4, i: id, r: requestId, b: 1 });
      return this.serveWaiting();
    }
    const found = this.host.uploadAllowed() && !busy ? this.host.segmentData(id) : undefined;
    if (found && !(found instanceof Promise) && !(found instanceof Uint8Array)) {
      this.serve(id, requestId, fromByte, end, this.relays ? found : undefined);
      return;
    }
    if (found instanceof Promise) {
      const reading = { id, requestId };
      this.reading = reading;
      void found
        .catch(() => undefined)
        .then((data) => {
          if (this.reading !== reading || this.closed) return; // replaced or cancelled meanwhile
          this.reading = undefined;
          this.serve(id, requestId, fromByte, end, data);
        });
      return;
    }
    this.serve(id, requestId, fromByte, end, found);
  }

  /**
   * Sends `data` from `fromByte`, to `end` for a part (then with the segment's length, `t`); a
   * segment still arriving is relayed (`g`).
   */
  private serve(id: number, requestId: number, fromByte: number, end: number | undefined, data: Uint8Array | GrowingSegment | undefined): void {
    const total = data instanceof Uint8Array ? data.length : data?.total;
    const stop = total === undefined ? undefined : Math.min(end ?? total, total);
    if (!data || stop === undefined || fromByte > stop || (end !== undefined && fromByte >= stop)) {
      this.sendCommand({ c: 4, i: id, r: requestId });
      return this.serveWaiting();
    }
    const growing = !(data instanceof Uint8Array);
    this.setUpload(growing ? { id, requestId, growing: data, offset: fromByte, end: stop } : { id, requestId, data, offset: fromByte, end: stop });
    this.sendCommand({ c: 2, i: id, s: stop - fromByte, r: requestId, ...(end !== undefined ? { t: total } : {}), ...(growing ? { g: 1 } : {}) });
    this.pumpUpload();
  }

  private pumpUpload(): void {
    const u = this.upload;
    if (!u || this.closed || this.paceTimer) return;
    const limiter = this.uploadLimiter;
    try {
      const highWater = this.channel.sendHighWater ?? SEND_HIGH_WATER;
      while (u.offset < u.end && this.channel.bufferedAmount < highWater) {
        const wait = limiter?.waitMs() ?? 0;
        if (wait > 0) {
          this.paceTimer = setTimeout(() => {
            this.paceTimer = undefined;
            this.pumpUpload();
          }, wait);
          return;
        }
        const size = Math.min(u.end - u.offset, this.messageSize);
        const chunk = u.data ? u.data.subarray(u.offset, u.offset + size) : u.growing?.read(u.offset, size);
        if (chunk === null) {
          // The segment we relay will not be whole here: the peer takes the rest elsewhere.
          this.setUpload(undefined);
          this.sendCommand({ c: 4, i: u.id, r: u.requestId });
          return this.serveWaiting();
        }
        if (!chunk?.length) return; // not arrived yet: onRelayBytes continues
        this.channel.send(chunk);
        limiter?.take(chunk.length);
        u.offset += chunk.length;
        this.bytesUp += chunk.length;
        this.host.onUploaded(chunk.length, this, u.growing !== undefined);
        if (this.upload !== u) return;
      }
    } catch (err) {
      this.host.onProtocolError(this, `send failed: ${String(err)}`);
      return;
    }
    if (u.offset >= u.end && this.upload === u) {
      this.setUpload(undefined);
      this.sendCommand({ c: 3, i: u.id, r: u.requestId });
      this.serveWaiting();
    }
  }

  /** The upload under way ended: the peer's queued part, if any, is served now. */
  private serveWaiting(): void {
    const w = this.waiting;
    if (!w || this.upload || this.reading || this.closed) return;
    this.waiting = undefined;
    this.onRequest(w.id, w.requestId, w.fromByte, w.end);
  }
}
