// A peer that stops sending mid-segment: tab A plays the VOD stream and, once each data channel
// has carried 150 000 bytes, silently drops everything it sends (the connection stays up, like a
// peer whose uplink died). Tab B joins later and takes segments from A. B must give A up after
// a short silence, fetch the rest of the segment with an HTTP `Range` request from the byte it
// had, and play on without a stall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, state, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const stack = sharedStack();

test('a peer that stalls mid-segment is abandoned and the rest comes by HTTP Range', async (t) => {
  const src = '/hls-ts/index.m3u8';
  const stallAfter = 150_000;
  // Media requests with a Range header, per page, with the origin's answer.
  const ranged = [];
  stack.ctx.on('requestfinished', async (req) => {
    const range = req.headers().range;
    if (!range || !/\.ts$/.test(new URL(req.url()).pathname)) return;
    const res = await req.response().catch(() => null);
    ranged.push({ page: req.frame()?.page(), url: req.url(), range, status: res?.status() });
  });

  const a = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url, { params: { stallUploadAfter: String(stallAfter) } });
  // A gets well ahead, so it holds segments B will want beyond what B buffers at startup.
  await waitForState(a, (s) => s.fatal || s.currentTime >= 12, { what: 'tab A 12 s into the video', timeoutMs: 90_000 });
  const b = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url);
  const bStart = (await waitForState(b, (s) => s.fatal || s.currentTime > 0, { what: 'tab B playback' })).currentTime;

  // Bounded: B completes a segment from A's bytes plus HTTP, and then plays 10 s more.
  const rescued = await waitForState(b, (s) => s.fatal || s.sources.mixed > 0, { what: 'a segment finished by HTTP after the peer stalled', timeoutMs: 90_000 });
  const end = await waitForState(b, (s) => s.fatal || s.currentTime >= Math.max(bStart, rescued.currentTime) + 10, {
    what: 'tab B playing on',
    timeoutMs: 60_000,
  }).catch(() => state(b));
  const aState = await state(a);
  await sleep(200);
  const bRanges = ranged.filter((r) => r.page === b);
  await a.close();
  await b.close();

  t.diagnostic(`B: ${summary(end)}; B's ranged requests: ${bRanges.map((r) => `${r.url.split('/').pop()} ${r.range} ${r.status}`).join(', ')}`);
  assert.equal(end.fatal, null, `tab B: ${summary(end)}`);
  assert.ok(aState.droppedSends > 0, `tab A did stall its uploads: ${summary(aState)}`);
  assert.ok(end.bytes.p2pDown > 0, `B received bytes from A before the stall: ${summary(end)}`);
  assert.ok(end.sources.mixed >= 1, `a segment was completed by HTTP: ${summary(end)}`);
  // The rest of the segment, from the byte B had: a Range request that starts past 0, answered 206.
  const resumed = bRanges.filter((r) => /^bytes=[1-9]\d*-$/.test(r.range));
  assert.ok(resumed.length >= 1, `B resumed by HTTP Range: ${JSON.stringify(bRanges.map(({ url, range, status }) => ({ url, range, status })))}`);
  assert.ok(resumed.every((r) => r.status === 206), `the origin answered 206: ${JSON.stringify(resumed.map(({ range, status }) => ({ range, status })))}`);
  assert.ok(end.currentTime >= Math.max(bStart, rescued.currentTime) + 10, `B played on: ${summary(end)}`);
  assert.equal(end.rebuffers, 0, `no stall: ${summary(end)}`);
});
