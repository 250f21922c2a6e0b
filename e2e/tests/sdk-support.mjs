// Helpers shared by the SDK browser tests (sdk-*.test.mjs) and the swarm benchmark.
export { startTracker } from '../lib/servers.mjs';
import { openPage } from '../lib/browser.mjs';

/** Opens the SDK page (or the P2P Media Loader page with `pml: true`) playing `src`. */
export async function openPlayer(ctx, origin, src, tracker, { pml = false, params = {} } = {}) {
  const q = new URLSearchParams({ src, tracker, log: 'warn', ...params });
  return openPage(ctx, `${origin.url}/e2e/${pml ? 'sdk-pml' : 'sdk-hlsjs'}.html?${q}`);
}

export const state = (page) => page.evaluate(() => window.__state);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A short human summary of a page's state for assertion messages. */
export function summary(s) {
  return JSON.stringify({
    t: Number(s.currentTime.toFixed(1)), fatal: s.fatal, peers: s.peers?.length, bytes: s.bytes,
    sources: s.sources, rebuffers: s.rebuffers, errors: s.errors.slice(-5), exceptions: s.exceptions?.slice(-5),
  });
}

/** A stream's bitrate, bits per second, from its first ten segments' sizes and durations. */
export async function streamBitrate(origin, playlistPath) {
  const url = `${origin.url}${playlistPath}`;
  const text = await (await fetch(url)).text();
  const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
  const files = text.split('\n').filter((l) => l && !l.startsWith('#'));
  let bytes = 0;
  for (const f of files.slice(0, 10)) bytes += (await (await fetch(new URL(f, url))).arrayBuffer()).byteLength;
  return (8 * bytes) / durations.slice(0, 10).reduce((a, b) => a + b, 0);
}
