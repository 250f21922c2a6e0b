// Six tabs of our SDK and a super peer on the looping live channel, checked for what hls.js was
// handed: every fragment's SHA-256 against the origin's file, and no media error of any kind.
// Counting P2P bytes alone once let corrupted segments through unnoticed.
// SWARMCAST_PLAYED_S sets how long the tabs play (default 150 s).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { openPlayer, sleep, state } from './sdk-support.mjs';

const TABS = 6;
const PLAY_S = Number(process.env.SWARMCAST_PLAYED_S ?? 150);

let origin;
let tracker;
let master;
let ctx;

before(async () => {
  origin = await startOrigin({ liveWindow: 10 });
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

test(`${TABS} tabs with a super peer play only the origin's bytes`, { timeout: (PLAY_S + 180) * 1000 }, async (t) => {
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.signal && w.segments >= 3);
  assert.ok(worker.signal, `worker never joined: ${JSON.stringify(worker)}`);

  const tabs = [];
  for (let i = 0; i < TABS; i++) {
    tabs.push(await openPlayer(ctx, origin, manifest, tracker.url));
    await sleep(1500);
  }
  const checker = new PlayedChecker();
  const p2pFromWorker = { segments: 0 };
  const started = Date.now();
  while (Date.now() - started < PLAY_S * 1000) {
    await sleep(5000);
    for (const [i, tab] of tabs.entries()) {
      const drained = await drainPlayed(tab);
      await checker.add(i, drained);
    }
  }
  for (const [i, tab] of tabs.entries()) await checker.add(i, await drainPlayed(tab));
  const states = await Promise.all(tabs.map(state));
  const stats = (await master.call('GET', `/stats/${pid}`)).body;
  const p2pSegments = states.reduce((n, s) => n + s.sources.p2p + s.sources.mixed, 0);
  t.diagnostic(checker.summary());
  const dropped = states.reduce((n, s) => n + (s.bytes?.dropped ?? 0), 0);
  t.diagnostic(`bytes received and dropped by the tabs' guards: ${dropped}`);
  t.diagnostic(`P2P segments ${p2pSegments}, worker uploaded ${((stats.uploadedKB ?? 0) / 1024).toFixed(1)} MB, tabs' peers ${states.map((s) => s.peers.length)}`);
  for (const m of checker.mismatches.slice(0, 10)) t.diagnostic(`differs: ${JSON.stringify(m)}`);
  for (const e of checker.mediaErrors().slice(0, 10)) t.diagnostic(`media error: ${JSON.stringify(e)}`);

  assert.ok(checker.checked >= TABS * (PLAY_S / 2) * 0.6, `too few fragments played: ${checker.summary()}`);
  assert.ok(p2pSegments > 0, 'some segments came over P2P');
  assert.deepEqual(checker.mismatches, [], 'every played fragment is the origin’s');
  assert.deepEqual(checker.mediaErrors(), [], 'no hls.js media error');
});
