/**
 * Fetches and caches segment digest manifests (integrity.ts), one per manifest URL, for every
 * swarm of the engine. A live stream's manifest grows as segments appear: a segment it does not
 * list yet makes one refetch (at most one a second). A manifest that is not published (404, a
 * network or CORS error) or cannot be read is remembered as absent for a while; a site without
 * one loses one request per stream.
 */
import { expectedDigest, parseDigestManifest, type DigestManifest } from "./integrity.js";
import type { ByteRange } from "./http.js";
import type { Logger } from "./logger.js";

/** What is known of a segment's digest. */
export type DigestLookup =
  /** The site publishes no manifest here: nothing to check against. */
  | { kind: "none" }
  /** The manifest does not list the segment, even after a refetch. */
  | { kind: "unlisted" }
  | { kind: "digest"; sha256: string };

type Entry = { manifest?: DigestManifest; fetchedAt: number; pending?: Promise<void> };

/** A missing manifest is asked for again after this long. */
const ABSENT_RETRY_MS = 30_000;
/** A manifest that lacks a segment is refetched at most this often. */
const REFETCH_MS = 1_000;

export class DigestManifests {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly log: Logger,
    private readonly fetchJson: (url: string) => Promise<unknown> = defaultFetchJson,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(manifestUrl: string, segmentUrl: string, byteRange?: ByteRange): Promise<DigestLookup> {
    let entry = this.entries.get(manifestUrl);
    if (!entry || (!entry.manifest && this.now() - entry.fetchedAt > ABSENT_RETRY_MS)) {
      entry = await this.fetch(manifestUrl);
    } else if (entry.pending) {
      await entry.pending;
    }
    if (!entry.manifest) return { kind: "none" };
    let sha256 = expectedDigest(entry.manifest, segmentUrl, byteRange);
    if (sha256 === undefined && this.now() - entry.fetchedAt >= REFETCH_MS) {
      entry = await this.fetch(manifestUrl);
      if (!entry.manifest) return { kind: "none" };
      sha256 = expectedDigest(entry.manifest, segmentUrl, byteRange);
    }
    return sha256 === undefined ? { kind: "unlisted" } : { kind: "digest", sha256 };
  }

  /** Whether the manifest at this URL is known to exist (a fetch succeeded). */
  published(manifestUrl: string): boolean {
    return this.entries.get(manifestUrl)?.manifest !== undefined;
  }

  private async fetch(manifestUrl: string): Promise<Entry> {
    const current = this.entries.get(manifestUrl);
    if (current?.pending) {
      await current.pending;
      return this.entries.get(manifestUrl) as Entry;
    }
    const entry: Entry = { manifest: current?.manifest, fetchedAt: this.now() };
    entry.pending = (async () => {
      try {
        entry.manifest = parseDigestManifest(await this.fetchJson(manifestUrl));
      } catch (err) {
        if (current?.manifest === undefined) this.log.debug("no segment digests at", manifestUrl, String(err));
        else this.log.warn("segment digests at", manifestUrl, "could not be refreshed:", String(err));
      } finally {
        entry.fetchedAt = this.now();
        entry.pending = undefined;
      }
    })();
    this.entries.set(manifestUrl, entry);
    await entry.pending;
    return entry;
  }
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { cache: "no-cache" });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}
