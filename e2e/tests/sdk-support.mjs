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
