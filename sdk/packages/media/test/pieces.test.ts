// Piece mapping: which pieces a byte span needs, piece ranges, piece times, the file's swarm id.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { streamShortId } from "@swarmcast/core";
import { DEFAULT_PIECE_LENGTH, fileShortId, pieceCount, pieceRange, pieceSegments, slicesOf } from "../src/pieces.js";
import { parseProxiedUrl, proxiedUrl } from "../src/link.js";
import { classify, typeFromName } from "../src/probe.js";

const PL = 100;

describe("pieces", () => {
  it("ranges: every piece full but the last", () => {
    expect(pieceCount(1000, PL)).toBe(10);
    expect(pieceCount(1001, PL)).toBe(11);
    expect(pieceCount(0, PL)).toBe(0);
    expect(pieceRange(0, 1001, PL)).toEqual({ start: 0, end: 99 });
    expect(pieceRange(10, 1001, PL)).toEqual({ start: 1000, end: 1000 });
  });

  it("a span inside one piece", () => {
    expect(slicesOf(120, 150, PL)).toEqual([{ index: 1, from: 20, to: 51 }]);
  });

  it("a span across pieces, boundaries included", () => {
    expect(slicesOf(99, 200, PL)).toEqual([
      { index: 0, from: 99, to: 100 },
      { index: 1, from: 0, to: 100 },
      { index: 2, from: 0, to: 1 },
    ]);
    expect(slicesOf(100, 199, PL)).toEqual([{ index: 1, from: 0, to: 100 }]);
  });

  it("slices cover the span exactly, in order, each within its piece", () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(20_000), fc.integer({ min: 64, max: 5000 }), (a, n, pl) => {
        const slices = slicesOf(a, a + n, pl);
        let pos = a;
        for (const s of slices) {
          expect(s.index * pl + s.from).toBe(pos);
          expect(s.from).toBeGreaterThanOrEqual(0);
          expect(s.to).toBeGreaterThan(s.from);
          expect(s.to).toBeLessThanOrEqual(pl);
          pos = s.index * pl + s.to;
        }
        expect(pos).toBe(a + n + 1);
      }),
    );
  });

  it("segments: one per piece, times by byte share of the duration", () => {
    const segs = pieceSegments("http://o/v.mp4", 1000, 250, 40);
    expect(segs.map((s) => s.id)).toEqual([0, 1, 2, 3]);
    expect(segs[1]).toEqual({ id: 1, url: "http://o/v.mp4", byteRange: { start: 250, end: 499 }, startTime: 10, endTime: 20, version: "1000" });
    // Without a duration every piece is due at once.
    expect(pieceSegments("http://o/v.mp4", 1000, 250).every((s) => s.startTime === 0 && s.endTime === 0)).toBe(true);
    expect(pieceSegments("http://o/v.mp4", 1000, 250, Infinity)[3]?.endTime).toBe(0);
  });

  it("a file's swarm is a property-less main stream; another piece length another swarm", () => {
    expect(fileShortId(DEFAULT_PIECE_LENGTH)).toBe(streamShortId({ bitrate: 0 }));
    expect(fileShortId(1 << 20)).not.toBe(fileShortId(DEFAULT_PIECE_LENGTH));
  });
});

describe("proxied URLs", () => {
  it("carry the file, its length and type, and the engine; other URLs are not ours", () => {
    const f = { url: "https://cdn.example/v/a b.mp4?token=1&x=2", length: 123456, type: "video/mp4", engine: "e1" };
    const u = proxiedUrl("https://site.example/app/", f);
    expect(u.startsWith("https://site.example/app/swarmcast-media/a%2520b.mp4?")).toBe(true);
    expect(parseProxiedUrl(u)).toEqual(f);
    expect(parseProxiedUrl("https://site.example/app/video.mp4")).toBeUndefined();
    expect(parseProxiedUrl("https://site.example/swarmcast-media/x?src=nope&len=1&e=a")).toBeUndefined();
    expect(parseProxiedUrl("https://site.example/swarmcast-media/x?src=http://o/a&len=-1&e=a")).toBeUndefined();
  });

  it("leave out length and type when the page does not know them yet", () => {
    const f = { url: "https://cdn.example/a.mp4", engine: "e1" };
    const u = proxiedUrl("https://site.example/", f);
    expect(u).not.toContain("len=");
    expect(parseProxiedUrl(u)).toEqual(f);
    expect(parseProxiedUrl(u + "&len=x")).toBeUndefined();
  });
});

describe("probe", () => {
  const h = (m: Record<string, string>) => (name: string) => m[name] ?? null;
  it("a media file with a length is proxied", () => {
    expect(classify("http://o/a.mp4", 200, h({ "Content-Type": "video/mp4", "Content-Length": "100" }))).toEqual({ ok: true, length: 100, type: "video/mp4" });
    expect(classify("http://o/a.mp3", 206, h({ "Content-Type": "audio/mpeg", "Content-Range": "bytes 0-0/500" }))).toEqual({ ok: true, length: 500, type: "audio/mpeg" });
    expect(classify("http://o/a.webm", 200, h({ "Content-Type": "application/octet-stream", "Content-Length": "9" }))).toEqual({ ok: true, length: 9, type: "video/webm" });
  });
  it("missing, not media, no length, no ranges: played from its own URL", () => {
    expect(classify("http://o/a.mp4", 404, h({}))).toMatchObject({ ok: false, code: "HTTP_EXPT" });
    expect(classify("http://o/a.html", 200, h({ "Content-Type": "text/html", "Content-Length": "9" }))).toMatchObject({ ok: false, code: "MEDIA_EXPT" });
    expect(classify("http://o/i.m3u8", 200, h({ "Content-Type": "application/vnd.apple.mpegurl", "Content-Length": "9" }))).toMatchObject({ ok: false, code: "MEDIA_EXPT" });
    const noLength = classify("http://o/a.mp4", 200, h({ "Content-Type": "video/mp4" }));
    expect(noLength.ok || noLength.code).toBe(undefined); // not an error: just not shared
    expect(classify("http://o/a.mp4", 200, h({ "Content-Type": "video/mp4", "Content-Length": "9", "Content-Encoding": "gzip" }))).toMatchObject({ ok: false });
    expect(classify("http://o/a.mp4", 200, h({ "Content-Type": "video/mp4", "Content-Length": "9", "Accept-Ranges": "none" }))).toMatchObject({ ok: false });
  });
  it("types from file names", () => {
    expect(typeFromName("http://o/x/y.MP3?z=.mp4")).toBe("audio/mpeg");
    expect(typeFromName("http://o/x/y")).toBeUndefined();
  });
});
