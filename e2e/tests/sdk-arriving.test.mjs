// A segment passed on while it is still arriving (the SDK's `relay`). Two tabs watch the live
// stream with their HTTP downloads slowed by Chromium's network emulation to twice the stream's
// bitrate, so that each new segment takes seconds to come from the origin; their data channels
// are not slowed. The tab that fetches a segment announces it once its first bytes are in and
// serves the other tab its bytes as they come. Both must play the origin's bytes with no fatal
// error, and bytes must have gone from one tab to the other before the sender held them whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPlayedOrigin, drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, state, streamBitrate, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const LIVE = '/live/hls-ts/index.m3u8';
const stack = sharedStack();

/** Slows the page's HTTP downloads (not its WebRTC) to `bytesPerSecond`. */
async function slowHttp(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: bytesPerSecond, uploadThroughput: -1 });
}

for (const relay of [true, false]) {
  test(`live segments ${relay ? 'are relayed while still arriving' : 'are offered only once whole with relay off'}, and play as the origin's`, async (t) => {
    const rate = Math.round((2 * (await streamBitrate(stack.origin, '/hls-ts/index.m3u8'))) / 8);
    const params = { cfg: JSON.stringify({ relay }) };
    const tabs = [];
    for (let i = 0; i < 2; i++) {
      const page = await openPlayer(stack.ctx, stack.origin, LIVE, stack.tracker.url, { params });
      await slowHttp(page, rate);
      tabs.push(page);
      await sleep(1000);
    }
    const starts = [];
    for (const p of tabs) starts.push((await waitForState(p, (s) => s.fatal || s.currentTime > 0, { what: 'playback start', timeoutMs: 60_000 })).currentTime);
    // Bounded: 24 s of play on both, and (with relay) bytes relayed by one of them.
    const relayed = (ss) => ss.reduce((n, s) => n + (s.bytes?.relayedUp ?? 0), 0);
    const deadline = Date.now() + 120_000;
    let states = await Promise.all(tabs.map(state));
    while (Date.now() < deadline) {
      const played = states.every((s, i) => s.fatal || s.currentTime >= starts[i] + 24);
      if (played && (!relay || relayed(states) > 0)) break;
      await sleep(1000);
      states = await Promise.all(tabs.map(state));
    }
    const checker = new PlayedChecker();
    for (const [i, p] of tabs.entries()) await checker.add(`tab ${'AB'[i]}`, await drainPlayed(p));
    for (const p of tabs) await p.close();

    t.diagnostic(`HTTP slowed to ${Math.round((8 * rate) / 1000)} kbit/s; relayed ${relayed(states)} bytes; ${states.map(summary).join(' ')}`);
    for (const [i, s] of states.entries()) {
      assert.equal(s.fatal, null, summary(s));
      assert.ok(s.currentTime >= starts[i] + 24, `played 24 s: ${summary(s)}`);
      assert.equal(s.bytes.badSegments, 0, `every segment from peers matched the published digests: ${summary(s)}`);
    }
    assert.ok(states.some((s) => s.bytes.p2pDown > 0), `a tab took bytes from the other: ${states.map(summary).join(' ')}`);
    if (relay) assert.ok(relayed(states) > 0, `bytes went to a peer before the sender held the segment whole: ${states.map(summary).join(' ')}`);
    else assert.equal(relayed(states), 0);
    assertPlayedOrigin(checker);
  });
}
