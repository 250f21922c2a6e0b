// Scale-out: a channel seeded with maxConnections 1 gets a second worker once its first one
// is full, and the next P2P Media Loader viewer connects to that second worker (the first
// refuses offers beyond maxConnections, so the tracker's next offers reach the other one).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';

let origin;
let tracker;
let master;
let ctx;
const tabs = [];

before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, maxWorkers: 2, statsIntervalMs: 500 });
  ctx = await launchBrowser();
});
after(async () => {
  for (const tab of tabs) await tab.close().catch(() => {});
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});
test('a full worker gets a second worker for its channel, and the next viewer connects to it', async () => {
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: true, maxConnections: 1 }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  let ch = await master.poll(`/stats/${channel}`, (c) => c.workers?.[0]?.signal);
  assert.equal(ch.workers.length, 1, `one worker while nobody watches: ${JSON.stringify(ch)}`);
  const first = ch.workers[0];

  const url = `${origin.url}/e2e/superpeer-pml.html?src=${encodeURIComponent(manifest)}&tracker=${encodeURIComponent(tracker.url)}`;
  tabs.push(await openPage(ctx, url));
  const s1 = await waitForState(tabs[0], (st) => st.peers.includes(first.peerId) || st.fatal, {
    what: 'the first viewer connected to the first worker',
    timeoutMs: 90_000,
  });
  // What the players were handed is checked against the origin whatever happens next.
  const checker = new PlayedChecker();
  const played = async () => {
    for (const [i, tab] of tabs.entries()) await checker.add(i, await drainPlayed(tab));
    return checker.summary();
  };
  assert.equal(s1.fatal, null, `errors: ${s1.errors}; ${await played()}; ${JSON.stringify(checker.mismatches)}`);

  // The first worker is at maxConnections: the master adds a second one for the channel.
  ch = await master.poll(`/stats/${channel}`, (c) => c.workers?.length >= 2 && c.workers.every((w) => w.signal));
  assert.ok(ch.workers.length >= 2, `a second worker: ${JSON.stringify(ch)}`);
  const second = ch.workers.find((w) => w.pid !== first.pid);
  assert.notEqual(second.peerId, first.peerId);

  tabs.push(await openPage(ctx, url));
  const s2 = await waitForState(tabs[1], (st) => st.peers.includes(second.peerId) || st.fatal, {
    what: 'the second viewer connected to the second worker',
    timeoutMs: 120_000,
  });
  assert.equal(s2.fatal, null, `errors: ${s2.errors}; ${await played()}; ${JSON.stringify(checker.mismatches)}`);
  assert.ok(!s2.peers.includes(first.peerId), `the full worker refused the second viewer: ${s2.peers}`);

  ch = await master.poll(`/stats/${channel}`, (c) => c.workers?.filter((w) => w.peers >= 1).length >= 2);
  const busy = ch.workers.filter((w) => w.peers >= 1);
  assert.ok(busy.length >= 2, `both workers count a viewer: ${JSON.stringify(ch.workers)}`);
  assert.ok(ch.workers.every((w) => w.peers <= 1), `no worker exceeds maxConnections: ${JSON.stringify(ch.workers)}`);
  await played();
  const detail = async () => JSON.stringify({
    mismatches: checker.mismatches,
    errors: checker.errors,
    p2p: await Promise.all(tabs.map((t) => t.evaluate(() => window.__state.p2pSegments.map((x) => ({ url: x.url, peer: x.peerId, bytes: x.bytes, sha: x.sha256?.slice(0, 8) }))))),
  });
  assert.deepEqual(checker.mismatches, [], `every played fragment is the origin's: ${checker.summary()} ${await detail()}`);
  assert.deepEqual(checker.mediaErrors(), [], checker.summary());
});
