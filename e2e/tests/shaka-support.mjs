// Helpers shared by the Shaka browser tests (shaka-*.test.mjs): pages of our Shaka engine, of
// unmodified p2p-media-loader-shaka and of our hls.js engine played together until each has
// moved P2P bytes both ways, then every played segment checked against the origin.
import assert from 'node:assert/strict';
import { waitForState } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { sleep, state } from './sdk-support.mjs';

/** P2P bytes down and up of either page kind. */
export const p2p = (s) => (s.pml ? { down: s.p2pBytes, up: s.uploadedBytes } : { down: s.bytes?.p2pDown ?? 0, up: s.bytes?.p2pUp ?? 0 });

/** Share of the media bytes a page downloaded that came from peers. */
export function p2pShare(s) {
  const http = s.pml ? s.httpBytes : (s.bytes?.httpDown ?? 0);
  const down = p2p(s).down;
  return down + http ? Number((down / (down + http)).toFixed(2)) : 0;
}

export function summary(s) {
  return JSON.stringify({
    t: Number(s.currentTime.toFixed(1)), fatal: s.fatal, p2p: p2p(s), share: p2pShare(s), peers: s.peers?.length ?? s.peersConnected,
    sources: s.sources, heights: s.heights, errors: s.errors.slice(-5), exceptions: s.exceptions?.slice(-5),
  });
}

/**
 * Plays the pages until each played `seconds` of media and moved P2P bytes both ways (bounded),
 * then checks every played segment against the origin. `extra(states)` may ask for more;
 * `ways[i]` lists the directions page i must have moved bytes in (default both).
 */
export async function playTogether(pages, { seconds = 10, extra = () => true, ways = [] } = {}) {
  const need = (i) => ways[i] ?? ['down', 'up'];
  const starts = [];
  for (const p of pages) {
    starts.push((await waitForState(p, (s) => s.currentTime > 0 || s.fatal, { what: 'playback start' })).currentTime);
  }
  const checker = new PlayedChecker();
  const done = (s, i) => s.fatal || (s.currentTime >= starts[i] + seconds && need(i).every((w) => p2p(s)[w] > 0));
  const deadline = Date.now() + 120_000;
  let states;
  while (Date.now() < deadline) {
    states = await Promise.all(pages.map(state));
    for (const [i, p] of pages.entries()) await checker.add(`tab ${'ABC'[i]}`, await drainPlayed(p));
    if (states.every(done) && extra(states)) break;
    await sleep(500);
  }
  for (const p of pages) await p.close();
  const all = states.map((s, i) => `tab ${'ABC'[i]}: ${summary(s)}`).join('; ');
  console.log(`played together: ${all}`);
  states.forEach((s, i) => {
    const tab = `tab ${'ABC'[i]} (${all})`;
    assert.equal(s.fatal, null, tab);
    assert.ok(s.currentTime >= starts[i] + seconds, `played ${seconds} s; ${tab}`);
    if (need(i).includes('down')) assert.ok(p2p(s).down > 0, `downloaded from a peer; ${tab}`);
    if (need(i).includes('up')) assert.ok(p2p(s).up > 0, `uploaded to a peer; ${tab}`);
  });
  assert.ok(checker.checked > 0, checker.summary());
  assert.deepEqual(checker.mismatches, [], checker.summary());
  assert.deepEqual(checker.errors, [], `Shaka errors: ${checker.summary()}`);
  return states;
}
