/** Pure mapping from hls.js playlists to engine segments (same ids as P2P Media Loader's). */
import type { SegmentInfo } from "@swarmcast/core";

export type HlsFragmentLike = {
  url: string;
  sn: number | "initSegment";
  start: number;
  duration: number;
  byteRange?: number[]; // [start, endExclusive] or []
};

/** Runtime key of a fragment request: URL plus byte range, as the loader sees it. */
export function runtimeKey(url: string, rangeStart?: number, rangeEnd?: number): string {
  return rangeStart !== undefined && rangeEnd !== undefined && rangeEnd > rangeStart ? `${url}|${rangeStart}-${rangeEnd}` : url;
}

/** hls.js's `[start, endExclusive]` as an inclusive range; anything else (`[]`, or not whole byte offsets) is no range. */
function byteRangeOf(r: number[] | undefined): { start: number; end: number } | undefined {
  if (r?.length !== 2) return undefined;
  const [start, end] = r as [number, number];
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end > start ? { start, end: end - 1 } : undefined;
}

/** Live segments are numbered by media sequence, VOD by position in the playlist (PML's rule). */
export function segmentsFromFragments(fragments: readonly HlsFragmentLike[], live: boolean): { segments: SegmentInfo[]; keys: string[] } {
  const segments: SegmentInfo[] = [];
  const keys: string[] = [];
  fragments.forEach((f, index) => {
    if (f.sn === "initSegment") return;
    const id = live ? f.sn : index;
    const br = byteRangeOf(f.byteRange);
    segments.push({ id, url: f.url, byteRange: br, startTime: f.start, endTime: f.start + f.duration });
    keys.push(runtimeKey(f.url, br?.start, br ? br.end + 1 : undefined));
  });
  return { segments, keys };
}
