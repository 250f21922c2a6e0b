// hls.js in real Chromium plays the test media from `swarmcast origin`, VOD and looping live.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

let origin;
let ctx;
before(async () => {
  origin = await startOrigin();
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await origin?.stop();
});

async function play(src, { rate = 1 } = {}) {
  const page = await openPage(ctx, `${origin.url}/e2e/hlsjs.html?src=${encodeURIComponent(src)}&rate=${rate}`);
  const start = (await waitForState(page, (s) => s.currentTime > 0 || s.fatal, { what: 'playback start' })).currentTime;
  const state = await waitForState(page, (s) => s.currentTime >= start + 10 || s.fatal, {
    what: '10 s of media played',
    timeoutMs: 90_000,
  });
  await page.close();
  assert.equal(state.fatal, null, `fatal hls.js error; all errors: ${state.errors}`);
  assert.ok(state.currentTime >= start + 10, `played from ${start} to ${state.currentTime}`);
  return state;
}

test('hls.js plays the VOD MPEG-TS stream past 10 s', async () => {
  const state = await play('/hls-ts/index.m3u8', { rate: 4 });
  assert.equal(state.live, false);
  const served = await origin.stats('/hls-ts/');
  assert.ok(served.total.bytes > 1_000_000, `origin counted ${served.total.bytes} bytes`);
});

test('hls.js plays the looping live stream past 10 s of media', async () => {
  const state = await play('/live/hls-ts/index.m3u8');
  assert.equal(state.live, true);
  assert.ok(state.fragsLoaded >= 5, `loaded ${state.fragsLoaded} fragments`);
});

test('hls.js plays the live ABR ladder past 10 s of media', async () => {
  const state = await play('/live/hls-abr/master.m3u8');
  assert.equal(state.levels, 3);
  assert.equal(state.live, true);
});
