/**
 * Property tests of the mapping from what hls.js parsed of a playlist to the engine's segments:
 * whatever the playlist said (any sequence numbers, times, byte ranges), one segment per media
 * fragment, ids as P2P Media Loader numbers them, and byte ranges that are inclusive and
 * non-empty, keyed as the loader will ask for them.
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { runtimeKey, segmentsFromFragments, type HlsFragmentLike } from "../src/segments.js";

// Thousands of runs: seconds on a busy 2-core machine, more than the default 5 s limit.
vi.setConfig({ testTimeout: 120_000 });

const number = fc.oneof(fc.integer(), fc.double());
const fragment: fc.Arbitrary<HlsFragmentLike> = fc.record(
  {
    url: fc.oneof(fc.webUrl(), fc.string()),
    sn: fc.oneof(fc.constant("initSegment" as const), fc.nat(), number),
    start: number,
    duration: number,
    byteRange: fc.oneof(fc.constant([]), fc.tuple(fc.nat(1e9), fc.nat(1e9)), fc.array(number, { maxLength: 3 })),
  },
  { requiredKeys: ["url", "sn", "start", "duration"] },
);

describe("property: hls.js fragments to segments", () => {
  it("one segment per media fragment, ids and ranges as the loader expects", () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 30 }), fc.boolean(), (fragments, live) => {
        const { segments, keys } = segmentsFromFragments(fragments, live);
        const media = fragments.map((f, index) => ({ f, index })).filter(({ f }) => f.sn !== "initSegment");
        expect(segments).toHaveLength(media.length);
        expect(keys).toHaveLength(media.length);
        media.forEach(({ f, index }, k) => {
          const s = segments[k]!;
          expect(s.id).toBe(live ? f.sn : index);
          expect(s.url).toBe(f.url);
          if (s.byteRange) {
            expect(s.byteRange.end).toBeGreaterThanOrEqual(s.byteRange.start);
            expect(keys[k]).toBe(runtimeKey(f.url, s.byteRange.start, s.byteRange.end + 1));
          } else {
            expect(keys[k]).toBe(f.url);
          }
        });
        // VOD ids are distinct positions; so are live ids whenever the sequence numbers are.
        const ids = segments.map((s) => s.id);
        if (!live || new Set(media.map(({ f }) => f.sn)).size === media.length) expect(new Set(ids).size).toBe(ids.length);
      }),
      { numRuns: 1000 },
    );
  });
});
