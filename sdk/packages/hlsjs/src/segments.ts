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

/** Live segments are numbered by media sequence, VOD by position in the playlist (PML's rule). */
export function segmentsFromFragments(fragments: readonly HlsFragmentLike[], live: boolean): { segments: SegmentInfo[]; keys: string[] } {
  const segments: SegmentInfo[] = [];
  const keys: string[] = [];
  fragments.forEach((f, index) => {
    if (f.sn === "initSegment") return;
    const id = live ? f.sn : index;
    const br = f.byteRange && f.byteRange.length === 2 && (f.byteRange[1] as number) > (f.byteRange[0] as number) ? { start: f.byteRange[0] as number, end: (f.byteRange[1] as number) - 1 } : undefined;
    segments.push({ id, url: f.url, byteRange: br, startTime: f.start, endTime: f.start + f.duration });
    keys.push(runtimeKey(f.url, br?.start, br ? br.end + 1 : undefined));
  });
  return { segments, keys };
}
