// The tracker dies mid-play: playback goes on (HTTP is the safety net) without a stall, and
// when the tracker is back on the same address the engines reconnect and P2P resumes: a tab
// that joined during the outage finds its peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, startTracker, state, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const stack = sharedStack();

test('playback survives a tracker outage and P2P resumes after it', async () => {
  const src = '/live/hls-ts/index.m3u8';
  const a = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url);
  await sleep(1000);
  const b = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url);
  for (const p of [a, b]) {
    await waitForState(p, (s) => s.fatal || (s.currentTime > 0 && s.bytes?.p2pDown + s.bytes?.p2pUp > 0), { what: 'P2P under way', timeoutMs: 90_000 });
  }

  await stack.tracker.stop();
  for (const p of [a, b]) await waitForState(p, (s) => s.serverConnected === false, { what: 'tracker loss noticed' });
  const atLoss = await Promise.all([a, b].map(state));

  // During the outage a third viewer starts: HTTP only, it has nobody to meet.
  const c = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url);
  const cStart = (await waitForState(c, (s) => s.currentTime > 0 || s.fatal, { what: 'tab C playback' })).currentTime;
  await sleep(10_000);
  const during = await Promise.all([a, b, c].map(state));
  during.forEach((s, i) => {
    const msg = `tab ${'ABC'[i]} during outage: ${summary(s)}`;
    assert.equal(s.fatal, null, msg);
    assert.equal(s.rebuffers, i < 2 ? atLoss[i].rebuffers : 0, `no stall; ${msg}`);
    if (i < 2) assert.ok(s.currentTime >= atLoss[i].currentTime + 8, `kept playing; ${msg}`);
  });
  assert.ok(during[2].currentTime >= cStart + 8, `tab C played: ${summary(during[2])}`);
  assert.equal(during[2].bytes.p2pDown, 0, 'tab C had no peers while the tracker was down');

  stack.tracker = await startTracker({ port: stack.tracker.port });
  const resumed = await waitForState(c, (s) => s.fatal || (s.serverConnected && s.bytes.p2pDown + s.bytes.p2pUp > 0), {
    what: 'tab C reconnected and exchanging segments',
    timeoutMs: 90_000,
  });
  // Reconnect backoff is capped at 30 s.
  const later = await Promise.all([a, b].map((p) => waitForState(p, (s) => s.serverConnected || s.fatal, { what: 'reconnect', timeoutMs: 60_000 }).catch(() => state(p))));
  for (const p of [a, b, c]) await p.close();
  assert.equal(resumed.fatal, null, summary(resumed));
  assert.ok(resumed.peers.length >= 1, `tab C found peers: ${summary(resumed)}`);
  later.forEach((s, i) => {
    assert.equal(s.serverConnected, true, `tab ${'AB'[i]} reconnected: ${summary(s)}`);
    assert.equal(s.fatal, null, summary(s));
  });
});
