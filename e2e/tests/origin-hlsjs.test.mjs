// hls.js in real Chromium plays the test media from `swarmcast origin`, VOD and looping live.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mediaDir, startOrigin } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

let origin;
let ctx;
let shortDir;
before(async () => {
  // A 4-segment (8 s) copy of the TS stream, so the live loop wraps within the test.
  shortDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-short-'));
  const src = path.join(await mediaDir(), 'hls-ts');
  const vod = fs.readFileSync(path.join(src, 'index.m3u8'), 'utf8').split('\n');
  const head = vod.filter((l) => l.startsWith('#EXT') && !l.startsWith('#EXTINF') && l !== '#EXT-X-ENDLIST');
  const body = [];
  for (let i = 0; i < 4; i++) {
    const name = `seg_${String(i).padStart(3, '0')}.ts`;
    fs.copyFileSync(path.join(src, name), path.join(shortDir, name));
    body.push(vod[vod.indexOf(name) - 1], name);
  }
  fs.writeFileSync(path.join(shortDir, 'index.m3u8'), [...head, ...body, '#EXT-X-ENDLIST', ''].join('\n'));
  origin = await startOrigin({ mounts: { '/short': shortDir } });
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await origin?.stop();
  if (shortDir) fs.rmSync(shortDir, { recursive: true, force: true });
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

test('hls.js plays across the live loop discontinuity', async () => {
  const playlist = await (await fetch(`${origin.url}/live/short/index.m3u8`)).text();
  assert.match(playlist, /#EXT-X-DISCONTINUITY/, 'a 4-segment loop in a 10-segment window wraps');
  // 10 s of progress over an 8 s loop crosses at least one discontinuity.
  const state = await play('/live/short/index.m3u8');
  assert.equal(state.live, true);
});
