// A super peer seeded while viewers already watch reaches them at once: the worker announces
// with offers of its own, so the tabs do not wait for their next announce (the tracker's
// default interval, 120 s) to meet it. With the default interval, the two tabs watching before
// POST /seed take bytes from the worker soon after it joins the swarm.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { openPlayer, sleep, state } from './sdk-support.mjs';

let origin;
let tracker;
let master;
let ctx;

before(async () => {
  origin = await startOrigin({ liveWindow: 10 });
  tracker = await startTracker(); // default announce interval: 120 s
  master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 250 });
  ctx = await launchBrowser();
});

after(async () => {
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});

test('viewers watching before the seed get bytes from the new worker within seconds', { timeout: 180_000 }, async (t) => {
  const src = `${origin.url}/live/hls-ts/index.m3u8`;
  const tabs = [await openPlayer(ctx, origin, src, tracker.url), await openPlayer(ctx, origin, src, tracker.url)];
  // Both tabs play and have announced (and met each other) before the seed.
  for (let i = 0; i < 60; i++) {
    const s = await Promise.all(tabs.map(state));
    if (s.every((x) => x.currentTime > 4 && x.peers.length >= 1)) break;
    await sleep(500);
  }
  const seededAt = Date.now();
  const seeded = await master.call('POST', '/seed', { list: [{ channel: Buffer.from(src).toString('base64url'), live: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.peerId && w.signal, 120);
  const joinedAt = Date.now();
  let reached = [];
  let s;
  // Waits up to 60 s: half the tracker's interval, so only the worker's own offers can do it.
  for (let i = 0; i < 240 && reached.length < tabs.length; i++) {
    s = await Promise.all(tabs.map(state));
    reached = s.filter((x) => (x.peerInfo ?? []).some((p) => p.peerId === worker.peerId && p.bytesDown > 0));
    await sleep(250);
  }
  const reachedAt = Date.now();
  t.diagnostic(`worker ${worker.peerId} joined the tracker ${((joinedAt - seededAt) / 1000).toFixed(1)} s after the seed; both tabs had bytes from it ${((reachedAt - seededAt) / 1000).toFixed(1)} s after the seed`);
  assert.equal(reached.length, tabs.length, `every tab took bytes from the worker: ${JSON.stringify(s.map((x) => x.peerInfo))}`);
  const stats = (await master.call('GET', `/stats/${pid}`)).body;
  assert.ok(stats.peers >= 2, JSON.stringify(stats));
});
