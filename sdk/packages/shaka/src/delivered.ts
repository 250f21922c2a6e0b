/**
 * The segments the engine handed to Shaka lately, by URI, so that a media error Shaka raises
 * while appending one (its data names the segment's URI) can be counted against where that
 * segment came from (`P2PEngine.reportPlaybackError`).
 */
export type Delivered = { stream: string; id: number };

export class DeliveredSegments {
  private readonly byUri = new Map<string, Delivered>();

  constructor(private readonly limit = 256) {}

  add(uri: string, stream: string, id: number): void {
    this.byUri.delete(uri); // the newest delivery of a URI wins, and moves to the end
    this.byUri.set(uri, { stream, id });
    if (this.byUri.size > this.limit) this.byUri.delete(this.byUri.keys().next().value as string);
  }

  /** The delivered segment a Shaka error's data names, if any. */
  namedBy(data: readonly unknown[] | undefined): Delivered | undefined {
    for (const item of data ?? []) {
      if (typeof item === "string" && this.byUri.has(item)) return this.byUri.get(item);
    }
    return undefined;
  }
}
