// Helpers shared by the P2PEngineMedia browser tests (media-*.test.mjs) and bench/media.
import { openPage, waitForState } from '../lib/browser.mjs';
import { PlayedChecker } from '../lib/played.mjs';

export { sleep, state } from './sdk-support.mjs';

/** Opens e2e/pages/media.html playing `src` (a path on the origin, or a URL) with `params`. */
export async function openMedia(ctx, origin, src, params = {}) {
  const q = new URLSearchParams({ src, log: 'warn', ...params });
  return openPage(ctx, `${origin.url}/e2e/media.html?${q}`);
}

/** Waits until the page's element has played `seconds` of media (or failed). */
export function playedAtLeast(page, seconds, what = `${seconds} s played`) {
  return waitForState(page, (s) => s.currentTime >= seconds || s.errors.length > 0, { what, timeoutMs: 120_000 });
}

/**
 * Checks what the ServiceWorker answered each tab's media element with (every part of every
 * piece, with its SHA-256) against the origin's bytes at the same range. Returns the checker.
 */
export async function checkServed(pages) {
  const checker = new PlayedChecker();
  for (const [i, page] of pages.entries()) {
    const drained = await page.evaluate(() => {
      const p = window.__played;
      const out = { records: p.records.map((r) => ({ ...r, sn: `${r.range[0]}` })), errors: p.errors };
      p.records = [];
      p.errors = [];
      return out;
    });
    await checker.add(`tab ${i}`, drained);
  }
  return checker;
}

/** A short summary of a media page's state for assertion messages. */
export function mediaSummary(s) {
  return JSON.stringify({
    t: Number((s.currentTime ?? 0).toFixed(1)), proxied: s.proxied, peers: s.peers?.length, bytes: s.bytes && {
      http: s.bytes.httpDown, p2pDown: s.bytes.p2pDown, p2pUp: s.bytes.p2pUp, bad: s.bytes.badSegments, banned: s.bytes.banned,
    }, sources: s.sources, stalls: s.stalls, rebuffers: s.rebuffers, errors: s.errors.slice(-3), exceptions: s.exceptionMessages?.slice(-3),
  });
}
