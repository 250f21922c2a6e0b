// The segment assembly as a pure state machine: whatever sources, late bytes and statements
// arrive in whatever order, a completed segment is exactly the segment.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SegmentTransfer } from "../src/segment-transfer.js";

const segment = (n: number) => new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("SegmentTransfer", () => {
  it("completes from one source that states its length", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer();
    const s = t.begin("p2p", "a");
    expect(t.expect(s, 1000)).toBe("ok");
    expect(t.append(s, seg.subarray(0, 600))).toBe("ok");
    expect(t.append(s, seg.subarray(600))).toBe("ok");
    const done = t.finish(s);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
  });

  it("drops the bytes of a replaced source: a resumed transfer is never appended twice", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer();
    const a = t.begin("p2p", "a");
    t.expect(a, 1000);
    t.append(a, seg.subarray(0, 300));
    t.stop(); // abandoned
    const b = t.begin("p2p", "b");
    expect(b.from).toBe(300);
    expect(t.expect(b, 700)).toBe("ok");
    // a's bytes still in flight arrive after b took over
    expect(t.append(a, seg.subarray(300, 500))).toBe("stale");
    expect(t.finish(a).kind).toBe("stale");
    t.append(b, seg.subarray(300));
    const done = t.finish(b);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
    expect(t.droppedBytes).toBe(200);
    expect(t.usedP2P).toBe(true);
  });

  it("a length that contradicts the one stated before discards everything held", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer();
    const a = t.begin("p2p", "a");
    t.expect(a, 1000);
    t.append(a, seg.subarray(0, 400));
    t.stop();
    const b = t.begin("p2p", "b");
    expect(t.expect(b, 900)).toBe("conflict"); // 400 + 900 != 1000
    expect(t.received).toBe(0);
    expect(t.total).toBeUndefined();
    expect(t.isCurrent(b)).toBe(false);
    expect(t.conflicts).toBe(1);
  });

  it("the playlist's byte-range length outranks any source", () => {
    const t = new SegmentTransfer(500);
    const s = t.begin("p2p", "a");
    expect(t.expect(s, 600)).toBe("conflict");
    expect(t.total).toBe(500);
  });

  it("bytes beyond the stated length are dropped and flagged", () => {
    const seg = segment(100);
    const t = new SegmentTransfer();
    const s = t.begin("http");
    t.expect(s, 100);
    expect(t.append(s, new Uint8Array([...seg, 1, 2, 3]))).toBe("overlong");
    expect(t.received).toBe(100);
    expect(t.droppedBytes).toBe(3);
  });

  it("a source that ends early leaves a short segment, never a complete one", () => {
    const t = new SegmentTransfer();
    const s = t.begin("p2p", "a");
    t.expect(s, 100);
    t.append(s, segment(100).subarray(0, 60));
    expect(t.finish(s).kind).toBe("short");
    expect(t.received).toBe(60);
  });

  it("HTTP without a stated length defines it; an empty segment is never complete", () => {
    const t = new SegmentTransfer();
    const s = t.begin("http");
    t.append(s, segment(10));
    expect(t.finish(s).kind).toBe("complete");
    const e = new SegmentTransfer();
    expect(e.finish(e.begin("http")).kind).toBe("short");
  });

  // Random interleavings of sources beginning, stopping, sending (the current one or stale
  // ones, whose bytes are still in flight) and finishing, in any order.
  type Step =
    | { op: "begin"; http: boolean; lieBy: number }
    | { op: "send"; back: number; n: number }
    | { op: "finish"; back: number }
    | { op: "stop" };
  const steps = (lies: boolean) =>
    fc.array(
      fc.oneof(
        fc.record({ op: fc.constant("begin" as const), http: fc.boolean(), lieBy: lies ? fc.integer({ min: -3, max: 3 }) : fc.constant(0) }),
        fc.record({ op: fc.constant("send" as const), back: fc.nat(3), n: fc.integer({ min: 1, max: 40 }) }),
        fc.record({ op: fc.constant("finish" as const), back: fc.nat(3) }),
        fc.record({ op: fc.constant("stop" as const) }),
      ) as fc.Arbitrary<Step>,
      { maxLength: 50 },
    );

  /** Runs the steps; returns the completed segment, if any. Sources send the segment's true bytes (and, past its end, filler). */
  function run(t: SegmentTransfer, len: number, script: Step[]): Uint8Array | undefined {
    const seg = segment(len);
    const live: { src: ReturnType<SegmentTransfer["begin"]>; pos: number }[] = [];
    for (const st of script) {
      const pick = (back: number) => live[live.length - 1 - (back % Math.max(1, live.length))];
      if (st.op === "begin") {
        const src = t.begin(st.http ? "http" : "p2p", st.http ? undefined : "p");
        live.push({ src, pos: src.from });
        t.expect(src, len - src.from + st.lieBy);
      } else if (st.op === "send") {
        const l = pick(st.back);
        if (!l) continue;
        const end = l.pos + st.n;
        t.append(l.src, new Uint8Array(st.n).map((_, i) => seg[l.pos + i] ?? 0x55));
        l.pos = end;
      } else if (st.op === "finish") {
        const l = pick(st.back);
        if (!l) continue;
        const done = t.finish(l.src);
        if (done.kind === "complete") return done.data;
      } else {
        t.stop();
      }
    }
    return undefined;
  }

  it("property: honest sources in any interleaving complete exactly the segment", () => {
    fc.assert(
      fc.property(steps(false), (script) => {
        const data = run(new SegmentTransfer(), 64, script);
        if (data) expect(same(data, segment(64))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: with the length known, sources that lie about it never complete a wrong segment", () => {
    fc.assert(
      fc.property(steps(true), (script) => {
        const data = run(new SegmentTransfer(64), 64, script);
        if (data) expect(same(data, segment(64))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("parts from several sources at once complete the segment; each part's source ends with \"part\"", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer(1000);
    const a = t.claim("p2p", "a", 400)!;
    const b = t.claim("p2p", "b", 400)!;
    const c = t.claim("p2p", "c", 400)!;
    expect([a.from, a.end, b.from, b.end, c.from, c.end]).toEqual([0, 400, 400, 800, 800, 1000]);
    expect(t.claim("p2p", "d", 400)).toBeUndefined();
    expect(t.expect(b, 400, 1000)).toBe("ok");
    t.append(b, seg.subarray(400, 800));
    expect(t.finish(b).kind).toBe("part");
    t.append(c, seg.subarray(800, 1000));
    expect(t.finish(c).kind).toBe("part");
    t.append(a, seg.subarray(0, 400));
    const done = t.finish(a);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
    expect(t.contributors.sort()).toEqual(["a", "b", "c"]);
    expect(t.origins.map((o) => [o.peerId, o.start, o.end])).toEqual([["b", 400, 800], ["c", 800, 1000], ["a", 0, 400]]);
  });

  it("a stopped part keeps its bytes; the rest of it is claimed again; HTTP fills only the holes", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer(1000);
    const a = t.claim("p2p", "a", 500)!;
    const b = t.claim("p2p", "b", 500)!;
    t.append(a, seg.subarray(0, 100));
    t.stop(a);
    expect(t.append(a, seg.subarray(100, 200))).toBe("stale");
    const a2 = t.claim("p2p", "c", 1000)!;
    expect([a2.from, a2.end]).toEqual([100, 500]);
    t.append(b, seg.subarray(500, 1000));
    expect(t.finish(b).kind).toBe("part");
    const h = t.begin("http"); // a rescue: the others stop, HTTP takes the hole
    expect([h.from, h.end]).toEqual([100, 500]);
    expect(t.isCurrent(a2)).toBe(false);
    expect(t.expect(h, 400)).toBe("ok");
    t.append(h, seg.subarray(100, 500));
    const done = t.finish(h);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
  });

  it("a part's tail split off to a second source: the first stops being needed at the cut, or takes its tail back when the second stops", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer(1000);
    const a = t.claim("p2p", "a", 1000)!;
    expect(t.claimable).toBe(false);
    t.append(a, seg.subarray(0, 200));
    expect(t.split(a, 150, "p2p", "b")).toBeUndefined(); // behind what it has sent
    expect(t.split(a, 1000, "p2p", "b")).toBeUndefined(); // nothing after it
    const b = t.split(a, 600, "p2p", "b")!;
    expect([b.from, b.end, t.claimEnd(a)]).toEqual([600, 1000, 600]);
    expect(t.claimable).toBe(false);
    expect(t.expect(b, 400, 1000)).toBe("ok");
    t.append(b, seg.subarray(600, 700));
    t.append(a, seg.subarray(200, 500));
    expect(t.reachedCut(a)).toBe(false);
    // The first source's message that crosses the cut: the bytes before the cut are kept, the
    // ones the second source sent already are dropped, and the first is not needed any more.
    t.append(a, seg.subarray(500, 650));
    expect(t.reachedCut(a)).toBe(true);
    t.stop(a);
    t.append(b, seg.subarray(700, 1000));
    const done = t.finish(b);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);

    // The second source stops before the first reaches the cut: the first goes on to its end.
    const u = new SegmentTransfer(1000);
    const c = u.claim("p2p", "c", 1000)!;
    const d = u.split(c, 500, "p2p", "d")!;
    u.append(d, seg.subarray(500, 600));
    u.stop(d);
    u.append(c, seg.subarray(0, 500));
    expect(u.reachedCut(c)).toBe(true); // byte 500 is held (the second source's)
    const v = new SegmentTransfer(1000);
    const e = v.claim("p2p", "e", 1000)!;
    const f = v.split(e, 500, "p2p", "f")!;
    v.stop(f);
    v.append(e, seg.subarray(0, 500));
    expect(v.reachedCut(e)).toBe(false);
    expect(v.claimEnd(e)).toBe(1000);
    expect(v.claimable).toBe(false);
    v.append(e, seg.subarray(500, 1000));
    expect(v.finish(e).kind).toBe("complete");
  });

  it("a source of the whole rest that crosses parts held keeps only the holes' bytes", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer();
    const a = t.claim("p2p", "a", 300)!;
    t.expect(a, 300);
    t.append(a, seg.subarray(0, 300));
    const b = t.claim("p2p", "b", 300)!; // length still unknown: [300, 600)
    t.stop(a);
    t.expect(b, 300, 1000);
    t.append(b, seg.subarray(300, 450));
    t.stop(b);
    const c = t.claim("p2p", "c", 1000)!;
    expect([c.from, c.end]).toEqual([450, 1000]);
    t.append(c, seg.subarray(450, 460));
    t.stop(c);
    // [0, 460) held; a peer without the extension sends everything from 460 on, and again
    // from 0 after a restart: held bytes are never counted twice.
    const d = t.begin("p2p", "d");
    t.expect(d, 540);
    t.append(d, seg.subarray(460, 700));
    t.stop(d);
    const h = t.begin("http");
    expect([h.from, h.end]).toEqual([700, undefined]);
    t.expect(h, 300);
    t.append(h, seg.subarray(700));
    expect(t.received).toBe(1000);
    const done = t.finish(h);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
  });

  it("bytes that cross a hole and the part after it fill the hole only", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer(1000);
    const a = t.claim("p2p", "a", 200)!; // [0, 200)
    const b = t.claim("p2p", "b", 300)!; // [200, 500)
    const c = t.claim("p2p", "c", 500)!; // [500, 1000)
    t.append(a, seg.subarray(0, 200));
    t.append(c, seg.subarray(500, 1000));
    t.stop(b);
    // HTTP without an end (as a restart from a source that knew no length would send).
    const src = { kind: "http" as const, from: 200, turn: 99 };
    (t as unknown as { active: Map<unknown, number> }).active.set(src, 200);
    t.append(src, seg.subarray(200, 1000));
    expect(t.received).toBe(1000);
    const done = t.finish(src);
    expect(done.kind).toBe("complete");
    expect(same((done as { data: Uint8Array }).data, seg)).toBe(true);
  });

  it("a part's source that states another size is stopped alone; one that states another segment length discards all", () => {
    const t = new SegmentTransfer();
    const a = t.claim("p2p", "a", 400)!;
    const b = t.claim("p2p", "b", 400)!;
    expect(t.expect(a, 400, 1000)).toBe("ok");
    t.append(a, segment(1000).subarray(0, 400));
    expect(t.expect(b, 399, 1000)).toBe("mismatch");
    expect(t.isCurrent(b)).toBe(false);
    expect(t.received).toBe(400);
    const c = t.claim("p2p", "c", 400)!;
    expect(t.expect(c, 400, 999)).toBe("conflict");
    expect(t.received).toBe(0);
  });

  // Random interleavings with parts: claims of random sizes, rescues by HTTP, stops, sends of
  // the true bytes, finishes; a completed segment is always exactly the segment.
  type PartStep = { op: "claim"; n: number } | { op: "http" } | { op: "whole" } | { op: "send"; back: number; n: number } | { op: "finish"; back: number } | { op: "stop"; back: number } | { op: "split"; back: number; at: number };
  it("property: parts, rescues and stops in any interleaving complete exactly the segment", () => {
    const len = 200;
    const seg = segment(len);
    const step = fc.oneof(
      fc.record({ op: fc.constant("claim" as const), n: fc.integer({ min: 1, max: 120 }) }),
      fc.record({ op: fc.constant("http" as const) }),
      fc.record({ op: fc.constant("whole" as const) }),
      fc.record({ op: fc.constant("send" as const), back: fc.nat(4), n: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ op: fc.constant("finish" as const), back: fc.nat(4) }),
      fc.record({ op: fc.constant("stop" as const), back: fc.nat(4) }),
      fc.record({ op: fc.constant("split" as const), back: fc.nat(4), at: fc.integer({ min: 0, max: len }) }),
    ) as fc.Arbitrary<PartStep>;
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { maxLength: 60 }), (known, script) => {
        const t = new SegmentTransfer(known ? len : undefined);
        const live: { src: NonNullable<ReturnType<SegmentTransfer["claim"]>>; pos: number }[] = [];
        for (const st of script) {
          const pick = (back: number) => live[live.length - 1 - (back % Math.max(1, live.length))];
          if (st.op === "claim" || st.op === "http" || st.op === "whole") {
            const claimable = t.claimable;
            const src = st.op === "claim" ? t.claim("p2p", `p${live.length}`, st.n) : t.begin(st.op === "http" ? "http" : "p2p");
            if (st.op === "claim") expect(src !== undefined).toBe(claimable); // it says what a claim would do
            if (!src) continue;
            live.push({ src, pos: src.from });
            const end = Math.min(src.end ?? len, len);
            t.expect(src, Math.max(0, end - src.from), src.end === undefined ? undefined : len);
          } else if (st.op === "send") {
            const l = pick(st.back);
            if (!l) continue;
            t.append(l.src, new Uint8Array(st.n).map((_, i) => seg[l.pos + i] ?? 0x55));
            l.pos += st.n;
          } else if (st.op === "split") {
            const l = pick(st.back);
            const src = l && t.split(l.src, st.at, "p2p", `p${live.length}`);
            if (!src) continue;
            expect([src.from, src.end]).toEqual([st.at, t.claimEnd(src)]);
            live.push({ src, pos: src.from });
            t.expect(src, (src.end as number) - src.from, t.total);
          } else if (st.op === "finish") {
            const l = pick(st.back);
            if (!l) continue;
            const done = t.finish(l.src);
            if (done.kind === "complete") expect(same(done.data, seg)).toBe(true);
          } else {
            const l = pick(st.back);
            if (l) t.stop(l.src);
          }
          expect(t.received).toBeLessThanOrEqual(t.total ?? len);
          for (const l of live) if (t.reachedCut(l.src)) t.stop(l.src); // as the swarm does
          // What a relay reads of it is the segment's bytes wherever they are held.
          for (let o = 0; o < len; o += 37) {
            const r = t.read(o, 50);
            if (r) expect(r.length > 0 && r.length <= 50 && same(r, seg.subarray(o, o + r.length))).toBe(true);
          }
        }
        // Whatever happened, HTTP for the rest completes exactly the segment.
        const h = t.begin("http");
        t.expect(h, (h.end ?? len) - h.from);
        t.append(h, seg.subarray(h.from, h.end ?? len));
        const done = t.finish(h);
        expect(done.kind).toBe("complete");
        if (done.kind === "complete") expect(same(done.data, seg)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("reads held bytes from any offset for a relay, one stored piece at a time; nothing where a hole is", () => {
    const seg = segment(1000);
    const t = new SegmentTransfer();
    const a = t.claim("p2p", "a", 400) as NonNullable<ReturnType<SegmentTransfer["claim"]>>;
    t.expect(a, 400, 1000);
    t.append(a, seg.subarray(0, 150));
    t.append(a, seg.subarray(150, 400));
    const b = t.claim("p2p", "b", 1000) as NonNullable<ReturnType<SegmentTransfer["claim"]>>;
    t.expect(b, 600, 1000);
    expect(same(t.read(100, 1000)!, seg.subarray(100, 150))).toBe(true); // the first piece only
    expect(same(t.read(150, 10)!, seg.subarray(150, 160))).toBe(true);
    expect(t.read(400, 10)).toBeUndefined(); // not held yet
    t.append(b, seg.subarray(400, 500));
    expect(same(t.read(399, 100)!, seg.subarray(399, 400))).toBe(true);
    expect(same(t.read(400, 100)!, seg.subarray(400, 500))).toBe(true);
    expect(t.read(1000, 10)).toBeUndefined();
    expect(t.discards).toBe(0);
    // A length that contradicts the stated one discards everything: counted, nothing to read.
    const c = t.begin("http");
    expect(t.expect(c, 10)).toBe("conflict");
    expect(t.discards).toBe(1);
    expect(t.read(0, 10)).toBeUndefined();
  });
});
