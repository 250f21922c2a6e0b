// Two Chromium tabs running unmodified P2P Media Loader 2.3.1 with hls.js find each other
// through `swarmcast tracker` alone and move segment bytes peer to peer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

let origin;
let tracker;
let trackerUrl;
let ctx;
before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  trackerUrl = tracker.url;
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await tracker?.stop();
  await origin?.stop();
});

test('two P2P Media Loader tabs connect through our tracker and share segments', async () => {
  const src = '/hls-ts/index.m3u8';
  const page = (rate) =>
    `${origin.url}/e2e/pml-hlsjs.html?src=${encodeURIComponent(src)}&rate=${rate}&tracker=${encodeURIComponent(trackerUrl)}`;
  // The first tab plays ahead, so it holds segments the second one will want later than its
  // 15 s high-demand window (which P2P Media Loader always loads over HTTP first).
  const first = await openPage(ctx, page(4));
  await waitForState(first, (s) => s.currentTime >= 30 || s.fatal, { what: 'first tab at 30 s', timeoutMs: 90_000 });
  const second = await openPage(ctx, page(1));
  const state = await waitForState(second, (s) => s.p2pBytes > 0 || s.fatal, {
    what: 'bytes over P2P in the second tab',
    timeoutMs: 90_000,
  });
  const firstState = await first.evaluate(() => window.__state);
  assert.equal(state.fatal, null, `second tab errors: ${state.errors}`);
  assert.ok(state.peersConnected >= 1, 'the second tab connected to a peer');
  assert.ok(firstState.peersConnected >= 1, 'the first tab connected to a peer');
  assert.ok(state.p2pBytes > 0, `P2P bytes in the second tab: ${state.p2pBytes}`);
  assert.ok(firstState.uploadedBytes > 0, `the first tab uploaded ${firstState.uploadedBytes} bytes`);
  assert.deepEqual(state.trackerErrors, []);

  // The tracker saw one swarm with both peers, and relayed offers and answers.
  const base = trackerUrl.replace('ws://', 'http://');
  const channels = await (await fetch(`${base}/channels`)).json();
  assert.equal(channels.channels[0].peers, 2, JSON.stringify(channels));
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const count = (type) => Number(metrics.match(new RegExp(`tracker_messages_out_total\\{type="${type}"\\} (\\d+)`))[1]);
  assert.ok(count('offer') >= 1 && count('answer') >= 1, metrics);
  await first.close();
  await second.close();
});
