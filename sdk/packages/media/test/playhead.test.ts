import { describe, expect, it } from "vitest";
import { bufferedAheadS, type ElementState } from "../src/playhead.js";

/** An element's state with `ranges` buffered (seconds), playing at `at`. */
function element(at: number, ranges: [number, number][], more: Partial<ElementState> = {}): ElementState {
  const buffered = { length: ranges.length, start: (i: number) => ranges[i]![0], end: (i: number) => ranges[i]![1] } as TimeRanges;
  return { seeking: false, readyState: 4, currentTime: at, playbackRate: 1, paused: false, buffered, ...more };
}

describe("bufferedAheadS", () => {
  it("is what the element holds past its playhead, in the range the playhead is in", () => {
    // The gap after 991.72 s is what the element reads next, whatever later ranges hold.
    expect(bufferedAheadS(element(990.5, [[0, 33], [990.17, 991.72], [997.49, 999.18]]))).toBeCloseTo(1.22, 5);
    expect(bufferedAheadS(element(10, [[0, 40]], { playbackRate: 2 }))).toBe(15);
  });

  it("is 0 with nothing to play at the playhead: seeking, starting or stalled, or outside every range", () => {
    expect(bufferedAheadS(element(5, [[0, 40]], { seeking: true }))).toBe(0);
    expect(bufferedAheadS(element(5, [[0, 40]], { readyState: 2 }))).toBe(0);
    expect(bufferedAheadS(element(5, [[0, 40]], { readyState: 1, paused: true }))).toBe(0);
    expect(bufferedAheadS(element(50, [[0, 40]]))).toBe(0);
    expect(bufferedAheadS(element(40, [[0, 40]]))).toBe(0);
  });

  it("sets no bound while paused with frames to show (the piece's own time says)", () => {
    expect(bufferedAheadS(element(5, [[0, 40]], { paused: true }))).toBeUndefined();
  });
});
