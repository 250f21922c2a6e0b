import { describe, expect, it } from "vitest";
import { runtimeKey, segmentsFromFragments } from "../src/segments.js";

const frags = [
  { url: "http://o/v/a.ts", sn: 10, start: 20, duration: 2 },
  { url: "http://o/v/b.ts", sn: 11, start: 22, duration: 2 },
  { url: "http://o/v/all.mp4", sn: 12, start: 24, duration: 2, byteRange: [1000, 2000] },
];

describe("hls.js fragments to segments", () => {
  it("live ids are media sequence numbers", () => {
    const { segments } = segmentsFromFragments(frags, true);
    expect(segments.map((s) => s.id)).toEqual([10, 11, 12]);
  });
  it("VOD ids are playlist positions", () => {
    const { segments } = segmentsFromFragments(frags, false);
    expect(segments.map((s) => s.id)).toEqual([0, 1, 2]);
    expect(segments[0]).toEqual({ id: 0, url: "http://o/v/a.ts", byteRange: undefined, startTime: 20, endTime: 22 });
  });
  it("byte ranges become inclusive ranges and keyed like the loader's context", () => {
    const { segments, keys } = segmentsFromFragments(frags, false);
    expect(segments[2]!.byteRange).toEqual({ start: 1000, end: 1999 });
    expect(keys[2]).toBe(runtimeKey("http://o/v/all.mp4", 1000, 2000));
    expect(keys[0]).toBe("http://o/v/a.ts");
  });
  it("a byte range that is not whole byte offsets is no range (found by the property test)", () => {
    for (const byteRange of [[0, 5e-324], [10.5, 20], [-4, 8], [NaN, 3]]) {
      const { segments, keys } = segmentsFromFragments([{ url: "http://o/v/all.mp4", sn: 1, start: 0, duration: 2, byteRange }], false);
      expect(segments[0]!.byteRange).toBeUndefined();
      expect(keys[0]).toBe("http://o/v/all.mp4");
    }
  });
  it("init segments are left to HTTP", () => {
    expect(segmentsFromFragments([{ url: "i.mp4", sn: "initSegment", start: 0, duration: 0 }], false).segments).toEqual([]);
  });
});
