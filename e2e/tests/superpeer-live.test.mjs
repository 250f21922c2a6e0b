// A super peer seeds a looping live channel to two tabs of unmodified P2P Media Loader 2.3.1
// + hls.js: they receive P2P bytes from the super peer's peer id, and the origin served each
// segment of the channel to the super peer about once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { mediaDir, startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

const TOKEN = 'e2e-token';
// Segments in the origin's live playlist, and how far behind the live edge the viewers play.
// P2P Media Loader loads every segment within 15 s of the playhead (its high-demand window)
// over HTTP; only segments beyond it are loaded over P2P. hls.js starts 3 segments (6 s)
// behind the edge by default, so nothing is ever left for P2P: live viewers must play further
// behind (here 20 segments, 40 s) in a playlist long enough to hold that (here 60 s).
const LIVE_WINDOW = 30;
const LIVE_SYNC_SEGMENTS = 20;
let origin;
let tracker;
let master;
let ctx;
let tabs;

before(async () => {
  origin = await startOrigin({ liveWindow: LIVE_WINDOW });
  tracker = await startTracker();
  master = await startSuperPeer({ accessToken: TOKEN, signal1: tracker.url });
  ctx = await launchBrowser();
});

after(async () => {
  for (const tab of tabs ?? []) await tab.close().catch(() => {});
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});

test('the super peer seeds a live channel: origin serves each segment about once to it, two PML tabs connect to it', async () => {
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64');
  await origin.resetStats();
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: true, keepAlive: true, label: 'e2e' }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];

  // The worker joins the swarm and starts fetching segments ahead of the viewers.
  let worker;
  for (let i = 0; i < 120; i++) {
    worker = (await master.call('GET', `/stats/${pid}`)).body;
    if (worker.signal && worker.segments >= 3) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(worker.signal, `worker connected to the tracker: ${JSON.stringify(worker)}`);
  const peerId = worker.peerId;

  // Alone with the origin, the super peer fetches each new segment once: over ~12 s of a
  // 2 s-segment live stream the origin serves it about 6 segments plus playlist polls.
  const segDir = path.join(await mediaDir(), 'hls-ts');
  const maxSegment = Math.max(
    ...fs.readdirSync(segDir).filter((f) => f.endsWith('.ts')).map((f) => fs.statSync(path.join(segDir, f)).size),
  );
  await origin.resetStats();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 12_000));
  const alone = await origin.stats('/live/hls-ts/');
  const seconds = (Date.now() - t0) / 1000;
  const budget = (seconds / 2 + 2) * maxSegment + alone.total.requests * 4096;
  assert.ok(alone.total.bytes > 0, 'the super peer polls the live stream');
  assert.ok(
    alone.total.bytes <= budget,
    `origin served ${alone.total.bytes} B in ${seconds} s (${alone.total.requests} requests); once per segment allows ${budget}`,
  );

  // From here on viewers watch: the worker's own origin counter must keep growing by about
  // one segment per segment duration.
  globalThis.watchStart = { at: Date.now(), originKB: (await master.call('GET', `/stats/${pid}`)).body.originKB, maxSegment };
  const url =
    `${origin.url}/e2e/superpeer-pml.html?src=${encodeURIComponent(manifest)}` +
    `&tracker=${encodeURIComponent(tracker.url)}&liveSyncDurationCount=${LIVE_SYNC_SEGMENTS}`;
  tabs = [await openPage(ctx, url), await openPage(ctx, url)];
  for (const tab of tabs) {
    const s = await waitForState(tab, (st) => st.peers.includes(peerId) || st.fatal, {
      what: 'a data channel to the super peer',
      timeoutMs: 90_000,
    });
    assert.equal(s.fatal, null, `errors: ${s.errors}`);
  }
  // Workers report their counters to the master periodically: wait for the next report.
  let seeding;
  for (let i = 0; i < 60; i++) {
    seeding = (await master.call('GET', `/stats/${pid}`)).body;
    if (seeding.peers >= 1) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(seeding.peers >= 1, `the worker counts its viewers: ${JSON.stringify(seeding)}`);
  globalThis.superPeerId = peerId;
  globalThis.workerPid = pid;
});

test('the PML tabs receive P2P bytes from the super peer, the same bytes the origin serves', async (t) => {
  assert.ok(tabs, 'the seeding test ran');
  const segDir = path.join(await mediaDir(), 'hls-ts');
  const fileDigest = (url) => {
    const name = new URL(url).pathname.split('/').pop();
    return crypto.createHash('sha256').update(fs.readFileSync(path.join(segDir, name))).digest('hex');
  };
  for (const tab of tabs) {
    // Two whole segments from the super peer.
    const s = await waitForState(
      tab,
      (st) => st.p2pSegments.filter((x) => x.peerId === globalThis.superPeerId).length >= 2 || st.fatal,
      { what: 'segments over P2P from the super peer', timeoutMs: 90_000 },
    );
    assert.equal(s.fatal, null, `errors: ${s.errors}`);
    assert.ok(s.p2pByPeer[globalThis.superPeerId] > 100_000, JSON.stringify(s.p2pByPeer));
    const fromSuperPeer = s.p2pSegments.filter((x) => x.peerId === globalThis.superPeerId);
    for (const seg of fromSuperPeer) {
      assert.equal(seg.sha256, fileDigest(seg.url), `bytes of ${seg.url} from the super peer`);
    }
    t.diagnostic(
      `tab: ${fromSuperPeer.length} segments (${s.p2pByPeer[globalThis.superPeerId]} B) from the super peer, ` +
        `${s.p2pBytes} B over P2P in all, ${s.httpBytes} B over HTTP, latency ${s.latency?.toFixed(1)} s`,
    );
  }
  // The worker counts what it uploaded.
  let worker;
  for (let i = 0; i < 20; i++) {
    worker = (await master.call('GET', `/stats/${globalThis.workerPid}`)).body;
    if (worker.uploadedKB > 100) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(worker.uploadedKB > 100, `the worker counts its uploads: ${JSON.stringify(worker)}`);
  const { at, originKB, maxSegment } = globalThis.watchStart;
  const seconds = (Date.now() - at) / 1000;
  // Segments of 2 s, playlist polls every second (a few KiB each), stats up to 1 s stale.
  const budgetKB = ((seconds / 2 + 3) * maxSegment + (seconds + 2) * 4096) / 1024;
  t.diagnostic(`origin to the worker while viewers watched: ${worker.originKB - originKB} KiB in ${seconds.toFixed(0)} s`);
  assert.ok(
    worker.originKB - originKB <= budgetKB,
    `viewers make the worker fetch nothing twice: ${worker.originKB - originKB} KiB in ${seconds} s, once per segment allows ${budgetKB}`,
  );
});
