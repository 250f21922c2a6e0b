// The swarm's scheduling end to end, without WebRTC: a scripted remote peer over an in-memory
// channel and a real local HTTP server with Range support.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { diskKey, partSize, StreamSwarm, type Playback, type SwarmContext } from "../src/stream-swarm.js";
import type { DiskCache } from "../src/disk-cache.js";
import type { P2PConfig } from "../src/config.js";
import { resolveConfig } from "../src/config.js";
import { designatedSeeder, type SchedulerConfig } from "../src/scheduler.js";
import { MemoryStorage } from "../src/storage.js";
import type { Clock } from "../src/clock.js";
import { Ewma } from "../src/http.js";
import { Logger } from "../src/logger.js";
import { CommandJoiner, decodeCommandBody, encodeCommand, isCommandChunk, type PeerCommand, type SegmentRequest } from "../src/protocol/index.js";
import { PeerSession, type ByteChannel } from "../src/peer/peer-session.js";
import type { SwarmSubscription, TrackerConnection } from "../src/tracker/tracker-connection.js";

const SEG = 300_000;
const segBytes = (id: number) => new Uint8Array(SEG).map((_, i) => (i * 7 + id) & 0xff);
const ranges: string[] = [];
let server: http.Server;
let base = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const id = Number(/\/(?:seg|slow)\/(\d+)/.exec(req.url ?? "")?.[1]);
    const data = Buffer.from(segBytes(id));
    if (req.url?.startsWith("/slow/")) {
      // A slow origin: the whole segment, with its length, in ten pieces 40 ms apart.
      ranges.push(`${id}:slow`);
      res.writeHead(200, { "Content-Length": String(data.length) });
      let k = 0;
      const next = () => {
        res.write(data.subarray((k * data.length) / 10, ((k + 1) * data.length) / 10));
        if (++k < 10) setTimeout(next, 40);
        else res.end();
      };
      return next();
    }
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? "");
    ranges.push(`${id}:${req.headers.range ?? "full"}`);
    if (m) {
      const from = Number(m[1]);
      const last = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
      res.writeHead(206, { "Content-Range": `bytes ${from}-${last}/${data.length}` });
      res.end(data.subarray(from, last + 1));
    } else {
      res.writeHead(200);
      res.end(data);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

/**
 * A remote peer we script: it holds every segment and sends `sendBytes` of each, then stops.
 * `delayMs` holds its replies back (a slower peer); `lengthOffset` makes it announce a wrong
 * length; `extraBytes` makes it send more than it announced. `ranges`: it speaks our byte-range
 * extension (greets back, sends the part asked for). `bps`: it sends no faster than that, and
 * stops sending a request that was cancelled (a peer whose upload is capped). `busyFirst`: it
 * answers that many requests "busy" (our extension) before it serves.
 */
function remotePeer(sendBytes: number, { delayMs = 0, lengthOffset = 0, extraBytes = 0, flip = false, ranges = false, bps = 0, busyFirst = 0, relayed = false } = {}) {
  const requests: PeerCommand[] = [];
  const joiner = new CommandJoiner();
  let deliver: (d: Uint8Array) => void = () => {};
  const later = (fn: () => void) => (delayMs ? setTimeout(fn, delayMs) : queueMicrotask(fn));
  const toUs = (cmd: PeerCommand) => encodeCommand(cmd).forEach((m) => later(() => deliver(m)));
  let current = -1; // the request being sent (a new one replaces it, a cancel stops it)
  let paceAt = 0; // when the paced uplink is free again (ms)
  const paced = (r: number, fn: () => void, bytes: number) => {
    paceAt = Math.max(paceAt, Date.now()) + (bytes / bps) * 1000;
    setTimeout(() => current === r && fn(), paceAt - Date.now());
  };
  const channel: ByteChannel = {
    bufferedAmount: 0,
    close() {},
    send(d) {
      if (!isCommandChunk(d)) return;
      const r = joiner.push(d);
      if (r.kind !== "complete") return;
      const cmd = decodeCommandBody(r.body) as PeerCommand;
      requests.push(cmd);
      if (cmd.c === 32 && (ranges || busyFirst || relayed)) toUs({ c: 32, f: (ranges ? 1 : 0) | (busyFirst ? 2 : 0) | (relayed ? 4 : 0) });
      if (cmd.c === 5 && cmd.r === current) current = -1;
      if (cmd.c !== 1) return;
      if (busyFirst > 0) {
        busyFirst--;
        return toUs({ c: 4, i: cmd.i, r: cmd.r, b: 1 });
      }
      current = cmd.r;
      const whole = segBytes(cmd.i);
      const end = ranges && cmd.e !== undefined ? Math.min(cmd.e, whole.length) : whole.length;
      const data = whole.subarray(cmd.b ?? 0, end).map((b, i) => (flip && i === 1000 ? b ^ 0xff : b));
      toUs({ c: 2, i: cmd.i, s: data.length + lengthOffset, r: cmd.r, ...(ranges && cmd.e !== undefined ? { t: whole.length } : {}), ...(relayed ? { g: 1 } : {}) });
      const part = new Uint8Array([...data.subarray(0, Math.min(sendBytes, data.length)), ...new Uint8Array(extraBytes).fill(0xee)]);
      const step = bps ? 4096 : 65535;
      for (let o = 0; o < part.length; o += step) {
        const chunk = part.slice(o, o + step);
        if (bps) paced(cmd.r, () => deliver(chunk), chunk.length);
        else later(() => deliver(chunk));
      }
      if (sendBytes < data.length) return;
      if (bps) paced(cmd.r, () => encodeCommand({ c: 3, i: cmd.i, r: cmd.r }).forEach(deliver), 0);
      else toUs({ c: 3, i: cmd.i, r: cmd.r });
    },
  };
  return { channel, requests, connect: (fn: (d: Uint8Array) => void) => (deliver = fn), announce: (a: PeerCommand = { c: 0, l: [0, 1, 2, 3] }) => toUs(a) };
}

/** Connects a scripted peer to the swarm under `id` and has it announce what it holds. */
function attach(swarm: StreamSwarm, id: string, peer: ReturnType<typeof remotePeer>) {
  const session = swarm.addPeer(id, peer.channel);
  peer.connect((d) => session.onMessage(d));
  peer.announce();
  return session;
}

/** A disk cache in memory, with DiskCache's interface (IndexedDB is the browser's; e2e covers it). */
function memoryDisk() {
  const m = new Map<string, Uint8Array>();
  const disk = {
    get: async (k: string) => m.get(k),
    put: async (k: string, d: Uint8Array) => void m.set(k, d.slice()),
    keys: async (prefix: string) => [...m.keys()].filter((k) => k.startsWith(prefix)),
  };
  return { m, disk: disk as unknown as DiskCache };
}

function setup(position: number, scheduler: Partial<SchedulerConfig> = {}, extra: Partial<P2PConfig> & { disk?: DiskCache; clock?: Clock } = {}) {
  const dropped = { bytes: 0 };
  const bad: { id: number; peers: string[]; proven?: boolean; relayed?: string[] }[] = [];
  const playback: Playback = { position, rate: 1, playing: true };
  const { disk, clock, ...more } = extra;
  const config = resolveConfig({ announce: "ws://unused", scheduler: { p2pStallTimeoutMs: 300, ...scheduler }, ...more });
  const ctx: SwarmContext = {
    config,
    log: new Logger("none"),
    storage: new MemoryStorage(more.memoryCacheLimit !== undefined ? config.memoryLimitBytes : 50 * 1024 * 1024),
    httpBps: new Ewma(0.3, 5_000_000),
    httpLatencyS: new Ewma(0.3, 0.05),
    playback: () => playback,
    p2pEnabled: () => true,
    trackers: () => [],
    onHttpBytes: () => {},
    onP2PBytes: () => {},
    onUploadBytes: () => {},
    onPeersChanged: () => {},
    onSegmentStored: () => {},
    onDroppedBytes: (n) => (dropped.bytes += n),
    // The check a site's published digests make: the segment's true bytes (segBytes).
    verify: async (_swarm, seg, data) =>
      Buffer.from(data).equals(Buffer.from(segBytes(seg.id))) ? { ok: true } : { ok: false, reason: "digest mismatch", blame: true },
    onBadSegment: (_swarm, seg, peers, _v, proven, relayed) => bad.push({ id: seg.id, peers, ...(proven ? { proven } : {}), ...(relayed?.size ? { relayed: [...relayed] } : {}) }),
    isBanned: () => false,
    uploadEnabled: () => true,
    uploadLimiter: () => undefined,
    disk: () => (disk ? Promise.resolve(disk) : undefined),
    startupWaitUntil: () => 0,
    onException: () => {},
    clock,
  };
  const swarm = new StreamSwarm(ctx, "v2-test", "h".repeat(20), "-SC0001-aaaaaaaaaaaa", "playlist");
  swarm.setSegments([0, 1, 2, 3].map((id) => ({ id, url: `${base}/seg/${id}`, startTime: id * 10, endTime: id * 10 + 10 })), false);
  const timer = setInterval(() => swarm.pump(), 50);
  return { swarm, ctx, playback, dropped, bad, stop: () => (clearInterval(timer), swarm.destroy()) };
}

/**
 * For tests of a slow peer that is not silent: its 4 KiB chunks come 140 ms apart at 30 kB/s,
 * and on a loaded machine timers run late by more than the default test setup's 300 ms silence.
 */
const SLOW_NOT_SILENT: Partial<SchedulerConfig> = { p2pStallTimeoutMs: 3000 };

describe("StreamSwarm scheduling", () => {
  it("takes a segment with time to spare from the peer", async () => {
    const { swarm, stop } = setup(0);
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    stop();
    expect(r.source).toBe("p2p");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(peer.requests.some((c) => c.c === 1 && c.i === 2)).toBe(true);
  });

  it("fetches a segment due now by HTTP even though the peer has it", async () => {
    const { swarm, stop } = setup(20);
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    stop();
    expect(r.source).toBe("http");
    expect(peer.requests.some((c) => c.c === 1)).toBe(false);
  });

  it("a segment the player says it waits for (due in 0 s) comes by HTTP though its time says there is time to spare", async () => {
    const { swarm, stop } = setup(0);
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2, undefined, 0);
    stop();
    expect(r.source).toBe("http");
    expect(peer.requests.some((c) => c.c === 1)).toBe(false);
  });

  it("a segment coming slowly from a peer while the player stalls is finished by HTTP Range at once, though its time says there is time to spare", async () => {
    // 30 kB/s: 10 s for the segment, which its time (20 s ahead) would allow.
    const { swarm, playback, stop } = setup(0, SLOW_NOT_SILENT);
    const peer = remotePeer(Infinity, { bps: 30_000 });
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    ranges.length = 0;
    const loading = swarm.load(2);
    await new Promise((r) => setTimeout(r, 400));
    expect(ranges).toEqual([]); // still the peer's
    playback.waiting = true; // the element stalled (piece times of a file are estimates)
    const r = await loading;
    stop();
    expect(r.source).toBe("mixed");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(ranges.some((x) => /^2:bytes=[1-9]\d*-$/.test(x))).toBe(true);
    expect(peer.requests.some((c) => c.c === 5 && c.i === 2)).toBe(true); // cancelled at the peer
  });

  it("abandons a peer that goes silent and completes the rest by HTTP Range", async () => {
    const { swarm, stop } = setup(0);
    const peer = remotePeer(100_000);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    ranges.length = 0;
    const r = await swarm.load(3);
    stop();
    expect(r.source).toBe("mixed");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(3)))).toBe(true);
    expect(ranges).toContain("3:bytes=100000-");
    expect(peer.requests.some((c) => c.c === 5 && c.i === 3)).toBe(true); // cancelled at the peer
  });
});

describe("StreamSwarm deadlines", () => {
  it("a playhead that stands still does not hold a requested segment back for ever: its deadline, counted from the request, still comes", async () => {
    // Due in 4 s by the playhead (2 s of it to spare for peers), which then stays put (a seek, or
    // a stall waiting for this very segment), while a peer says it is fetching it by HTTP and
    // never sends it.
    const { swarm, stop } = setup(16);
    const peer = remotePeer(0);
    const session = swarm.addPeer("-PM0203-remoteremote", peer.channel);
    peer.connect((d) => session.onMessage(d));
    peer.announce({ c: 0, l: [], p: [2] });
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    stop();
    expect(r.source).toBe("http");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
  }, 20_000);
});

describe("StreamSwarm silent peers", () => {
  it("disconnects a peer that stays silent on three transfers in a row; HTTP serves them all", async () => {
    const { swarm, stop } = setup(0);
    const peer = remotePeer(0); // answers SegmentData, then never a byte
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const sources = [];
    for (const id of [1, 2, 3]) sources.push((await swarm.load(id)).source);
    const asked = peer.requests.filter((c) => c.c === 1).length;
    stop();
    // No byte came from the peer: plain HTTP, not "mixed".
    expect(sources).toEqual(["http", "http", "http"]);
    expect(asked).toBe(3);
    expect(swarm.peerCount()).toBe(0);
  });
});

describe("StreamSwarm startup", () => {
  it("before playback starts every requested segment is due now: HTTP", async () => {
    const { swarm, playback, stop } = setup(0);
    playback.started = false;
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(3);
    stop();
    expect(r.source).toBe("http");
  });
});

describe("StreamSwarm first peers", () => {
  it("with firstPeersPatienceMs, a segment with time to spare waits for the first peer after joining and comes from it", async () => {
    const { swarm, stop } = setup(0, { firstPeersPatienceMs: 5000 });
    swarm.join();
    const before = ranges.length;
    const loading = swarm.load(2);
    await new Promise((r) => setTimeout(r, 300));
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    const r = await loading;
    stop();
    expect(r.source).toBe("p2p");
    expect(ranges.slice(before)).toEqual([]);
  });

  it("when no peer comes within the patience, HTTP; a segment due now never waits", async () => {
    const { swarm, stop } = setup(20, { firstPeersPatienceMs: 300 });
    swarm.join();
    expect((await swarm.load(2)).source).toBe("http"); // due now
    const r = await swarm.load(3);
    stop();
    expect(r.source).toBe("http");
  });
});

describe("StreamSwarm startup from peers", () => {
  /** A tracker connection that keeps the swarm's subscription, to answer for the tracker. */
  function keepSubscription(ctx: SwarmContext): { sub?: SwarmSubscription } {
    const kept: { sub?: SwarmSubscription } = {};
    const tracker = { join: (sub: SwarmSubscription) => (kept.sub = sub), leave: () => {} };
    ctx.trackers = () => [tracker as unknown as TrackerConnection];
    return kept;
  }

  /** Loads `later` while playback has not started, then connects a peer that holds it. */
  async function startupLoad(playback: Playback, swarm: StreamSwarm, later: number): Promise<string> {
    Object.assign(playback, { started: false, playing: false });
    swarm.join();
    const next = swarm.load(later);
    await new Promise((r) => setTimeout(r, 300));
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    return (await next).source;
  }

  it("before playback, the first segment asked comes by HTTP at once; playback may begin anywhere in it, so the next is due now too, and the one after waits for the first peer", async () => {
    const { swarm, playback, stop } = setup(0, { firstPeersPatienceMs: 60_000 });
    Object.assign(playback, { started: false, playing: false });
    swarm.join();
    ranges.length = 0;
    expect((await swarm.load(1)).source).toBe("http");
    expect((await swarm.load(2)).source).toBe("http");
    const source = await startupLoad(playback, swarm, 3);
    stop();
    expect(source).toBe("p2p");
    expect(ranges).toEqual(["1:full", "2:full"]);
  });

  it("with the player's start position (startAt), a segment is due its distance past it", async () => {
    const { swarm, playback, stop } = setup(0, { firstPeersPatienceMs: 60_000 });
    Object.assign(playback, { startAt: 10 });
    ranges.length = 0;
    const source = await startupLoad(playback, swarm, 2); // 10 s after the start
    stop();
    expect(source).toBe("p2p");
    expect(ranges).toEqual([]);
  });

  it("a segment within what the player buffers before it starts (startupBufferS) is due now", async () => {
    const { swarm, playback, stop } = setup(0, { firstPeersPatienceMs: 60_000 });
    Object.assign(playback, { started: false, playing: false, startAt: 10, startupBufferS: 15 });
    swarm.join();
    ranges.length = 0;
    const r = await swarm.load(2); // 10 s after the start: inside the 15 s the player buffers first
    stop();
    expect(r.source).toBe("http");
    expect(ranges).toEqual(["2:full"]);
  });

  it("waits for first peers only while the trackers count others in the swarm", async () => {
    const { swarm, ctx, stop } = setup(0, { firstPeersPatienceMs: 60_000 });
    const tracker = keepSubscription(ctx);
    swarm.join();
    ranges.length = 0;
    tracker.sub?.onPeerCounts?.(2, 3); // us and four others
    const waiting = swarm.load(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(ranges).toEqual([]);
    // Alone in the swarm (the tracker counts us only): nobody to wait for.
    const { swarm: alone, ctx: aloneCtx, stop: stopAlone } = setup(0, { firstPeersPatienceMs: 60_000 });
    const aloneTracker = keepSubscription(aloneCtx);
    alone.join();
    aloneTracker.sub?.onPeerCounts?.(0, 1);
    const r = await alone.load(2);
    stopAlone();
    stop();
    await waiting.catch(() => {});
    expect(r.source).toBe("http");
  });
});

describe("StreamSwarm fetch ahead", () => {
  it("the player's request joins the startup fetch instead of a second HTTP request", async () => {
    const { swarm, playback, stop } = setup(0);
    playback.started = false;
    ranges.length = 0;
    expect(swarm.fetchAhead(1)).toBe(true);
    expect(swarm.fetchAhead(1)).toBe(false); // already under way
    const r = await swarm.load(1);
    const again = await swarm.load(1);
    stop();
    expect(r.source).toBe("http");
    expect(again.source).toBe("cache");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(1)))).toBe(true);
    expect(ranges).toEqual(["1:full"]);
  });

  it("does nothing while waitForPeer holds the first requests", () => {
    const { swarm, ctx, stop } = setup(0);
    ctx.startupWaitUntil = () => Date.now() + 10_000;
    const started = swarm.fetchAhead(1);
    stop();
    expect(started).toBe(false);
  });
});

describe("StreamSwarm prefetch", () => {
  it("the active stream prefetches what a peer holds ahead of the playhead", async () => {
    const { swarm, stop } = setup(0);
    swarm.active = true;
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && peer.requests.filter((c) => c.c === 1).length < 4) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const r = await swarm.load(3);
    stop();
    expect(peer.requests.filter((c) => c.c === 1).map((c) => (c as { i: number }).i).sort()).toEqual([0, 1, 2, 3]);
    expect(r.source).toBe("cache");
  });

  it("a small memory store is not filled past half by prefetching: nothing fetched ahead is evicted and fetched again", async () => {
    // Room for two segments and a bit; prefetching may take one ahead of the playhead.
    const { swarm, stop } = setup(0, {}, { memoryCacheLimit: 2 * SEG + 100_000 });
    // With byte ranges, as a file's pieces have: their length is known before they come.
    swarm.setSegments([0, 1, 2, 3].map((id) => ({ id, url: `${base}/seg/${id}`, byteRange: { start: 0, end: SEG - 1 }, startTime: id * 10, endTime: id * 10 + 10 })), false);
    swarm.active = true;
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 1000));
    stop();
    const asked = peer.requests.filter((c) => c.c === 1).map((c) => (c as { i: number }).i);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.length).toBe(new Set(asked).size);
    expect(asked.length).toBeLessThanOrEqual(2);
  });
});

/** Connects a scripted peer to the swarm and lets its announcement arrive. */
async function connect(swarm: StreamSwarm, id: string, peer: ReturnType<typeof remotePeer>) {
  const session = swarm.addPeer(id, peer.channel);
  peer.connect((d) => session.onMessage(d));
  peer.announce();
  await new Promise((r) => setTimeout(r, 30));
  return session;
}

const isSegment = (data: Uint8Array, id: number) => Buffer.from(data).equals(Buffer.from(segBytes(id)));

describe("StreamSwarm: one segment, several sources", () => {
  it("a peer abandoned mid-segment, the next one resuming: the segment, never both transfers", async () => {
    const { swarm, stop } = setup(0);
    const silent = remotePeer(100_000);
    await connect(swarm, "-PM0203-silentsilent", silent);
    const slow = remotePeer(Infinity, { delayMs: 200 });
    await connect(swarm, "-PM0203-slowslowslow", slow);
    // Only the silent peer holds it at first, so it is asked first.
    const r = await swarm.load(3);
    const again = await swarm.load(3);
    stop();
    expect(r.data.length).toBe(SEG);
    expect(isSegment(r.data, 3)).toBe(true);
    expect(isSegment(again.data, 3)).toBe(true);
  });

  it("many abandoned transfers in a row with peers that answer late still give the segment", async () => {
    const { swarm, stop } = setup(0);
    const peers = [0, 1, 2, 3].map((i) => remotePeer(60_000 + i * 10_000, { delayMs: 50 * i }));
    for (const [i, p] of peers.entries()) await connect(swarm, `-PM0203-peer${i}peer${i}pe`, p);
    const results = await Promise.all([1, 2, 3].map((id) => swarm.load(id)));
    stop();
    for (const [i, r] of results.entries()) expect(isSegment(r.data, i + 1)).toBe(true);
  });

  it("a peer whose length contradicts what is held is not used; the segment comes whole", async () => {
    const { swarm, stop, dropped } = setup(0);
    const first = remotePeer(100_000);
    await connect(swarm, "-PM0203-firstfirstfi", first);
    const liar = remotePeer(Infinity, { lengthOffset: 5000 });
    await connect(swarm, "-PM0203-liarliarliar", liar);
    const r = await swarm.load(3);
    stop();
    expect(isSegment(r.data, 3)).toBe(true);
    expect(dropped.bytes).toBeGreaterThan(0);
  });

  it("a peer that sends more than it announced is cut off; the segment comes whole", async () => {
    const { swarm, stop, dropped } = setup(0);
    const liar = remotePeer(Infinity, { extraBytes: 70_000 });
    await connect(swarm, "-PM0203-overoverover", liar);
    const r = await swarm.load(2);
    stop();
    expect(isSegment(r.data, 2)).toBe(true);
    expect(dropped.bytes).toBeGreaterThan(0);
    expect(swarm.peerCount()).toBe(0); // a protocol violation ends the connection
  });

  it("HTTP's length outranks a peer's: a wrong length from the peer restarts the segment from byte 0", async () => {
    const { swarm, stop, dropped } = setup(0);
    // Announces 5000 bytes too many, sends 100 000 true bytes, then goes silent.
    const liar = remotePeer(100_000, { lengthOffset: 5000 });
    await connect(swarm, "-PM0203-liarliarliar", liar);
    ranges.length = 0;
    const r = await swarm.load(3);
    stop();
    expect(isSegment(r.data, 3)).toBe(true);
    expect(ranges).toEqual(["3:bytes=100000-", "3:full"]);
    expect(dropped.bytes).toBeGreaterThanOrEqual(100_000);
  });
});

describe("StreamSwarm: segments from peers are checked before use", () => {
  it("a peer that sends the right length of wrong bytes is blamed; the player gets the segment by HTTP", async () => {
    const { swarm, stop, bad } = setup(0);
    const liar = remotePeer(Infinity, { flip: true });
    await connect(swarm, "-PM0203-liarliarliar", liar);
    ranges.length = 0;
    const r = await swarm.load(3);
    const again = await swarm.load(3);
    stop();
    expect(isSegment(r.data, 3)).toBe(true);
    expect(r.source).toBe("http");
    expect(again.source).toBe("cache");
    expect(bad).toEqual([{ id: 3, peers: ["-PM0203-liarliarliar"] }]);
    expect(ranges).toEqual(["3:full"]); // nothing of the liar's was kept
  });

  it("a prefetched segment that fails its check is never stored or announced", async () => {
    const { swarm, ctx, stop, bad } = setup(0);
    swarm.active = true;
    const liar = remotePeer(Infinity, { flip: true });
    await connect(swarm, "-PM0203-liarliarliar", liar);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && bad.length < 4) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(bad.map((b) => b.id).sort()).toEqual([0, 1, 2, 3]);
    expect(ctx.storage.ids("v2-test")).toEqual([]);
  });
});

describe("StreamSwarm: minPeers", () => {
  it("below minPeers a segment with time to spare comes by HTTP, though a peer holds it", async () => {
    const { swarm, stop } = setup(0, {}, { minPeers: 2 });
    const peer = remotePeer(Infinity);
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    stop();
    expect(r.source).toBe("http");
    expect(peer.requests.some((c) => c.c === 1)).toBe(false);
  });
});

describe("StreamSwarm: disk cache (VOD)", () => {
  it("keys a segment by swarm, id, URL without query, byte range and version", () => {
    const a = diskKey("v2-x", { id: 4, url: "https://cdn/a/s4.ts?token=1", startTime: 0, endTime: 2 });
    expect(a).toBe("v2-x|4|https://cdn/a/s4.ts");
    expect(diskKey("v2-x", { id: 4, url: "https://cdn/a/s4.ts?token=2", startTime: 0, endTime: 2 })).toBe(a);
    expect(diskKey("v2-x", { id: 4, url: "https://cdn/a/f.mp4", byteRange: { start: 0, end: 9 }, version: "10", startTime: 0, endTime: 2 })).toBe("v2-x|4|https://cdn/a/f.mp4@0-9#10");
  });

  const seg = (id: number) => ({ id, url: `${base}/seg/${id}`, startTime: id * 10, endTime: id * 10 + 10 });

  it("plays a segment from disk with no transfer, announces it and serves it to a peer", async () => {
    const { m, disk } = memoryDisk();
    m.set(diskKey("v2-test", seg(2)), segBytes(2));
    m.set(diskKey("v2-test", { ...seg(3), url: `${base}/old/3` }), new Uint8Array(5)); // another playlist's: ignored
    const before = ranges.length;
    const { swarm, stop } = setup(20, {}, { disk });
    const peer = remotePeer(Infinity);
    const session = swarm.addPeer("-PM0203-remoteremote", peer.channel);
    peer.connect((d) => session.onMessage(d));
    const r = await swarm.load(2);
    expect(r.source).toBe("cache");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(ranges.length).toBe(before);
    expect(peer.requests.some((c) => c.c === 1)).toBe(false);
    // Announced (the index is read before the first load completes) and served from disk.
    await new Promise((r) => setTimeout(r, 80));
    const announced = peer.requests.filter((c) => c.c === 0).at(-1) as { l?: number[] } | undefined;
    expect(announced?.l).toEqual([2]);
    const served = await swarm.segmentData(2);
    expect(served?.length).toBe(SEG);
    stop();
  });

  it("writes what it fetched for VOD, never for live", async () => {
    const vod = memoryDisk();
    const a = setup(20, {}, { disk: vod.disk });
    await a.swarm.load(2);
    await new Promise((r) => setTimeout(r, 20));
    a.stop();
    expect([...vod.m.keys()]).toEqual([diskKey("v2-test", seg(2))]);
    const live = memoryDisk();
    const b = setup(20, {}, { disk: live.disk });
    b.swarm.setSegments([0, 1, 2, 3].map(seg), true);
    await b.swarm.load(2);
    await new Promise((r) => setTimeout(r, 20));
    b.stop();
    expect(live.m.size).toBe(0);
  });

  it("a disk cache that never answers costs at most its patience: the segment comes by HTTP", async () => {
    const stuck = { get: () => new Promise(() => {}), put: () => new Promise(() => {}), keys: () => new Promise(() => {}) } as unknown as DiskCache;
    const { swarm, stop } = setup(20, {}, { disk: stuck });
    const r = await swarm.load(2); // not stuck behind the disk
    stop();
    expect(r.source).toBe("http");
  });

  it("a segment that failed its check is never written", async () => {
    const { m, disk } = memoryDisk();
    const { swarm, stop } = setup(0, {}, { disk });
    const peer = remotePeer(Infinity, { flip: true });
    attach(swarm, "-PM0203-remoteremote", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(r.source).toBe("http"); // the peer's wrong bytes were refused
    expect(Buffer.from(m.get(diskKey("v2-test", seg(2))) ?? []).equals(Buffer.from(segBytes(2)))).toBe(true);
  });
});

describe("StreamSwarm: slow-peer replacement", () => {
  it("at the connection limit, an offer replaces the slowest peer when it is clearly slower, once per cooldown", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_000_000 });
    try {
      const { swarm, stop } = setup(0, {}, { maxPeers: 3 });
      const rates: Record<string, number | undefined> = { "-PM0203-fastfastfast": 2_000_000, "-PM0203-fast2fast2fas": 1_500_000, "-PM0203-slowslowslow": 50_000 };
      for (const [id, bps] of Object.entries(rates)) swarm.addPeer(id, remotePeer(Infinity).channel).throughput = bps;
      // Young peers are kept: a new one has time to prove itself.
      expect(swarm.admits("-PM0203-newcomer0001")).toBe(false);
      vi.setSystemTime(1_000_000 + 25_000);
      expect(swarm.admits("-PM0203-newcomer0001")).toBe(true);
      expect(swarm.peerIds().sort()).toEqual(["-PM0203-fast2fast2fas", "-PM0203-fastfastfast"]);
      // The newcomer connects; another offer right after finds no room (cooldown), however slow.
      swarm.addPeer("-PM0203-newcomer0001", remotePeer(Infinity).channel).throughput = 10_000;
      vi.setSystemTime(1_000_000 + 50_000);
      expect(swarm.admits("-PM0203-newcomer0002")).toBe(false);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps a full set of peers whose rates are close", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_000_000 });
    try {
      const { swarm, stop } = setup(0, {}, { maxPeers: 2 });
      swarm.addPeer("-PM0203-aaaaaaaaaaaa", remotePeer(Infinity).channel).throughput = 1_000_000;
      swarm.addPeer("-PM0203-bbbbbbbbbbbb", remotePeer(Infinity).channel).throughput = 700_000;
      vi.setSystemTime(1_000_000 + 60_000);
      expect(swarm.admits("-PM0203-cccccccccccc")).toBe(false);
      expect(swarm.peerCount()).toBe(2);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("StreamSwarm multi-source", () => {
  /** Peers that hold every segment, each sending at most `bps`; `ranges`: they speak our byte-range extension. */
  function capped(swarm: StreamSwarm, n: number, bps: number, ranges: boolean) {
    return Array.from({ length: n }, (_, k) => {
      const peer = remotePeer(Infinity, { ranges, bps });
      const session = swarm.addPeer(`${ranges ? "-SC0001-" : "-PM0203-"}remote${k}remote`.slice(0, 20), peer.channel);
      peer.connect((d) => session.onMessage(d));
      peer.announce();
      return peer;
    });
  }

  it("three peers, each too slow for the segment alone, send a part each and deliver it in time with no HTTP", async () => {
    // 300 kB due in 6 s: 4.4 s for peers once HTTP's time and the margin are kept. One peer at
    // 50 kB/s would take 6 s; three take 2 s.
    const { swarm, stop } = setup(14);
    const peers = capped(swarm, 3, 50_000, true);
    await new Promise((r) => setTimeout(r, 30));
    const before = ranges.length;
    const r = await swarm.load(2);
    stop();
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(r.source).toBe("p2p");
    expect(ranges.slice(before)).toEqual([]);
    const asked = peers.map((p) => p.requests.filter((c) => c.c === 1 && c.i === 2));
    expect(asked.every((a) => a.length > 0 && a.every((c) => c.c === 1 && c.e !== undefined))).toBe(true);
    expect(swarm.delivery(2)?.peers.length).toBe(3);
  }, 20_000);

  it("the same peers without the extension each send the whole rest alone: too slow, HTTP Range completes it", async () => {
    const { swarm, stop } = setup(14);
    const peers = capped(swarm, 3, 50_000, false);
    await new Promise((r) => setTimeout(r, 30));
    const before = ranges.length;
    const r = await swarm.load(2);
    stop();
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(r.source).not.toBe("p2p");
    expect(ranges.slice(before).some((x) => x.startsWith("2:"))).toBe(true);
    // Never greeted, never asked for a part: P2P Media Loader peers see only their own commands.
    for (const p of peers) expect(p.requests.every((c) => c.c !== 32 && (c.c !== 1 || c.e === undefined))).toBe(true);
  }, 20_000);

  it("a liar's part among honest parts: the segment is refetched and only the liar is blamed, as proven", async () => {
    const { swarm, bad, stop } = setup(14);
    capped(swarm, 2, 100_000, true);
    const liar = remotePeer(Infinity, { ranges: true, bps: 100_000, flip: true });
    attach(swarm, "-SC0001-liarliarliar", liar);
    await new Promise((r) => setTimeout(r, 30));
    const r = await swarm.load(2);
    stop();
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    const liarParts = liar.requests.filter((c) => c.c === 1 && c.i === 2);
    expect(liarParts.length).toBeGreaterThan(0);
    expect(bad).toEqual([{ id: 2, peers: ["-SC0001-liarliarliar"], proven: true }]);
  }, 20_000);

  it("a peer that answers a part with another size is dropped from the segment; the others and HTTP complete it", async () => {
    const { swarm, stop } = setup(14);
    capped(swarm, 2, 100_000, true);
    const liar = remotePeer(Infinity, { ranges: true, lengthOffset: 5 });
    attach(swarm, "-SC0001-liarliarliar", liar);
    await new Promise((r) => setTimeout(r, 30));
    const r = await swarm.load(2);
    stop();
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(swarm.delivery(2)?.peers).not.toContain("-SC0001-liarliarliar");
  }, 20_000);
});

describe("StreamSwarm queued parts", () => {
  it("asks a peer of ours for its next part before the one under way has come, and takes the segment from it alone", async () => {
    const { swarm, stop } = setup(14);
    // A real session on the other side, holding every segment; its messages reach us 2 ms apart.
    const seen: string[] = [];
    let toSwarm: (d: Uint8Array) => void = () => {};
    let toPeer: (d: Uint8Array) => void = () => {};
    let due = 0;
    const commandOf = (joiner: CommandJoiner, m: Uint8Array) => {
      if (!isCommandChunk(m)) return undefined;
      const r = joiner.push(m);
      return r.kind === "complete" ? (decodeCommandBody(r.body) as PeerCommand) : undefined;
    };
    const fromPeer = new CommandJoiner();
    const fromSwarm = new CommandJoiner();
    const slow: ByteChannel = {
      bufferedAmount: 0,
      close() {},
      send: (d) => {
        const m = d.slice();
        due = Math.max(due, Date.now()) + 2;
        setTimeout(() => {
          if (commandOf(fromPeer, m)?.c === 3) seen.push("completed");
          toSwarm(m);
        }, due - Date.now());
      },
    };
    const host = { segmentData: (id: number) => segBytes(id), uploadAllowed: () => true, onAnnouncement: () => {}, onUploaded: () => {}, onProtocolError: () => {} };
    const peer = new PeerSession("-SC0001-aaaaaaaaaaaa", slow, host);
    const requests: SegmentRequest[] = [];
    const toPeerChannel: ByteChannel = {
      bufferedAmount: 0,
      close() {},
      send: (d) => {
        const m = d.slice();
        queueMicrotask(() => {
          const cmd = commandOf(fromSwarm, m);
          if (cmd?.c === 1 && cmd.i === 2) (requests.push(cmd), seen.push(cmd.q ? "queued request" : "request"));
          toPeer(m);
        });
      },
    };
    const inSwarm = swarm.addPeer("-SC0001-queuequeuequ", toPeerChannel);
    toSwarm = (d) => inSwarm.onMessage(d);
    toPeer = (d) => peer.onMessage(d);
    peer.hello();
    peer.announce([0, 1, 2, 3], []);
    await new Promise((r) => setTimeout(r, 30));
    const r = await swarm.load(2);
    stop();
    expect(isSegment(r.data, 2)).toBe(true);
    expect(r.source).toBe("p2p");
    // The first part is small (the length is not known yet); the rest was asked for while it came.
    expect(seen.slice(0, 3)).toEqual(["request", "queued request", "completed"]);
    expect(requests.map((c) => [c.b ?? 0, c.e])).toEqual([
      [0, 32 * 1024],
      [32 * 1024, SEG],
    ]);
  }, 20_000);
});

describe("StreamSwarm tails", () => {
  /**
   * A peer of ours whose pace is measured (it brings segment 3; holds 0 and 3), and a slow one
   * (30 kB/s: 10 s for the segment) that holds segment 2 alone; then the swarm starts loading
   * 2, due in 20 s, and the slow peer is given all of it. `late`: the playhead then jumps 12 s
   * ahead (segment 2 due in 8 s, about 6.4 s for peers), and the slow peer would be late.
   */
  async function slowLoadBesideMeasured({ swarm, playback }: ReturnType<typeof setup>, measuredId: string, late: boolean, opts: { relayed?: boolean } = {}) {
    const measured = remotePeer(Infinity, { ranges: true, ...opts });
    const measuredSession = swarm.addPeer(measuredId, measured.channel);
    measured.connect((d) => measuredSession.onMessage(d));
    measured.announce({ c: 0, l: [0, 3] });
    await new Promise((r) => setTimeout(r, 30));
    expect(isSegment((await swarm.load(3)).data, 3)).toBe(true);
    expect(measuredSession.throughput).toBeGreaterThan(0);
    const slow = remotePeer(Infinity, { ranges: true, bps: 30_000 });
    const slowSession = swarm.addPeer("-SC0001-slowslowslow", slow.channel);
    slow.connect((d) => slowSession.onMessage(d));
    slow.announce({ c: 0, l: [2] });
    await new Promise((r) => setTimeout(r, 30));
    const before = ranges.length;
    const loading = swarm.load(2);
    // Its first small part done, the slow peer is given all the rest (the other holds none of it).
    for (let i = 0; i < 100 && asked(slow).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(asked(slow).map((c) => c.e)).toEqual([32 * 1024, SEG]);
    if (late) playback.position = 12;
    return { measured, slow, loading, httpRanges: () => ranges.slice(before) };
  }
  const asked = (p: ReturnType<typeof remotePeer>) => p.requests.filter((c): c is SegmentRequest => c.c === 1 && c.i === 2);

  it("a holder whose pace is known takes the tail of a slow peer's part; the slow peer stops at the cut", async () => {
    const s = setup(0, SLOW_NOT_SILENT);
    const { swarm, stop } = s;
    const { measured: fast, slow, loading, httpRanges } = await slowLoadBesideMeasured(s, "-SC0001-fastfastfast", true);
    fast.announce(); // holds 2 now
    const r = await loading;
    stop();
    expect(isSegment(r.data, 2)).toBe(true);
    expect(r.source).toBe("p2p");
    expect(httpRanges()).toEqual([]);
    const tail = asked(fast)[0];
    expect(tail?.e).toBe(SEG);
    expect(tail?.b).toBeGreaterThan(32 * 1024); // after what the slow peer had sent by then
    // The slow peer was told to stop once it reached where the tail begins.
    const last = asked(slow).at(-1)!;
    expect(last.e).toBe(SEG);
    expect(slow.requests.some((c) => c.c === 5 && c.r === last.r)).toBe(true);
    expect(swarm.delivery(2)).toMatchObject({ peers: expect.arrayContaining(["-SC0001-fastfastfast", "-SC0001-slowslowslow"]), tailParts: 1 });
  }, 20_000);

  it("a part that will be in time keeps its tail", async () => {
    // Due in 20 s: the slow peer's 10 s are within the budget.
    const s = setup(0, SLOW_NOT_SILENT);
    const { stop } = s;
    const { measured: fast, slow, loading } = await slowLoadBesideMeasured(s, "-SC0001-fastfastfast", false);
    await new Promise((r) => setTimeout(r, 1000)); // its pace so far says so
    fast.announce();
    await new Promise((r) => setTimeout(r, 1000));
    expect(asked(fast)).toEqual([]);
    expect(asked(slow).at(-1)?.e).toBe(SEG);
    stop();
    await loading.catch(() => {});
  }, 20_000);

  it("no tail goes to a peer still receiving the segment, nor to one whose pace is unknown", async () => {
    const s = setup(0, SLOW_NOT_SILENT);
    const { swarm, stop } = s;
    const { measured: relay, loading } = await slowLoadBesideMeasured(s, "-SC0001-relayrelayre", true, { relayed: true });
    relay.announce({ c: 0, l: [0, 2, 3], g: [2] }); // still receiving 2
    const unknown = remotePeer(Infinity, { ranges: true }); // never brought us anything
    attach(swarm, "-SC0001-unknownunkno", unknown);
    await new Promise((r) => setTimeout(r, 1000));
    expect([asked(relay).length, asked(unknown).length]).toEqual([0, 0]);
    relay.announce({ c: 0, l: [0, 2, 3] }); // whole now: it takes the tail
    const r = await loading;
    stop();
    expect(isSegment(r.data, 2)).toBe(true);
    expect(asked(relay).length).toBeGreaterThan(0);
    expect(swarm.delivery(2)?.tailParts).toBeGreaterThanOrEqual(1);
  }, 20_000);
});

describe("partSize", () => {
  it("shares what is missing in proportion to the holders' rates, within the minimum and what is missing", () => {
    const holders = [{ bps: 100 }, { bps: 300 }];
    expect(partSize(1000, 100, holders, 10)).toBe(250);
    expect(partSize(1000, 300, holders, 10)).toBe(750);
    expect(partSize(1000, 100, [{ bps: 100 }], 10)).toBe(1000); // alone: all of it
    expect(partSize(1000, 1, [{ bps: 1 }, { bps: 999 }], 64)).toBe(64);
    expect(partSize(30, 1, [{ bps: 1 }, { bps: 999 }], 64)).toBe(30);
  });
});

describe("StreamSwarm and busy peers", () => {
  it("a peer that answers busy is asked again shortly, not given up for the segment", async () => {
    const { swarm, stop } = setup(0);
    const peer = remotePeer(Infinity, { busyFirst: 2 });
    attach(swarm, "-SC0001-busybusybusy", peer);
    await new Promise((r) => setTimeout(r, 20));
    const r = await swarm.load(2);
    stop();
    expect(r.source).toBe("p2p");
    expect(Buffer.from(r.data).equals(Buffer.from(segBytes(2)))).toBe(true);
    expect(peer.requests.filter((c) => c.c === 1 && c.i === 2).length).toBe(3);
  }, 20_000);
});

describe("StreamSwarm origin seeders", () => {
  /**
   * Us and one peer of ours that holds nothing, in a swarm the trackers count at 10 000, and we
   * are the neighbourhood's seeder of segment 2. The swarm's clock stands still until the test
   * moves it (timers still run): whether HTTP for segment 2 began, before and after the clock
   * passed `seedDelayS`.
   */
  async function seeding(scheduler: Partial<SchedulerConfig>) {
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>) };
    const { swarm, stop } = setup(0, { seedDelayS: 2, ...scheduler }, { clock });
    const self = "-SC0001-aaaaaaaaaaaa";
    const neighbour = Array.from({ length: 100 }, (_, i) => `-SC0001-neighbour${String(i).padStart(4, "0")}`).find((id) => designatedSeeder(self, [id], "v2-test|2") === self)!;
    swarm.trackerCounts(0, 10_000);
    const peer = remotePeer(Infinity);
    const session = swarm.addPeer(neighbour, peer.channel);
    peer.connect((d) => session.onMessage(d));
    peer.announce({ c: 0, l: [] });
    const asked = () => ranges.some((r) => r.startsWith("2:"));
    ranges.length = 0;
    const load = swarm.load(2);
    await new Promise((r) => setTimeout(r, 300)); // several pumps at the same instant
    const before = asked();
    now += 2_000;
    const r = await load;
    stop();
    return { before, after: asked(), source: r.source };
  }

  it("a neighbourhood seeder not elected swarm-wide waits for the swarm's copy first; with swarmSeeders 0 it fetches at once", async () => {
    expect(await seeding({})).toEqual({ before: false, after: true, source: "http" });
    expect(await seeding({ swarmSeeders: 0 })).toEqual({ before: true, after: true, source: "http" });
  }, 20_000);
});

describe("StreamSwarm relay", () => {
  /** A peer of ours on the other side of an in-memory channel: a real session, with the host given. */
  function ourPeer(swarm: StreamSwarm, onRetracted: (id: number) => void = () => {}) {
    let toSwarm: (d: Uint8Array) => void = () => {};
    let toPeer: (d: Uint8Array) => void = () => {};
    const channel = (deliver: () => (d: Uint8Array) => void): ByteChannel => ({ bufferedAmount: 0, close() {}, send: (d) => void queueMicrotask(() => deliver()(d.slice())) });
    const host = { segmentData: () => undefined, uploadAllowed: () => true, onAnnouncement: () => {}, onUploaded: () => {}, onProtocolError: () => {}, onRetracted: (_s: unknown, id: number) => onRetracted(id) };
    const peer = new PeerSession("-SC0001-aaaaaaaaaaaa", channel(() => toSwarm), host);
    const inSwarm = swarm.addPeer("-SC0001-relayrelayre", channel(() => toPeer));
    toSwarm = (d) => inSwarm.onMessage(d);
    toPeer = (d) => peer.onMessage(d);
    peer.hello();
    return peer;
  }
  const until = async (cond: () => boolean) => {
    for (let k = 0; k < 200 && !cond(); k++) await new Promise((r) => setTimeout(r, 5));
    expect(cond()).toBe(true);
  };

  it("a segment still arriving by HTTP is announced to a peer of ours and served to it as its bytes come", async () => {
    const { swarm, stop } = setup(0);
    swarm.setSegments([0, 1, 2, 3].map((id) => ({ id, url: `${base}/slow/${id}`, startTime: id * 10, endTime: id * 10 + 10 })), false);
    const peer = ourPeer(swarm);
    await new Promise((r) => setTimeout(r, 20));
    let loaded = false;
    const load = swarm.load(2, undefined, true).then((r) => ((loaded = true), r));
    await until(() => peer.has(2)); // announced while arriving
    expect(loaded).toBe(false);
    const got: Uint8Array[] = [];
    let relayed: boolean | undefined;
    let firstByteBeforeWhole = false;
    await new Promise<void>((resolve, reject) =>
      peer.request(2, 0, {
        onLength: (_n, _t, r) => (relayed = r),
        onBytes: (c) => {
          if (!got.length) firstByteBeforeWhole = !loaded;
          got.push(c);
        },
        onComplete: resolve,
        onFail: (r) => reject(new Error(r)),
      }),
    );
    const r = await load;
    stop();
    expect(relayed).toBe(true);
    expect(firstByteBeforeWhole).toBe(true);
    expect(isSegment(Buffer.concat(got), 2)).toBe(true);
    expect(isSegment(r.data, 2)).toBe(true);
  });

  it("with relay off, a segment is offered only once whole", async () => {
    const { swarm, stop } = setup(0, {}, { relay: false });
    swarm.setSegments([0, 1, 2, 3].map((id) => ({ id, url: `${base}/slow/${id}`, startTime: id * 10, endTime: id * 10 + 10 })), false);
    const peer = ourPeer(swarm);
    let loaded = false;
    let announcedBeforeWhole = false;
    const load = swarm.load(2, undefined, true).then(() => (loaded = true));
    for (let k = 0; k < 100 && !loaded; k++) {
      if (peer.has(2)) announcedBeforeWhole = true;
      await new Promise((r) => setTimeout(r, 5));
    }
    await load;
    await until(() => peer.has(2));
    stop();
    expect(announcedBeforeWhole).toBe(false);
  });

  it("a relayed segment that fails its check is blamed as relayed; our own relay of it is retracted", async () => {
    const { swarm, stop, bad } = setup(0);
    const retracted: number[] = [];
    const downstream = ourPeer(swarm, (id) => retracted.push(id));
    // A relay of ours that sends wrong bytes slowly, saying it relays them.
    const relay = remotePeer(Infinity, { flip: true, relayed: true, bps: 1_000_000 });
    const session = swarm.addPeer("-SC0001-liarliarliar", relay.channel);
    relay.connect((d) => session.onMessage(d));
    relay.announce();
    await new Promise((r) => setTimeout(r, 30));
    const load = swarm.load(3);
    await until(() => downstream.has(3)); // we relay what arrives
    const got: Uint8Array[] = [];
    const ended = new Promise<string>((resolve) => downstream.request(3, 0, { onBytes: (c) => got.push(c), onComplete: () => resolve("complete"), onFail: resolve }));
    const r = await load;
    await ended;
    await until(() => retracted.length > 0);
    stop();
    expect(isSegment(r.data, 3)).toBe(true); // the player got the right bytes, by HTTP
    expect(got.length).toBeGreaterThan(0);
    expect(bad).toEqual([{ id: 3, peers: ["-SC0001-liarliarliar"], relayed: ["-SC0001-liarliarliar"] }]);
    expect(retracted).toEqual([3]);
  });
});
