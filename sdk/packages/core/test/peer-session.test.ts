import { describe, expect, it } from "vitest";
import { PeerSession, SEND_HIGH_WATER, type ByteChannel, type PeerHost } from "../src/peer/peer-session.js";
import { isCommandChunk } from "../src/protocol/index.js";
import { pmlCommands } from "./pml.js";

/** Two in-memory channels delivering to each other asynchronously, in order. */
function pair() {
  const queues: Uint8Array[][] = [[], []];
  const sinks: ((d: Uint8Array) => void)[] = [];
  const mk = (i: number): ByteChannel & { sent: Uint8Array[] } => ({
    sent: [],
    bufferedAmount: 0,
    send(d) {
      this.sent.push(d.slice());
      queues[1 - i]!.push(d.slice());
      queueMicrotask(() => {
        const m = queues[1 - i]!.shift();
        if (m) sinks[1 - i]?.(m);
      });
    },
    close() {},
  });
  return { a: mk(0), b: mk(1), connect: (sa: (d: Uint8Array) => void, sb: (d: Uint8Array) => void) => sinks.push(sa, sb) };
}

function host(data: Map<number, Uint8Array>, errors: string[] = []): PeerHost {
  return {
    segmentData: (id) => data.get(id),
    uploadAllowed: () => true,
    onAnnouncement: () => {},
    onUploaded: () => {},
    onProtocolError: (_s, r) => errors.push(r),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("PeerSession", () => {
  it("announces, requests and transfers a segment in 64 KiB chunks", async () => {
    const seg = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", ch.b, host(new Map([[7, seg]])));
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    b.announce([7], [8]);
    await tick();
    expect(a.has(7)).toBe(true);
    expect([...a.httpLoading]).toEqual([8]);
    const got: Uint8Array[] = [];
    const done = new Promise<void>((resolve, reject) =>
      a.request(7, 0, { onBytes: (c) => got.push(c), onComplete: resolve, onFail: (r) => reject(new Error(r)) }),
    );
    await done;
    expect(Buffer.concat(got).equals(Buffer.from(seg))).toBe(true);
    expect(ch.b.sent.every((m) => m.length <= 65535)).toBe(true);
    expect(b.bytesUp).toBe(seg.length);
  });

  it("keeps every message within the size the remote takes (a super peer's 8 KiB)", async () => {
    const seg = new Uint8Array(50_000).map((_, i) => (i * 7) & 0xff);
    const ch = pair();
    const small = Object.assign(ch.b, { maxMessageSize: 8192 });
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", small, host(new Map([[7, seg]])));
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    // An announcement of a long VOD watched through is a long command: framed in several messages.
    const many = Array.from({ length: 6000 }, (_, i) => i * 3);
    b.announce(many, []);
    await tick();
    expect(many.every((id) => a.has(id))).toBe(true);
    const got: Uint8Array[] = [];
    await new Promise<void>((resolve, reject) =>
      a.request(7, 0, { onBytes: (c) => got.push(c), onComplete: resolve, onFail: (r) => reject(new Error(r)) }),
    );
    expect(Buffer.concat(got).equals(Buffer.from(seg))).toBe(true);
    expect(small.sent.length).toBeGreaterThan(8);
    expect(small.sent.every((m) => m.length <= 8192)).toBe(true);
  });

  it("resumes from a byte offset and reports absent segments", async () => {
    const seg = new Uint8Array(100_000).fill(9);
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", ch.b, host(new Map([[1, seg]])));
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    let n = 0;
    await new Promise<void>((resolve, reject) => a.request(1, 70_000, { onBytes: (c) => (n += c.length), onComplete: resolve, onFail: reject }));
    expect(n).toBe(30_000);
    const reason = await new Promise((resolve) => a.request(2, 0, { onBytes: () => {}, onComplete: () => resolve("done"), onFail: resolve }));
    expect(reason).toBe("absent");
  });

  it("sends bytes PML can decode, and understands PML's commands", async () => {
    const pml = await pmlCommands();
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map([[3, new Uint8Array(10)]])));
    ch.connect(() => {}, () => {});
    a.announce([1, 2, 3], []);
    const body = ch.a.sent[0]!;
    expect(pml.deserializeCommand(body.subarray(4, body.length - 4))).toEqual({ c: 0, l: [1, 2, 3] });
    // A PML request for segment 3 gets SegmentData + bytes + Completed, all PML-decodable.
    for (const m of pml.serializePeerCommand({ c: 1, i: 3, r: 42 }, 65535)) a.onMessage(m);
    const sent = ch.a.sent.slice(1);
    const dec = (m: Uint8Array) => pml.deserializeCommand(m.subarray(4, m.length - 4));
    expect(dec(sent[0]!)).toEqual({ c: 2, i: 3, s: 10, r: 42 });
    expect(sent[1]!.length).toBe(10);
    expect(dec(sent[2]!)).toEqual({ c: 3, i: 3, r: 42 });
  });

  it("a byte overflow is a protocol error and fails the download", async () => {
    const ch = pair();
    const errors: string[] = [];
    const a = new PeerSession("B", ch.a, host(new Map(), errors));
    const pml = await pmlCommands();
    const failed = new Promise((resolve) => a.request(5, 0, { onBytes: () => {}, onComplete: () => resolve("ok"), onFail: resolve }));
    const r = Number(/* request id */ (await pml.deserializeCommand(ch.a.sent[0]!.subarray(4, ch.a.sent[0]!.length - 4))).r);
    for (const m of pml.serializePeerCommand({ c: 2, i: 5, s: 4, r }, 65535)) a.onMessage(m);
    a.onMessage(new Uint8Array(5));
    expect(await failed).toBe("protocol");
    expect(errors.length).toBe(1);
  });
});

describe("PeerSession against empty uploads", () => {
  it("treats SegmentData of 0 bytes as absent, never as a segment", async () => {
    const pml = await pmlCommands();
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map()));
    a.loaded.add(5);
    const result = new Promise((resolve) => a.request(5, 0, { onBytes: () => {}, onComplete: () => resolve("complete"), onFail: resolve }));
    const req = pml.deserializeCommand(ch.a.sent[0]!.subarray(4, ch.a.sent[0]!.length - 4));
    for (const m of pml.serializePeerCommand({ c: 2, i: 5, s: 0, r: req.r }, 65535)) a.onMessage(m);
    for (const m of pml.serializePeerCommand({ c: 3, i: 5, r: req.r }, 65535)) a.onMessage(m);
    expect(await result).toBe("absent");
    expect(a.has(5)).toBe(false);
  });
});

describe("PeerSession: a transfer is bound to its request", () => {
  async function requester() {
    const pml = await pmlCommands();
    const ch = pair();
    const errors: string[] = [];
    const dropped = { n: 0 };
    const a = new PeerSession("B", ch.a, { ...host(new Map(), errors), onDroppedBytes: (n) => (dropped.n += n) });
    ch.connect(() => {}, () => {});
    const send = (cmd: Record<string, unknown>) => {
      for (const m of pml.serializePeerCommand(cmd, 65535)) a.onMessage(m);
    };
    const lastRequest = () => {
      const m = ch.a.sent.filter((x) => pml.deserializeCommand(x.subarray(4, x.length - 4)).c === 1).pop()!;
      return pml.deserializeCommand(m.subarray(4, m.length - 4)) as { i: number; r: number; b?: number };
    };
    const download = (id: number, from = 0) => {
      const got: number[] = [];
      let cancel = () => {};
      const result = new Promise<string>((resolve) => {
        cancel = a.request(id, from, { onBytes: (c) => got.push(...c), onComplete: () => resolve("complete"), onFail: resolve });
      });
      return { got, result, cancel, req: lastRequest() };
    };
    return { a, send, download, errors, dropped, sent: ch.a.sent, pml };
  }

  it("late bytes of a cancelled request are dropped, never counted into the next one", async () => {
    const { send, download, dropped, a } = await requester();
    const first = download(1);
    send({ c: 2, i: 1, s: 10, r: first.req.r });
    a.onMessage(new Uint8Array(4).fill(1));
    first.cancel();
    expect(await first.result).toBe("cancelled");
    const second = download(2);
    a.onMessage(new Uint8Array(6).fill(1)); // the rest of segment 1, sent before the peer saw the cancel
    send({ c: 3, i: 1, r: first.req.r }); // and its Completed
    send({ c: 2, i: 2, s: 3, r: second.req.r });
    a.onMessage(new Uint8Array(3).fill(2));
    send({ c: 3, i: 2, r: second.req.r });
    expect(await second.result).toBe("complete");
    expect(second.got).toEqual([2, 2, 2]);
    expect(dropped.n).toBe(6);
  });

  it("replies to another request id are ignored, and their bytes are not ours", async () => {
    const { send, download, a, dropped } = await requester();
    const d = download(1);
    send({ c: 2, i: 1, s: 5, r: d.req.r + 1 }); // someone else's SegmentData
    a.onMessage(new Uint8Array(5).fill(7));
    send({ c: 2, i: 1, s: 2, r: d.req.r });
    a.onMessage(new Uint8Array(2).fill(1));
    send({ c: 3, i: 1, r: d.req.r });
    expect(await d.result).toBe("complete");
    expect(d.got).toEqual([1, 1]);
    expect(dropped.n).toBe(5);
  });

  it("a second SegmentData for the same request is a protocol error", async () => {
    const { send, download, errors } = await requester();
    const d = download(1);
    send({ c: 2, i: 1, s: 5, r: d.req.r });
    send({ c: 2, i: 1, s: 5, r: d.req.r });
    expect(await d.result).toBe("protocol");
    expect(errors).toEqual(["bad segment transfer"]);
  });

  it("Completed before all announced bytes is a protocol error, not a short segment", async () => {
    const { send, download, a } = await requester();
    const d = download(1);
    send({ c: 2, i: 1, s: 5, r: d.req.r });
    a.onMessage(new Uint8Array(4));
    send({ c: 3, i: 1, r: d.req.r });
    expect(await d.result).toBe("protocol");
  });

  it("a resumed request asks from its offset and reports the length that follows", async () => {
    const { send, download, a, pml, sent } = await requester();
    let stated = -1;
    const got: number[] = [];
    const result = new Promise<string>((resolve) =>
      a.request(9, 70_000, { onLength: (n) => (stated = n), onBytes: (c) => got.push(c.length), onComplete: () => resolve("complete"), onFail: resolve }),
    );
    const req = pml.deserializeCommand(sent[sent.length - 1]!.subarray(4, sent[sent.length - 1]!.length - 4));
    expect(req).toMatchObject({ c: 1, i: 9, b: 70_000 });
    send({ c: 2, i: 9, s: 30_000, r: req.r });
    a.onMessage(new Uint8Array(30_000));
    send({ c: 3, i: 9, r: req.r });
    expect(await result).toBe("complete");
    expect(stated).toBe(30_000);
  });
});

describe("PeerSession uploads", () => {
  it("a new request replaces the upload in progress; a cancel for another request id changes nothing", async () => {
    const big = new Uint8Array(3 * 65535).fill(3);
    const small = new Uint8Array(10).fill(4);
    const sent: Uint8Array[] = [];
    let buffered = 2 * 1024 * 1024; // over the high-water mark: nothing is sent until drained
    const channel: ByteChannel = { send: (d) => void sent.push(d.slice()), get bufferedAmount() { return buffered; }, close() {} };
    const pml = await pmlCommands();
    const b = new PeerSession("A", channel, host(new Map([[1, big], [2, small]])));
    const req = (c: Record<string, unknown>) => pml.serializePeerCommand(c, 65535).forEach((m: Uint8Array) => b.onMessage(m));
    req({ c: 1, i: 1, r: 10 });
    req({ c: 5, i: 1, r: 99 }); // not ours: ignored
    req({ c: 1, i: 2, r: 11 }); // replaces the upload of 1
    buffered = 0;
    b.onDrain();
    const dec = (m: Uint8Array) => pml.deserializeCommand(m.subarray(4, m.length - 4));
    const commands = sent.filter(isCommandChunk).map(dec);
    const raw = sent.filter((m) => !isCommandChunk(m));
    expect(commands).toEqual([{ c: 2, i: 1, s: big.length, r: 10 }, { c: 2, i: 2, s: 10, r: 11 }, { c: 3, i: 2, r: 11 }]);
    expect(raw.map((m) => m.length)).toEqual([10]);
  });

  it("keeps at most its high-water mark of an upload queued, so a cancel leaves little of it on the wire", async () => {
    const seg = new Uint8Array(1_500_000).fill(5); // a 4 s segment at 3 Mbit/s
    let queued = 0; // what the uplink has not carried yet
    const segmentBytes: number[] = [];
    const channel: ByteChannel = {
      send: (d) => {
        queued += d.length;
        if (!isCommandChunk(d)) segmentBytes.push(d.length);
      },
      get bufferedAmount() {
        return queued;
      },
      close() {},
    };
    const pml = await pmlCommands();
    const b = new PeerSession("A", channel, host(new Map([[1, seg]])));
    const req = (c: Record<string, unknown>) => pml.serializePeerCommand(c, 65535).forEach((m: Uint8Array) => b.onMessage(m));
    req({ c: 1, i: 1, r: 10 });
    const sum = () => segmentBytes.reduce((n, x) => n + x, 0);
    expect(sum()).toBeGreaterThan(0);
    expect(sum()).toBeLessThanOrEqual(SEND_HIGH_WATER + 65535);
    // The uplink carries it all; the session tops the queue up, never beyond the mark.
    queued = 0;
    b.onDrain();
    expect(sum()).toBeLessThanOrEqual(2 * (SEND_HIGH_WATER + 65535));
    req({ c: 5, i: 1, r: 10 }); // the requester gave up
    const atCancel = sum();
    queued = 0;
    b.onDrain();
    expect(sum()).toBe(atCancel);
    expect(atCancel).toBeLessThan(seg.length / 4);
  });

  it("fills a channel to the high-water mark the channel asks for", async () => {
    const seg = new Uint8Array(300_000).fill(6);
    let queued = 0;
    const channel: ByteChannel = { send: (d) => void (queued += d.length), get bufferedAmount() { return queued; }, sendHighWater: 4096, maxMessageSize: 4095, close() {} };
    const pml = await pmlCommands();
    const b = new PeerSession("A", channel, host(new Map([[1, seg]])));
    pml.serializePeerCommand({ c: 1, i: 1, r: 10 }, 65535).forEach((m: Uint8Array) => b.onMessage(m));
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThan(4096 + 2 * 4095);
  });

  it("serves a segment whose bytes must be read first (disk), unless the request was replaced meanwhile", async () => {
    const seg = new Uint8Array(100_000).fill(3);
    const ch = pair();
    let reads = 0;
    const slow: PeerHost = { ...host(new Map()), segmentData: (id) => (reads++, new Promise((r) => setTimeout(() => r(id === 1 ? seg : undefined), 10))) };
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", ch.b, slow);
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    let n = 0;
    await new Promise<void>((resolve, reject) => a.request(1, 0, { onBytes: (c) => (n += c.length), onComplete: resolve, onFail: reject }));
    expect(n).toBe(seg.length);
    // A request cancelled while its bytes are read gets nothing; the next one is served.
    const cancel = a.request(1, 0, { onBytes: () => {}, onComplete: () => {}, onFail: () => {} });
    await tick();
    cancel();
    const before = ch.b.sent.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(ch.b.sent.length).toBe(before);
    const absent = await new Promise((resolve) => a.request(2, 0, { onBytes: () => {}, onComplete: () => resolve("done"), onFail: resolve }));
    expect(absent).toBe("absent");
    expect(reads).toBe(3);
  });
});

describe("PeerSession byte-range extension", () => {
  const seg = new Uint8Array(100_000).map((_, i) => (i * 13) & 0xff);
  async function greeted(greetBack: boolean) {
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", ch.b, host(new Map([[7, seg]])));
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    a.hello();
    if (greetBack) b.hello();
    await tick();
    return { a, b };
  }
  const fetchPart = (a: PeerSession, from: number, end: number) =>
    new Promise<{ bytes: Buffer; stated: number; total?: number }>((resolve, reject) => {
      const got: Uint8Array[] = [];
      let stated = -1;
      let total: number | undefined;
      a.request(7, from, { onLength: (n, t) => ((stated = n), (total = t)), onBytes: (c) => got.push(c), onComplete: () => resolve({ bytes: Buffer.concat(got), stated, total }), onFail: (r) => reject(new Error(r)) }, end);
    });

  it("a peer that greets back sends the part asked for, with the segment's length; the end is clipped to it", async () => {
    const { a, b } = await greeted(true);
    expect(a.byteRanges).toBe(true);
    expect(b.byteRanges).toBe(true);
    const mid = await fetchPart(a, 1000, 5000);
    expect(mid.bytes.equals(Buffer.from(seg.subarray(1000, 5000)))).toBe(true);
    expect(mid.stated).toBe(4000);
    expect(mid.total).toBe(100_000);
    const tail = await fetchPart(a, 90_000, 200_000);
    expect(tail.bytes.equals(Buffer.from(seg.subarray(90_000)))).toBe(true);
    await expect(fetchPart(a, 100_000, 200_000)).rejects.toThrow("absent");
  });

  it("a peer that never greeted (P2P Media Loader) is never asked for a part", async () => {
    const { a } = await greeted(false);
    expect(a.byteRanges).toBe(false);
    expect(() => a.request(7, 0, { onBytes: () => {}, onComplete: () => {}, onFail: () => {} }, 5000)).toThrow();
  });
});

describe("PeerSession relay extension", () => {
  const seg = new Uint8Array(150_000).map((_, i) => (i * 29 + 3) & 0xff);
  /** A segment still arriving at B: `arrive(n)` gives B its next n bytes; `lose()` throws them away. */
  function growing() {
    let held = 0;
    let lost = false;
    return {
      total: seg.length,
      read: (from: number, max: number) => (lost ? null : from < held ? seg.subarray(from, Math.min(held, from + max)) : undefined),
      arrive(n: number) {
        held = Math.min(seg.length, held + n);
      },
      lose() {
        lost = true;
      },
    };
  }
  /** A asks B for segment 7 from byte 1000; B is receiving it. Each greets with every extension, or not. */
  async function relaying(requesterGreets: boolean, relayGreets = true) {
    const g = growing();
    const ch = pair();
    const retracted: number[] = [];
    const a = new PeerSession("B", ch.a, { ...host(new Map()), onRetracted: (_s, id) => retracted.push(id) });
    const b = new PeerSession("A", ch.b, { ...host(new Map()), segmentData: (id) => (id === 7 ? g : undefined) });
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    if (requesterGreets) a.hello();
    if (relayGreets) b.hello();
    await tick();
    const got: Uint8Array[] = [];
    let relayed: boolean | undefined;
    let stated = -1;
    const outcome = new Promise<string>((resolve) =>
      a.request(7, 1000, { onLength: (n, _t, r) => ((stated = n), (relayed = r)), onBytes: (c) => got.push(c), onComplete: () => resolve("complete"), onFail: (r) => resolve(r) }),
    );
    await tick();
    const more = async (n: number) => {
      g.arrive(n);
      b.onRelayBytes();
      await tick();
    };
    return { a, b, g, ch, got: () => Buffer.concat(got), relayed: () => relayed, stated: () => stated, outcome, more, retracted };
  }

  it("serves a segment still arriving as its bytes come, to a peer that speaks relay", async () => {
    const r = await relaying(true);
    expect(r.a.relays).toBe(true);
    expect(r.stated()).toBe(seg.length - 1000); // the whole rest is announced at once
    expect(r.relayed()).toBe(true);
    expect(r.b.relayingId).toBe(7);
    expect(r.got().length).toBe(0); // nothing held past byte 1000 yet
    await r.more(50_000);
    expect(r.got().equals(Buffer.from(seg.subarray(1000, 50_000)))).toBe(true);
    await r.more(100_000);
    expect(await r.outcome).toBe("complete");
    expect(r.got().equals(Buffer.from(seg.subarray(1000)))).toBe(true);
    expect(r.b.relayingId).toBeUndefined();
  });

  it("a relay whose own copy is lost ends the upload as absent; the bytes sent stay with the requester", async () => {
    const r = await relaying(true);
    await r.more(30_000);
    r.g.lose();
    r.b.onRelayBytes();
    expect(await r.outcome).toBe("absent");
    expect(r.got().equals(Buffer.from(seg.subarray(1000, 30_000)))).toBe(true);
    expect(r.a.has(7)).toBe(false);
  });

  it("a segment still arriving is absent for a peer that does not speak relay (P2P Media Loader)", async () => {
    const r = await relaying(false);
    expect(r.b.relays).toBe(false);
    expect(await r.outcome).toBe("absent");
  });

  it("a retraction reaches the host only from a peer that speaks relay, and is sent only to one", async () => {
    const r = await relaying(true);
    r.b.retract(7);
    await tick();
    expect(r.retracted).toEqual([7]);
    // B never greeted: A does not listen to it (and B, greeted by A, did send it).
    const plain = await relaying(true, false);
    plain.b.retract(7);
    await tick();
    expect(plain.retracted).toEqual([]);
    // A never greeted: B sends it nothing.
    const mute = await relaying(false);
    const before = mute.ch.b.sent.length;
    mute.b.retract(7);
    expect(mute.ch.b.sent.length).toBe(before);
    mute.a.hello();
    await tick();
    mute.b.retract(7);
    expect(mute.ch.b.sent.length).toBe(before + 1);
  });

  it("tells which announced segments are still arriving, only between peers that speak relay", async () => {
    const r = await relaying(true);
    r.b.announce([5], [], [7]);
    await tick();
    expect([r.a.has(5), r.a.has(7), [...r.a.arriving]]).toEqual([true, true, [7]]);
    r.b.announce([5, 7], []);
    await tick();
    expect([...r.a.arriving]).toEqual([]); // whole now
    // A never greeted: B does not tell it (and would not list the arriving segment at all).
    const mute = await relaying(false);
    mute.b.announce([5], [], [7]);
    await tick();
    expect(mute.ch.b.sent.some((m) => isCommandChunk(m) && Buffer.from(m).includes(Buffer.from("g")))).toBe(false);
    expect([...mute.a.arriving]).toEqual([]);
  });
});

describe("PeerSession queued requests", () => {
  const seg = new Uint8Array(120_000).map((_, i) => (i * 31 + 7) & 0xff);
  /** B relays segment 7 as it arrives (`give(n)`: its next n bytes); both greet, or B stays silent. */
  async function queued(relayGreets = true) {
    let held = 0;
    const ch = pair();
    const a = new PeerSession("B", ch.a, host(new Map()));
    const b = new PeerSession("A", ch.b, { ...host(new Map()), segmentData: (id) => (id === 7 ? { total: seg.length, read: (from: number, max: number) => (from < held ? seg.subarray(from, Math.min(held, from + max)) : undefined) } : undefined) });
    ch.connect((d) => a.onMessage(d), (d) => b.onMessage(d));
    a.hello();
    if (relayGreets) b.hello();
    await tick();
    const give = async (n: number) => {
      held = Math.min(seg.length, held + n);
      b.onRelayBytes();
      await tick();
    };
    /** Events of one part, in the order they came. */
    const part = () => {
      const log: string[] = [];
      const got: Uint8Array[] = [];
      const handlers = {
        onLength: (n: number) => void log.push(`length ${n}`),
        onBytes: (c: Uint8Array) => void got.push(c),
        onComplete: () => void log.push("complete"),
        onFail: (r: string) => void log.push(r),
      };
      return { log, handlers, bytes: () => Buffer.concat(got) };
    };
    return { a, b, ch, give, part };
  }

  it("the next part follows the one under way without being asked again, in order", async () => {
    const q = await queued();
    const first = q.part();
    const second = q.part();
    expect(q.a.canQueue).toBe(false); // nothing under way
    q.a.request(7, 0, first.handlers, 40_000);
    expect(q.a.canQueue).toBe(true);
    q.a.requestNext(7, 40_000, second.handlers, 100_000);
    expect(q.a.canQueue).toBe(false); // one waits at most
    await q.give(30_000);
    expect(second.log).toEqual([]); // B is still sending the first part
    const requestsBefore = q.ch.a.sent.length;
    await q.give(90_000);
    expect(first.log).toEqual(["length 40000", "complete"]);
    expect(second.log).toEqual(["length 60000", "complete"]);
    expect(first.bytes().equals(Buffer.from(seg.subarray(0, 40_000)))).toBe(true);
    expect(second.bytes().equals(Buffer.from(seg.subarray(40_000, 100_000)))).toBe(true);
    expect(q.ch.a.sent.length).toBe(requestsBefore); // A sent nothing more
    expect(q.b.bytesUp).toBe(100_000);
    expect(q.a.busy).toBe(false);
  });

  it("a queued part that is cancelled is never sent; the one under way goes on", async () => {
    const q = await queued();
    const first = q.part();
    const second = q.part();
    q.a.request(7, 0, first.handlers, 40_000);
    const cancel = q.a.requestNext(7, 40_000, second.handlers, 100_000);
    await q.give(10_000);
    cancel();
    expect(second.log).toEqual(["cancelled"]);
    expect(q.a.canQueue).toBe(true); // another may wait now
    await tick(); // the cancel reaches B before the first part's last bytes do
    await q.give(110_000);
    expect(first.log).toEqual(["length 40000", "complete"]);
    expect(q.b.bytesUp).toBe(40_000);
    expect(q.a.busy).toBe(false);
  });

  it("cancelling the part under way moves both sides on to the queued one", async () => {
    const q = await queued();
    const first = q.part();
    const second = q.part();
    const cancel = q.a.request(7, 0, first.handlers, 40_000);
    q.a.requestNext(7, 40_000, second.handlers, 100_000);
    await q.give(10_000);
    cancel();
    expect(first.log).toEqual(["length 40000", "cancelled"]);
    expect(q.a.busy).toBe(true); // the queued part is the download now
    await q.give(110_000);
    expect(second.log).toEqual(["length 60000", "complete"]);
    expect(second.bytes().equals(Buffer.from(seg.subarray(40_000, 100_000)))).toBe(true);
    expect(q.a.bytesDropped).toBe(q.b.bytesUp - 60_000 - first.bytes().length); // late bytes of the first: dropped, never the second's
  });

  it("a queued request that finds nothing under way is served at once", async () => {
    const q = await queued();
    await q.give(120_000); // B holds it all: the first part is sent in full before the second request arrives
    const first = q.part();
    const second = q.part();
    q.a.request(7, 0, first.handlers, 40_000);
    q.a.requestNext(7, 40_000, second.handlers, 120_000);
    await tick();
    await tick();
    expect(first.log).toEqual(["length 40000", "complete"]);
    expect(second.log).toEqual(["length 80000", "complete"]);
    expect(second.bytes().equals(Buffer.from(seg.subarray(40_000)))).toBe(true);
  });

  it("a channel that closes fails both parts", async () => {
    const q = await queued();
    const first = q.part();
    const second = q.part();
    q.a.request(7, 0, first.handlers, 40_000);
    q.a.requestNext(7, 40_000, second.handlers, 100_000);
    q.a.close();
    expect(first.log).toEqual(["closed"]);
    expect(second.log).toEqual(["closed"]);
  });

  it("a peer that never said it queues (P2P Media Loader, older versions) is never sent a queued request", async () => {
    const q = await queued(false);
    q.a.request(7, 0, q.part().handlers);
    expect(q.a.canQueue).toBe(false);
    expect(() => q.a.requestNext(7, 40_000, q.part().handlers, 100_000)).toThrow();
  });
});
