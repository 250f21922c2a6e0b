// Checks what players were handed (e2e/pages/played.js) against the origin's bytes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

/** Takes the records and errors a page collected since the last call, once their digests are done. */
export async function drainPlayed(page) {
  for (let i = 0; i < 40; i++) {
    const pending = await page.evaluate(() => window.__played?.pending ?? 0);
    if (!pending) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return page.evaluate(() => {
    const p = window.__played;
    if (!p) return { records: [], errors: [] };
    const records = p.records.filter((r) => r.sha256);
    p.records = p.records.filter((r) => !r.sha256);
    const errors = p.errors;
    p.errors = [];
    return { records, errors };
  });
}

/**
 * Compares played fragments with what the origin serves for the same URL (and byte range), by
 * SHA-256. The origin's answers are cached by URL, so a live URL is fetched once.
 */
export class PlayedChecker {
  constructor() {
    this.expected = new Map();
    this.checked = 0;
    this.bytes = 0;
    this.mismatches = [];
    this.errors = [];
  }

  async originDigest(url, range) {
    const key = range ? `${url}|${range[0]}-${range[1]}` : url;
    let d = this.expected.get(key);
    if (!d) {
      d = (async () => {
        const res = await fetch(url, range ? { headers: { Range: `bytes=${range[0]}-${range[1]}` } } : {});
        if (!res.ok) throw new Error(`origin answered ${res.status} for ${key}`);
        const body = Buffer.from(await res.arrayBuffer());
        return { sha256: crypto.createHash('sha256').update(body).digest('hex'), bytes: body.length };
      })();
      this.expected.set(key, d);
    }
    return d;
  }

  /** Adds one tab's drained records and errors; `tab` names it in reports. */
  async add(tab, { records, errors }) {
    for (const r of records) {
      const want = await this.originDigest(r.url, r.range);
      this.checked++;
      this.bytes += r.bytes;
      if (want.sha256 !== r.sha256) {
        this.mismatches.push({ tab, sn: r.sn, url: r.url, bytes: r.bytes, originBytes: want.bytes });
      }
    }
    for (const e of errors) this.errors.push({ tab, ...e });
  }

  /**
   * hls.js errors about the media itself (parsing, decoding, appending, ...), not network
   * hiccups and not hls.js's own handling of playback stalls (nudging the playhead, or jumping
   * a gap at the start of a live stream), which say nothing about the bytes. Every Shaka Player
   * error counts (`type: 'shakaError'`).
   */
  mediaErrors() {
    const stallHandling = new Set(['bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole']);
    return this.errors.filter(
      (e) =>
        e.type === 'shakaError' ||
        (e.type === 'mediaError' && !stallHandling.has(e.details)) ||
        /pars|decod|append/i.test(e.details),
    );
  }

  summary() {
    return `${this.checked} fragments (${(this.bytes / 1e6).toFixed(1)} MB) checked, ${this.mismatches.length} differ from the origin, ${this.mediaErrors().length} media errors`;
  }
}

/** Every fragment a player was handed is the origin's, some were checked, no media error. */
export function assertPlayedOrigin(checker) {
  assert.ok(checker.checked > 0, `fragments were checked: ${checker.summary()}`);
  assert.deepEqual(checker.mismatches, [], `every played fragment is the origin's: ${checker.summary()}`);
  assert.deepEqual(checker.mediaErrors(), [], checker.summary());
}
