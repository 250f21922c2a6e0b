// Range arithmetic of the ServiceWorker's answers: every form of the Range header, good and bad.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { contentRangeLength, parseContentRange, parseRange, planResponse, resolveRange } from "../src/range.js";

const LEN = 1000;

describe("Range header", () => {
  it("absent: the whole file, 200", () => {
    expect(parseRange(null)).toEqual({ kind: "none" });
    expect(resolveRange(parseRange(null), LEN)).toEqual({ status: 200, start: 0, end: 999 });
  });

  it.each([
    ["bytes=0-", 0, 999],
    ["bytes=0-0", 0, 0],
    ["bytes=100-199", 100, 199],
    ["bytes=999-", 999, 999],
    ["bytes=500-5000", 500, 999], // the end is clipped to the file
    ["bytes=990-99999999999999999999", 990, 999], // beyond 2^53: still past the end
    ["bytes=-1", 999, 999],
    ["bytes=-100", 900, 999],
    ["bytes=-5000", 0, 999], // a suffix longer than the file: all of it
    ["BYTES=10-19", 10, 19], // the unit is case-insensitive
    ["bytes= 10-19 ", 10, 19],
    ["bytes=10-19,", 10, 19], // empty list elements are skipped
    ["bytes=,10-19", 10, 19],
    ["bytes=007-008", 7, 8],
  ])("%s -> 206 %i-%i", (h, start, end) => {
    expect(resolveRange(parseRange(h), LEN)).toEqual({ status: 206, start, end });
  });

  it.each(["bytes=1000-", "bytes=1000-1000", "bytes=5000-6000", "bytes=-0", "bytes=99999999999999999999-"])("%s -> 416", (h) => {
    expect(resolveRange(parseRange(h), LEN)).toEqual({ status: 416 });
  });

  it.each([
    ["", "no range unit"],
    ["bytes", "no range unit"],
    ["0-10", "no range unit"],
    ["items=0-10", "not bytes"],
    ["bytes=", "no range"],
    ["bytes=,", "no range"],
    ["bytes=-", "not a suffix length"],
    ["bytes=--5", "not first-last"],
    ["bytes=5", "not first-last"],
    ["bytes=a-b", "not first-last"],
    ["bytes=1-b", "not first-last"],
    ["bytes=0x10-20", "not first-last"],
    ["bytes=-5-", "not first-last"],
    ["bytes=1-2-3", "not first-last"],
    ["bytes=+1-2", "not first-last"],
    ["bytes=1.5-2", "not first-last"],
    ["bytes=1 0-20", "not first-last"],
    ["bytes=-1e3", "not a suffix length"],
    ["bytes=20-10", "ends before it starts"],
    ["bytes=0-1,5-6", "several ranges"],
    ["bytes=0-1, -5", "several ranges"],
  ])("%j is ignored (%s): 200, whole", (h, why) => {
    const r = parseRange(h);
    expect(r.kind).toBe("ignored");
    expect(r.kind === "ignored" && r.why).toContain(why);
    expect(resolveRange(r, LEN)).toEqual({ status: 200, start: 0, end: 999 });
  });

  it("an empty file: 200 with nothing, any range 416", () => {
    expect(resolveRange(parseRange(null), 0)).toEqual({ status: 200, start: 0, end: -1 });
    expect(resolveRange(parseRange("bytes=0-"), 0)).toEqual({ status: 416 });
    expect(resolveRange(parseRange("bytes=-5"), 0)).toEqual({ status: 416 });
  });

  it("any satisfiable answer lies within the file and is non-empty", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 1e9 }), (h, len) => {
        const a = resolveRange(parseRange(h), len);
        if (a.status === 416) return;
        if (len === 0) {
          expect(a).toEqual({ status: 200, start: 0, end: -1 });
          return;
        }
        expect(a.start).toBeGreaterThanOrEqual(0);
        expect(a.end).toBeLessThan(len);
        expect(a.end).toBeGreaterThanOrEqual(a.start);
      }),
    );
  });

  it("a well-formed range answers exactly what RFC 9110 says", () => {
    fc.assert(
      fc.property(fc.nat(5000), fc.option(fc.nat(5000)), fc.integer({ min: 1, max: 3000 }), (first, lastOpt, len) => {
        const last = lastOpt === null ? undefined : first + lastOpt;
        const a = resolveRange(parseRange(`bytes=${first}-${last ?? ""}`), len);
        if (first >= len) {
          expect(a).toEqual({ status: 416 });
          return;
        }
        expect(a).toEqual({ status: 206, start: first, end: Math.min(last ?? len - 1, len - 1) });
      }),
    );
  });
});

describe("response plan", () => {
  it("206 with Content-Range and the length of the part", () => {
    const p = planResponse("GET", "bytes=100-", LEN, "video/mp4");
    expect(p).toMatchObject({ status: 206, start: 100, end: 999, body: true });
    expect(p.headers).toMatchObject({ "Content-Range": "bytes 100-999/1000", "Content-Length": "900", "Content-Type": "video/mp4", "Accept-Ranges": "bytes" });
  });

  it("200 without Content-Range when there is no (usable) Range", () => {
    for (const h of [null, "bytes=0-1,4-5", "pages=1-2"]) {
      const p = planResponse("GET", h, LEN, "audio/mpeg");
      expect(p.status).toBe(200);
      expect(p.headers["Content-Range"]).toBeUndefined();
      expect(p.headers["Content-Length"]).toBe("1000");
    }
  });

  it("416 says the length and sends nothing", () => {
    const p = planResponse("GET", "bytes=1000-", LEN, "video/mp4");
    expect(p).toMatchObject({ status: 416, body: false });
    expect(p.headers["Content-Range"]).toBe("bytes */1000");
  });

  it("HEAD: GET's headers for the whole file, no body, Range ignored", () => {
    const p = planResponse("HEAD", "bytes=0-9", LEN, "video/webm");
    expect(p).toMatchObject({ status: 200, body: false });
    expect(p.headers["Content-Length"]).toBe("1000");
  });

  it("other methods: 405", () => {
    expect(planResponse("POST", null, LEN, "video/mp4")).toMatchObject({ status: 405, body: false, headers: { Allow: "GET, HEAD" } });
  });
});

describe("Content-Range", () => {
  it("reads the parts and the complete length", () => {
    expect(parseContentRange("bytes 0-524287/20000000")).toEqual({ first: 0, last: 524287, length: 20000000 });
    expect(parseContentRange("bytes */1000")).toEqual({ first: undefined, last: undefined, length: 1000 });
    expect(parseContentRange("bytes 0-9/*")).toEqual({ first: 0, last: 9, length: undefined });
    expect(contentRangeLength("bytes 0-9/*")).toBeUndefined();
    expect(contentRangeLength(null)).toBeUndefined();
    expect(contentRangeLength("items 0-9/10")).toBeUndefined();
    expect(contentRangeLength("bytes 0-9/10")).toBe(10);
  });
});
