// Tabs with a super peer on the looping live channel, checked for what hls.js was handed:
// every fragment's SHA-256 against the origin's file, and no media error of any kind. Counting
// P2P bytes alone once let corrupted segments through unnoticed. Six tabs of our SDK, then four
// tabs of unmodified P2P Media Loader 2.3.1. SWARMCAST_PLAYED_S sets how long each group plays
// (default 150 s).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { openPlayer, sleep, state } from './sdk-support.mjs';

const PLAY_S = Number(process.env.SWARMCAST_PLAYED_S ?? 150);
const cleanups = [];

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()().catch(() => {});
});

/** Origin (live window of `liveWindow` segments), tracker, super peer seeding the live channel, a browser. */
async function setUp(liveWindow) {
  const origin = await startOrigin({ liveWindow });
  cleanups.push(() => origin.stop());
  const tracker = await startTracker();
  cleanups.push(() => tracker.stop());
  const master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 500 });
  cleanups.push(() => master.stop());
  const ctx = await launchBrowser();
  cleanups.push(() => ctx.close());
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.signal && w.segments >= 3);
  assert.ok(worker.signal, `worker never joined: ${JSON.stringify(worker)}`);
  return { origin, tracker, master, ctx, manifest, pid };
}

/** Lets the tabs play for PLAY_S, checking what they were handed every few seconds. */
async function playAndCheck(tabs) {
  const checker = new PlayedChecker();
  const started = Date.now();
  while (Date.now() - started < PLAY_S * 1000) {
    await sleep(5000);
    for (const [i, tab] of tabs.entries()) await checker.add(i, await drainPlayed(tab));
  }
  for (const [i, tab] of tabs.entries()) await checker.add(i, await drainPlayed(tab));
  return checker;
}

function report(t, checker) {
  t.diagnostic(checker.summary());
  for (const m of checker.mismatches.slice(0, 10)) t.diagnostic(`differs: ${JSON.stringify(m)}`);
  for (const e of checker.mediaErrors().slice(0, 10)) t.diagnostic(`media error: ${JSON.stringify(e)}`);
}

test('six SDK tabs, two of them stalling uploaders, with a super peer play only the origin’s bytes', { timeout: (PLAY_S + 240) * 1000 }, async (t) => {
  const TABS = 6;
  const { origin, tracker, master, ctx, manifest, pid } = await setUp(10);
  const tabs = [];
  for (let i = 0; i < TABS; i++) {
    // Two tabs are poor uploaders: their channels go silent after 200 kB sent, so the others
    // abandon transfers from them mid-segment and resume elsewhere (the super peer holds every
    // segment), again and again: the path where a segment is filled by several sources.
    const params = i < 2 ? { stallUploadAfter: '200000' } : {};
    tabs.push(await openPlayer(ctx, origin, manifest, tracker.url, { params }));
    await sleep(1500);
  }
  const checker = await playAndCheck(tabs);
  const states = await Promise.all(tabs.map(state));
  const worker = (await master.call('GET', `/stats/${pid}`)).body;
  const p2pSegments = states.reduce((n, s) => n + s.sources.p2p + s.sources.mixed, 0);
  const dropped = states.reduce((n, s) => n + (s.bytes?.dropped ?? 0), 0);
  report(t, checker);
  t.diagnostic(`P2P segments ${p2pSegments}, worker uploaded ${(worker.uploadedKB / 1024).toFixed(1)} MB, bytes dropped by the tabs' guards ${dropped}`);

  assert.ok(checker.checked >= TABS * (PLAY_S / 2) * 0.6, `too few fragments played: ${checker.summary()}`);
  assert.ok(p2pSegments > 0, 'some segments came over P2P');
  assert.ok(worker.uploadedKB > 1024, `the super peer served the tabs: ${JSON.stringify(worker)}`);
  assert.deepEqual(checker.mismatches, [], 'every played fragment is the origin’s');
  assert.deepEqual(checker.mediaErrors(), [], 'no hls.js media error');
});

test('four P2P Media Loader tabs with a super peer play only the origin’s bytes', { timeout: (PLAY_S + 240) * 1000 }, async (t) => {
  const TABS = 4;
  // PML loads its 15 s high-demand window over HTTP: its viewers play 20 segments behind a
  // 30-segment window to leave the swarm something (docs/superpeer.md).
  const { origin, tracker, master, ctx, manifest, pid } = await setUp(30);
  const url =
    `${origin.url}/e2e/superpeer-pml.html?src=${encodeURIComponent(manifest)}` +
    `&tracker=${encodeURIComponent(tracker.url)}&liveSyncDurationCount=20`;
  const tabs = [];
  for (let i = 0; i < TABS; i++) {
    tabs.push(await openPage(ctx, url));
    await sleep(1500);
  }
  const checker = await playAndCheck(tabs);
  const worker = (await master.call('GET', `/stats/${pid}`)).body;
  const fromWorker = (await Promise.all(tabs.map(state))).reduce((n, s) => n + (s.p2pByPeer[worker.peerId] ?? 0), 0);
  report(t, checker);
  t.diagnostic(`bytes from the super peer ${fromWorker}, worker uploaded ${(worker.uploadedKB / 1024).toFixed(1)} MB`);

  assert.ok(checker.checked >= TABS * (PLAY_S / 2) * 0.6, `too few fragments played: ${checker.summary()}`);
  assert.ok(fromWorker > 1_000_000, 'the PML tabs took segments from the super peer');
  assert.deepEqual(checker.mismatches, [], 'every played fragment is the origin’s');
  assert.deepEqual(checker.mediaErrors(), [], 'no hls.js media error');
});
