import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PeerSession, type ByteChannel, type PeerHost } from "../src/peer/peer-session.js";
import { TokenBucket, UploadLimiter } from "../src/upload-limit.js";

describe("TokenBucket", () => {
  it("starts full, refills at its rate up to its capacity, and goes into debt by what is taken", () => {
    let t = 0;
    const b = new TokenBucket(1000, 500, () => t);
    expect(b.available()).toBe(500);
    b.take(800);
    expect(b.available()).toBe(-300);
    expect(b.waitMs()).toBe(301); // back above zero after 301 bytes at 1000 B/s
    t = 300;
    expect(b.available()).toBe(0);
    t = 400;
    expect(b.available()).toBe(100);
    expect(b.waitMs()).toBe(0);
    t = 10_000;
    expect(b.available()).toBe(500); // capped
  });

  it("ignores a clock going backwards", () => {
    let t = 1000;
    const b = new TokenBucket(1000, 500, () => t);
    b.take(500);
    t = 0;
    expect(b.available()).toBe(0);
    t = 1100;
    expect(b.available()).toBe(100);
  });

  it("refuses a rate or capacity that is not positive", () => {
    expect(() => new TokenBucket(0, 10)).toThrow(RangeError);
    expect(() => new TokenBucket(10, Number.NaN)).toThrow(RangeError);
  });

  it("never lets more than capacity + rate·T + one chunk out over T, for any sends and clock steps", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 1_000_000 }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 1, max: 65_535 })), { maxLength: 300 }),
        (rate, capacity, steps) => {
          let t = 0;
          const b = new TokenBucket(rate, capacity, () => t);
          let sent = 0;
          let biggest = 0;
          for (const [dt, chunk] of steps) {
            t += dt;
            // The sender's rule: send while the bucket holds a token.
            if (b.waitMs() === 0) {
              b.take(chunk);
              sent += chunk;
              biggest = Math.max(biggest, chunk);
            }
            expect(sent).toBeLessThanOrEqual(capacity + (rate * t) / 1000 + biggest + 1e-6);
          }
        },
      ),
    );
  });
});

describe("UploadLimiter", () => {
  it("turns kbps into bytes per second and holds at least one data message", () => {
    const l = new UploadLimiter(800, () => 0);
    expect(l.rate).toBe(100_000);
    expect(l.capacity).toBe(100_000);
    expect(new UploadLimiter(100, () => 0).capacity).toBe(64 * 1024);
  });

  it("is saturated only when its bucket is empty and an upload already waits on it", () => {
    let t = 0;
    const l = new UploadLimiter(800, () => t);
    l.take(200_000);
    expect(l.saturated()).toBe(false); // nobody waits: the request is served, paced
    l.begin();
    expect(l.saturated()).toBe(true);
    t = 1_001;
    expect(l.saturated()).toBe(false);
    l.end();
    l.end();
    l.take(500_000);
    expect(l.saturated()).toBe(false); // ends never go below zero
  });
});

describe("PeerSession under an upload cap", () => {
  afterEach(() => vi.useRealTimers());

  function channel(): ByteChannel & { bytes: number } {
    return {
      bytes: 0,
      bufferedAmount: 0,
      send(d) {
        if (d.length > 100) this.bytes += d.length; // segment bytes; commands are a few bytes
      },
      close() {},
    };
  }

  function host(limiter: UploadLimiter, seg: Uint8Array): PeerHost {
    return {
      segmentData: () => seg,
      uploadAllowed: () => true,
      onAnnouncement: () => {},
      onUploaded: () => {},
      onProtocolError: (_s, r) => {
        throw new Error(r);
      },
      uploadLimiter: () => limiter,
    };
  }

  /** A PML-format request (command 1) for segment `id`. */
  async function request(s: PeerSession, id: number, r: number): Promise<void> {
    const { encodeCommand } = await import("../src/protocol/index.js");
    for (const m of encodeCommand({ c: 1, i: id, r }, 65535)) s.onMessage(m);
  }

  it("paces what it serves to the cap, and refuses a second requester while the cap is spent", async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new UploadLimiter(800, () => Date.now()); // 100 kB/s
    const seg = new Uint8Array(500_000);
    const a = channel();
    const b = channel();
    const sa = new PeerSession("A", a, host(limiter, seg));
    const sb = new PeerSession("B", b, host(limiter, seg));
    await request(sa, 1, 1);
    expect(a.bytes).toBeLessThanOrEqual(100_000 + 65_535);
    await request(sb, 1, 2); // bucket empty, A's upload waits on it: absent
    expect(b.bytes).toBe(0);
    for (let s = 1; s <= 3; s++) {
      await vi.advanceTimersByTimeAsync(1000);
      expect(a.bytes).toBeLessThanOrEqual(100_000 + 100_000 * s + 65_535);
      expect(a.bytes).toBeGreaterThanOrEqual(100_000 * s);
    }
    await vi.advanceTimersByTimeAsync(2000);
    expect(a.bytes).toBe(500_000);
    expect(sa.bytesUp).toBe(500_000);
    // Done: the next requester is served again.
    await vi.advanceTimersByTimeAsync(1000);
    await request(sb, 1, 3);
    expect(b.bytes).toBeGreaterThan(0);
    sa.close();
    sb.close();
  });
});

describe("PeerSession busy answers", () => {
  afterEach(() => vi.useRealTimers());

  it("tells a peer of ours that it has the segment but no upload to spare; P2P Media Loader gets a plain absent", async () => {
    vi.useFakeTimers({ now: 0 });
    const { encodeCommand, decodeCommandBody, isCommandChunk, CommandJoiner } = await import("../src/protocol/index.js");
    const limiter = new UploadLimiter(800, () => Date.now());
    const seg = new Uint8Array(500_000);
    const answers = (sent: Uint8Array[]) => {
      const j = new CommandJoiner();
      const out = [];
      for (const m of sent) {
        if (!isCommandChunk(m)) continue;
        const r = j.push(m);
        if (r.kind === "complete") out.push(decodeCommandBody(r.body));
      }
      return out;
    };
    const session = (sent: Uint8Array[]) => {
      const channel: ByteChannel = { send: (d) => void sent.push(d.slice()), bufferedAmount: 0, close() {} };
      const h: PeerHost = { segmentData: (id) => (id === 1 ? seg : undefined), holds: (id) => id === 1, uploadAllowed: () => true, onAnnouncement: () => {}, onUploaded: () => {}, onProtocolError: () => {}, uploadLimiter: () => limiter };
      return new PeerSession("X", channel, h);
    };
    const first: Uint8Array[] = [];
    const a = session(first);
    encodeCommand({ c: 1, i: 1, r: 1 }).forEach((m) => a.onMessage(m)); // takes the cap
    const ours: Uint8Array[] = [];
    const b = session(ours);
    encodeCommand({ c: 32, f: 3 }).forEach((m) => b.onMessage(m));
    encodeCommand({ c: 1, i: 1, r: 2 }).forEach((m) => b.onMessage(m));
    encodeCommand({ c: 1, i: 9, r: 3 }).forEach((m) => b.onMessage(m)); // one it lacks
    expect(answers(ours).filter((c) => c.c === 4)).toEqual([{ c: 4, i: 1, r: 2, b: 1 }, { c: 4, i: 9, r: 3 }]);
    const pml: Uint8Array[] = [];
    const p = session(pml);
    encodeCommand({ c: 1, i: 1, r: 4 }).forEach((m) => p.onMessage(m));
    expect(answers(pml)).toEqual([{ c: 4, i: 1, r: 4 }]);
    a.close();
  });

  it("a busy answer keeps the peer a holder of the segment", async () => {
    const { encodeCommand } = await import("../src/protocol/index.js");
    const channel: ByteChannel = { send: () => {}, bufferedAmount: 0, close() {} };
    const h: PeerHost = { segmentData: () => undefined, uploadAllowed: () => true, onAnnouncement: () => {}, onUploaded: () => {}, onProtocolError: () => {} };
    const s = new PeerSession("Y", channel, h);
    encodeCommand({ c: 32, f: 3 }).forEach((m) => s.onMessage(m));
    encodeCommand({ c: 0, l: [1] }).forEach((m) => s.onMessage(m));
    const reasons: string[] = [];
    s.request(1, 0, { onBytes: () => {}, onComplete: () => {}, onFail: (r) => reasons.push(r) });
    encodeCommand({ c: 4, i: 1, r: (s as unknown as { nextRequestId: number }).nextRequestId, b: 1 }).forEach((m) => s.onMessage(m));
    expect(reasons).toEqual(["busy"]);
    expect(s.has(1)).toBe(true);
    s.request(1, 0, { onBytes: () => {}, onComplete: () => {}, onFail: (r) => reasons.push(r) });
    encodeCommand({ c: 4, i: 1, r: (s as unknown as { nextRequestId: number }).nextRequestId }).forEach((m) => s.onMessage(m));
    expect(reasons).toEqual(["busy", "absent"]);
    expect(s.has(1)).toBe(false);
  });
});
