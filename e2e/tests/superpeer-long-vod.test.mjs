// A 20-minute VOD (600 segments, `vod-20min` of `swarmcast media`) seeded by a super peer to
// two tabs of our SDK that seek across all of it, in opposite orders. Every seek plays on, what
// the players were handed is the origin's bytes, and the worker, which fetches what viewers
// are at and a few segments ahead, serves them over P2P all along the timeline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { openPlayer, sleep, state, summary } from './sdk-support.mjs';

const POSITIONS = [0, 130, 260, 390, 520, 650, 780, 910, 1040, 1170];

let origin;
let tracker;
let master;
let ctx;

before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 500 });
  ctx = await launchBrowser();
});

after(async () => {
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});

/** Bytes a tab took from one peer so far. */
const bytesFrom = (s, peerId) => (s.peerInfo ?? []).filter((p) => p.peerId === peerId).reduce((a, p) => a + p.bytesDown, 0);

/** Seeks a tab to `pos` and waits until it has played 4 s past it; returns its state. */
async function seekAndPlay(tab, pos) {
  await tab.evaluate((p) => { document.getElementById('video').currentTime = p; }, pos);
  let s;
  for (let i = 0; i < 120; i++) {
    s = await state(tab);
    if (s.fatal || (s.currentTime >= pos + 4 && s.currentTime < pos + 60)) return s;
    await sleep(250);
  }
  assert.fail(`the tab did not play on after a seek to ${pos} s: ${summary(s)}`);
}

test('two viewers seek across a 20-minute VOD seeded by a super peer', { timeout: 400_000 }, async (t) => {
  const src = `${origin.url}/vod-20min/index.m3u8`;
  const playlist = await (await fetch(src)).text();
  const segments = playlist.split('\n').filter((l) => l.endsWith('.ts')).length;
  assert.ok(segments >= 600, `the VOD has ${segments} segments`);

  const seeded = await master.call('POST', '/seed', { list: [{ channel: Buffer.from(src).toString('base64url'), live: false }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.peerId && w.signal, 120);
  assert.ok(worker.signal, JSON.stringify(worker));

  const tabs = [await openPlayer(ctx, origin, src, tracker.url), await openPlayer(ctx, origin, src, tracker.url)];
  const orders = [POSITIONS, [...POSITIONS].reverse()];
  const checker = new PlayedChecker();
  const fromWorker = tabs.map(() => []); // per tab: positions after which it had new worker bytes
  const playedSn = new Set();
  for (let step = 0; step < POSITIONS.length; step++) {
    for (const [i, tab] of tabs.entries()) {
      const before = bytesFrom(await state(tab), worker.peerId);
      const s = await seekAndPlay(tab, orders[i][step]);
      assert.equal(s.fatal, null, `tab ${i} at ${orders[i][step]} s: ${summary(s)}`);
      if (bytesFrom(s, worker.peerId) > before) fromWorker[i].push(orders[i][step]);
      const played = await drainPlayed(tab);
      for (const r of played.records) playedSn.add(Math.round(r.sn));
      await checker.add(`tab ${i}`, played);
    }
  }
  await sleep(3000);
  for (const [i, tab] of tabs.entries()) await checker.add(`tab ${i}`, await drainPlayed(tab));
  const states = await Promise.all(tabs.map(state));
  const stats = (await master.call('GET', `/stats/${pid}`)).body;
  t.diagnostic(`played: ${checker.summary()}; segments played ${playedSn.size}, sn ${Math.min(...playedSn)}..${Math.max(...playedSn)}`);
  t.diagnostic(`worker bytes after the seeks to ${JSON.stringify(fromWorker)}; worker: segments ${stats.segments}, uploaded ${stats.uploadedKB} KiB, from origin ${stats.originKB} KiB`);
  t.diagnostic(states.map((s, i) => `tab ${i}: ${summary(s)}`).join('\n'));

  assert.deepEqual(checker.mismatches, [], 'every played fragment is the origin\'s');
  assert.deepEqual(checker.mediaErrors(), [], 'no media errors');
  assert.ok(Math.min(...playedSn) <= 2 && Math.max(...playedSn) >= 580, `played across the VOD: ${Math.min(...playedSn)}..${Math.max(...playedSn)}`);
  // The worker served both viewers, and served them all along the VOD: its bytes reached a
  // tab after seeks to the start, the middle and the end. (Which tab gets them depends on who
  // was there first: a tab that follows the other takes segments from it too.)
  for (const [i, s] of states.entries()) assert.ok(bytesFrom(s, worker.peerId) > 0, `tab ${i} took bytes from the worker`);
  const served = new Set(fromWorker.flat());
  assert.ok(served.size >= 0.8 * POSITIONS.length, `worker bytes after seeks to only ${[...served]}`);
  assert.ok([...served].some((p) => p <= 260) && [...served].some((p) => p >= 520 && p <= 780) && [...served].some((p) => p >= 1040), `worker bytes at the start, middle and end: ${[...served]}`);
  assert.ok(stats.segments >= 20, `the worker holds segments: ${JSON.stringify(stats)}`);
  assert.ok(stats.uploadedKB > 0, JSON.stringify(stats));
});
