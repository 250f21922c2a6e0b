import { describe, expect, it } from "vitest";
import { PeerSession, type ByteChannel, type PeerHost } from "../src/peer/peer-session.js";
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
