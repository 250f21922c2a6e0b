/**
 * The network under virtual time: hosts with an access link (upload and download capacity,
 * access latency, loss), data channels between hosts, and the CDN as a server with its own
 * latency and per-connection throughput. Sizes and rates are in simulated bytes (see
 * `byteScale` in model.ts).
 *
 * A message leaves when both the sender's uplink (FIFO over all its channels) and the channel's
 * own congestion-window limit (from its RTT and loss) let it; it arrives after the one-way
 * latency and the receiver's downlink (FIFO over everything it receives, HTTP included).
 * Reliable ordered channels: a loss costs the message one more round trip, never reorders.
 */
import type { ByteChannel } from "../../../sdk/packages/core/src/peer/peer-session.js";
import { MAX_MESSAGE_SIZE, SEND_HIGH_WATER, SEND_LOW_WATER } from "../../../sdk/packages/core/src/peer/peer-session.js";
import { isCommandChunk } from "../../../sdk/packages/core/src/protocol/index.js";
import type { fetchSegmentBytes, HttpResult } from "../../../sdk/packages/core/src/http.js";
import type { EventLoop } from "./events.js";
import type { Rng } from "./rng.js";

export type Host = {
  upBps: number;
  downBps: number;
  /** One-way latency of the access link, ms. */
  accessMs: number;
  /** Packet loss on the access link. */
  loss: number;
  downFreeAt: number;
  /** Bytes this host sent to peers (simulated bytes). */
  sent: number;
  /** Channels with data to send, served in turn; `busy` while a quantum is on the wire. */
  ring: SimChannel[];
  busy: boolean;
};

export function newHost(upBps: number, downBps: number, accessMs: number, loss: number): Host {
  return { upBps, downBps, accessMs, loss, downFreeAt: 0, sent: 0, ring: [], busy: false };
}

/** Packets per simulated byte, for loss: real MTU-sized packets of `mss` real bytes. */
const MSS = 1200;
/** Simulated bytes an uplink sends for one channel before serving the next. */
const QUANTUM = 8192;
/**
 * What the browser's SCTP stack takes from a data channel beyond what `bufferedAmount` shows
 * (its congestion window, filled up to the access link's queue): half a second of the sender's
 * uplink, at most 1 MiB (real bytes). `bench/swarm/net/sctp-queue.mjs` measured 16 KiB behind a
 * 2 Mbit/s cap and 0.8–1 MiB behind 5–20 Mbit/s caps in Chromium (docs/scale.md, "The sender's
 * queue").
 */
export const SCTP_QUEUE_S = 0.5;
export const SCTP_QUEUE_MAX = 1024 * 1024;

/** TCP-friendly throughput bound (Mathis et al.) for a path, real bytes/s. */
export function pathCapBps(rttMs: number, loss: number): number {
  if (loss <= 0) return Infinity;
  return (MSS / (Math.max(1, rttMs) / 1000)) * (1.22 / Math.sqrt(loss));
}

/** Edges of the rate buckets of {@link LinkStats.byRate}, real Mbit/s. */
export const RATE_EDGES_MBPS = [0, 1, 2, 3, 6, 12];

/**
 * What paced the segment bytes peers sent, from `fromMs` on: each quantum counts at the lower of
 * its channel's path rate and its fair share of the sender's uplink (split evenly between the
 * channels with data waiting), and as path-limited when the path rate was the lower.
 */
export class LinkStats {
  bytes = 0;
  pathLimited = 0;
  /** Bytes by rate bucket: index i counts rates from RATE_EDGES_MBPS[i] to the next edge. */
  readonly byRate = RATE_EDGES_MBPS.map(() => 0);
  fromMs = 0;

  add(bytes: number, pathBps: number, uplinkShareBps: number, byteScale: number): void {
    this.bytes += bytes;
    if (pathBps <= uplinkShareBps) this.pathLimited += bytes;
    const mbps = (Math.min(pathBps, uplinkShareBps) * 8 * byteScale) / 1e6;
    let i = RATE_EDGES_MBPS.length - 1;
    while (i > 0 && mbps < (RATE_EDGES_MBPS[i] as number)) i--;
    this.byRate[i] = (this.byRate[i] as number) + bytes;
  }
}

export class Net {
  readonly linkStats = new LinkStats();

  constructor(
    readonly loop: EventLoop,
    readonly rng: Rng,
    /** Real bytes per simulated byte. */
    readonly byteScale: number,
  ) {}

  /** Delivery time of `size` bytes arriving at `dst` no earlier than `t`. */
  private downlink(dst: Host, t: number, size: number): number {
    const done = Math.max(t, dst.downFreeAt) + (size / dst.downBps) * 1000;
    dst.downFreeAt = done;
    return done;
  }

  /**
   * A connected pair of channels a<->b. `onMessage`/`onDrain`/`onClose` are bound by the
   * caller once the sessions exist.
   */
  channelPair(a: Host, b: Host, coreOneWayMs: number): [SimChannel, SimChannel] {
    const oneWay = a.accessMs + b.accessMs + coreOneWayMs;
    const loss = 1 - (1 - a.loss) * (1 - b.loss);
    const capBps = pathCapBps(2 * oneWay, loss) / this.byteScale;
    const ab = new SimChannel(this, a, b, oneWay, loss, capBps);
    const ba = new SimChannel(this, b, a, oneWay, loss, capBps);
    ab.peer = ba;
    ba.peer = ab;
    return [ab, ba];
  }

  /** @internal: a message enters the channel's send queue. */
  transmit(ch: SimChannel, data: Uint8Array): void {
    ch.outq.push({ data, off: 0, command: isCommandChunk(data) });
    ch.src.sent += data.length;
    if (!ch.queued) {
      ch.queued = true;
      ch.src.ring.push(ch);
    }
    if (!ch.src.busy) this.serve(ch.src);
  }

  /**
   * The uplink shares its capacity between the channels that have data (round robin in
   * quanta, as flows share a bottleneck); a channel also sends no faster than its path allows.
   */
  private serve(h: Host): void {
    const loop = this.loop;
    const now = loop.now();
    let wait = Infinity;
    for (let tries = h.ring.length; tries > 0; tries--) {
      const ch = h.ring.shift() as SimChannel;
      if (ch.closed || !ch.outq.length) {
        ch.queued = false;
        continue;
      }
      if (ch.freeAt > now) {
        wait = Math.min(wait, ch.freeAt);
        h.ring.push(ch);
        continue;
      }
      const m = ch.outq[0] as Outgoing;
      const q = Math.min(QUANTUM, m.data.length - m.off);
      if (!m.command && now >= this.linkStats.fromMs) {
        let waiting = 1; // this channel, out of the ring for its turn
        for (const c of h.ring) if (!c.closed && c.outq.length) waiting++;
        this.linkStats.add(q, ch.capBps, h.upBps / waiting, this.byteScale);
      }
      const done = now + (q / h.upBps) * 1000;
      ch.freeAt = now + (q / ch.capBps) * 1000;
      h.busy = true;
      h.ring.push(ch);
      loop.at(done, () => {
        h.busy = false;
        const piece = m.data.subarray(m.off, m.off + q);
        m.off += q;
        if (m.off >= m.data.length) ch.outq.shift();
        // Segment bytes are a plain byte stream to the receiver: they arrive as they cross
        // the link. A command is whole or nothing.
        if (!m.command) this.departed(ch, piece);
        else if (m.off >= m.data.length) this.departed(ch, m.data);
        this.serve(h);
      });
      return;
    }
    if (wait < Infinity && !h.busy) {
      h.busy = true;
      loop.at(wait, () => {
        h.busy = false;
        this.serve(h);
      });
    }
  }

  /** Bytes left the sender: they arrive after the path and the receiver's downlink. */
  private departed(ch: SimChannel, data: Uint8Array): void {
    const size = data.length;
    const before = ch.bufferedAmount;
    ch.unsent -= size;
    if (ch.bufferedAmount < ch.lowWater && before >= ch.lowWater && !ch.closed) ch.onDrain();
    let depart = this.loop.now();
    // A lost packet in the message: one more round trip before it is whole.
    const packets = Math.max(1, Math.ceil((size * this.byteScale) / MSS));
    if (ch.loss > 0 && this.rng.chance(1 - Math.pow(1 - ch.loss, packets))) depart += 2 * ch.oneWayMs;
    let arrive = this.downlink(ch.dst, depart + ch.oneWayMs, size);
    arrive = Math.max(arrive, ch.lastArrival);
    ch.lastArrival = arrive;
    this.loop.at(arrive, () => {
      if (!ch.closed && ch.peer && !ch.peer.closed) ch.peer.onMessage(data);
    });
  }

  /**
   * The SDK's HTTP fetch against the simulated CDN. `segment(url)` gives the bytes of a URL;
   * `onOrigin` hears of every byte the CDN delivers. The response states its length at its
   * first byte and comes in pieces of {@link HTTP_CHUNK} real bytes, as a browser's fetch
   * stream gives them.
   */
  cdnFetcher(
    host: Host,
    cdn: { rttMs: number; connBps: number },
    segment: (url: string) => Uint8Array,
    onOrigin: (bytes: number, url: string) => void,
  ): typeof fetchSegmentBytes {
    const loop = this.loop;
    const rtt = cdn.rttMs + 2 * host.accessMs;
    const rate = Math.min(cdn.connBps, pathCapBps(rtt, host.loss) / this.byteScale);
    return (url, opts = {}) =>
      new Promise<HttpResult>((resolve, reject) => {
        const whole = segment(url);
        // As the SDK asks: `range` (inclusive, in the resource) then `offset` into it.
        const offset = (opts.range?.start ?? 0) + (opts.offset ?? 0);
        const data = whole.subarray(offset, opts.range ? opts.range.end + 1 : whole.length);
        let sent = 0;
        let pending: unknown;
        let done = false;
        const abort = () => {
          if (done) return;
          done = true;
          loop.clearTimeout(pending);
          reject(new DOMException("aborted", "AbortError"));
        };
        if (opts.signal?.aborted) return abort();
        opts.signal?.addEventListener("abort", abort);
        const CHUNK = Math.max(1, Math.round(HTTP_CHUNK / this.byteScale));
        let connFree = 0;
        const next = () => {
          if (done) return;
          if (sent >= data.length) {
            done = true;
            return resolve({ data, status: offset ? 206 : 200, url, length: data.length });
          }
          const size = Math.min(CHUNK, data.length - sent);
          const now = loop.now();
          const viaConn = Math.max(now, connFree) + (size / rate) * 1000;
          connFree = viaConn;
          const at = this.downlink(host, viaConn, size);
          pending = loop.at(at, () => {
            if (done) return;
            const chunk = data.subarray(sent, sent + size);
            sent += size;
            onOrigin(size, url);
            opts.onBytes?.(chunk);
            next();
          });
        };
        pending = loop.after(rtt, () => {
          if (done) return;
          opts.onFirstByte?.(data.length);
          next();
        });
      });
  }
}

/** Bytes per piece of an HTTP response's body as the page reads it (real bytes). */
export const HTTP_CHUNK = 64 * 1024;

type Outgoing = { data: Uint8Array; off: number; command: boolean };

/**
 * One direction of a data channel. The SDK's byte sizes are scaled as the bytes are: its largest
 * message, how much an upload keeps queued and when the channel asks for more.
 */
export class SimChannel implements ByteChannel {
  /** Bytes sent into the channel that have not left the uplink yet. */
  unsent = 0;
  readonly maxMessageSize: number;
  readonly sendHighWater: number;
  readonly lowWater: number;
  private readonly hidden: number;
  freeAt = 0;
  outq: Outgoing[] = [];
  queued = false;
  lastArrival = 0;
  closed = false;
  peer?: SimChannel;
  onMessage: (d: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: () => void = () => {};

  constructor(
    private readonly net: Net,
    readonly src: Host,
    readonly dst: Host,
    readonly oneWayMs: number,
    readonly loss: number,
    readonly capBps: number,
  ) {
    this.maxMessageSize = Math.floor(MAX_MESSAGE_SIZE / net.byteScale);
    this.sendHighWater = SEND_HIGH_WATER / net.byteScale;
    this.lowWater = SEND_LOW_WATER / net.byteScale;
    this.hidden = Math.min(SCTP_QUEUE_S * src.upBps, SCTP_QUEUE_MAX / net.byteScale);
  }

  /** What the page sees: the unsent bytes beyond those the SCTP stack took. */
  get bufferedAmount(): number {
    return Math.max(0, this.unsent - this.hidden);
  }

  send(data: Uint8Array): void {
    if (this.closed) throw new Error("channel closed");
    if (data.length > this.maxMessageSize) throw new Error(`message of ${data.length} bytes over ${this.maxMessageSize}`);
    this.unsent += data.length;
    this.net.transmit(this, data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const other = this.peer;
    if (other && !other.closed) {
      this.net.loop.after(this.oneWayMs, () => {
        if (other.closed) return;
        other.closed = true;
        other.onClose();
      });
    }
  }
}
