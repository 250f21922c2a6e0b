/**
 * When the element will need the piece it reads now. Piece times are estimates from byte
 * offsets (a long MP4's index, first, pushes them seconds past the real times), but an element
 * reads a file in order: what it reads next plays once what it holds ahead of its playhead has
 * played. Pure: reads the element, changes nothing.
 */

/** HTMLMediaElement.HAVE_FUTURE_DATA: data for the playhead and a little beyond. */
const HAVE_FUTURE_DATA = 3;

export type ElementState = Pick<HTMLMediaElement, "seeking" | "readyState" | "currentTime" | "playbackRate" | "paused" | "buffered">;

/**
 * Seconds until the element needs what it reads now: 0 with nothing to play at its playhead
 * (seeking, starting, stalled), the media buffered ahead of the playhead while it plays, and
 * undefined (no bound: the piece's own time says) while it is paused with frames to show.
 */
export function bufferedAheadS(media: ElementState): number | undefined {
  if (media.seeking || media.readyState < HAVE_FUTURE_DATA) return 0;
  if (media.paused) return undefined;
  const at = media.currentTime;
  const b = media.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= at && at < b.end(i)) return (b.end(i) - at) / Math.max(0.1, media.playbackRate || 1);
  }
  return 0;
}
