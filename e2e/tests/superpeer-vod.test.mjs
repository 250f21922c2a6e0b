// VOD seeding: a super peer fetches what a P2P Media Loader viewer is at (and a few segments
// ahead) through its disk cache, which stays under cacheSizeMB (least recently used out) and
// survives the worker's restart: the restarted worker, whose origin no longer serves the
// segments, still seeds the cached ones to a new viewer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { mediaDir, startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

const CACHE_MB = 3;
let origin;
let tracker;
let master;
let ctx;
let dir;
const tabs = [];

/** The channel's disk cache: segment id -> bytes, from `<infohash>-<id>.seg` file names. */
function cached() {
  const root = path.join(master.dir, 'cache');
  const out = new Map();
  for (const folder of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    for (const f of fs.readdirSync(path.join(root, folder))) {
      const m = f.match(/-(\d+)\.seg$/);
      if (m) out.set(Number(m[1]), fs.statSync(path.join(root, folder, f)).size);
    }
  }
  return out;
}

before(async () => {
  // /gone/ serves the VOD playlist without its segments: a worker pointed there can only
  // seed from its disk cache.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-gone-'));
  const gone = path.join(dir, 'gone');
  fs.mkdirSync(gone);
  fs.copyFileSync(path.join(await mediaDir(), 'hls-ts/index.m3u8'), path.join(gone, 'index.m3u8'));
  origin = await startOrigin({ mounts: { '/gone': gone } });
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, cacheSizeMB: CACHE_MB, statsIntervalMs: 500 });
  ctx = await launchBrowser();
});

after(async () => {
  for (const tab of tabs) await tab.close().catch(() => {});
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a VOD worker seeds through a bounded LRU disk cache that survives its restart', async (t) => {
  const t0 = Date.now();
  const phase = (what) => t.diagnostic(`${what} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const manifest = `${origin.url}/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const segDir = path.join(await mediaDir(), 'hls-ts');
  const fileDigest = (url) =>
    crypto.createHash('sha256').update(fs.readFileSync(path.join(segDir, new URL(url).pathname.split('/').pop()))).digest('hex');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: false, keepAlive: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const first = await master.poll(`/stats/${pid}`, (w) => w.signal, 180);
  assert.ok(first.signal, JSON.stringify(first));

  // A viewer plays from the start: the worker fetches what it is at, and it gets segments
  // from the worker over P2P.
  const page = `${origin.url}/e2e/superpeer-pml.html?src=${encodeURIComponent(manifest)}&tracker=${encodeURIComponent(tracker.url)}`;
  tabs.push(await openPage(ctx, page));
  const s1 = await waitForState(
    tabs[0],
    (st) => st.p2pSegments.filter((x) => x.peerId === first.peerId).length >= 2 || st.fatal,
    { what: 'segments over P2P from the super peer', timeoutMs: 90_000 },
  );
  assert.equal(s1.fatal, null, `errors: ${s1.errors}`);
  for (const seg of s1.p2pSegments.filter((x) => x.peerId === first.peerId)) {
    assert.equal(seg.sha256, fileDigest(seg.url), `bytes of ${seg.url} from the super peer`);
  }

  phase('P2P from the worker');
  // Past the cache bound: the least recently used segments were evicted.
  const fetched = await master.poll(`/stats/${pid}`, (w) => w.originKB > 2 * CACHE_MB * 1024, 180);
  assert.ok(fetched.originKB > 2 * CACHE_MB * 1024, `the worker fetched twice the cache size: ${JSON.stringify(fetched)}`);
  phase('fetched twice the cache size');
  await tabs.shift().close();
  // The worker may still finish a fetch it began for the viewer: the cache is read once the
  // worker has stopped fetching (with no viewer it has nothing more to fetch).
  let before = cached();
  let originKB = fetched.originKB;
  for (let still = 0, polls = 0; still < 2; polls++) {
    assert.ok(polls < 60, `the worker kept fetching with no viewer: ${originKB} KiB, cache ${[...before.keys()]}`);
    await new Promise((r) => setTimeout(r, 1000));
    const now = cached();
    const kb = (await master.call('GET', `/stats/${pid}`)).body.originKB;
    still = kb === originKB && util.isDeepStrictEqual(now, before) ? still + 1 : 0;
    [before, originKB] = [now, kb];
  }
  const total = [...before.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`cache after ${fetched.originKB} KiB fetched: segments ${[...before.keys()].sort((a, b) => a - b)}, ${total} B`);
  assert.ok(before.size >= 2, `segments cached: ${[...before.keys()]}`);
  assert.ok(total <= CACHE_MB * 1024 * 1024, `cache holds ${total} B, bound ${CACHE_MB} MiB`);
  assert.ok(!before.has(0), 'the first segment, least recently used, was evicted');

  // Restart the worker on a manifest whose segments are gone (changing `url` restarts it;
  // the channel and so the swarm and the cache folder stay the same).
  const restarted = await master.call('POST', '/seed', {
    list: [{ channel, live: false, keepAlive: true, url: `${origin.url}/gone/index.m3u8` }],
  });
  assert.equal(restarted.body.channels[0].action, 'restarted', JSON.stringify(restarted.body));
  const second = await master.poll(
    `/stats/${channel}`,
    (c) => c.workers?.length === 1 && c.workers[0].pid !== pid && c.workers[0].signal,
    180,
  ).then((c) => c.workers[0]);
  assert.notEqual(second.pid, pid);
  assert.deepEqual(cached(), before, 'the cache folder is kept across the restart');

  phase('worker restarted');
  // A new viewer gets cached segments from the restarted worker.
  tabs.push(await openPage(ctx, page));
  const s2 = await waitForState(
    tabs[0],
    (st) => st.p2pSegments.some((x) => x.peerId === second.peerId) || st.fatal,
    { what: 'a cached segment over P2P from the restarted super peer', timeoutMs: 120_000 },
  );
  assert.equal(s2.fatal, null, `errors: ${s2.errors}`);
  phase('P2P from the restarted worker');
  for (const seg of s2.p2pSegments.filter((x) => x.peerId === second.peerId)) {
    assert.equal(seg.sha256, fileDigest(seg.url), `bytes of ${seg.url} from the restarted super peer`);
    const id = Number(new URL(seg.url).pathname.match(/seg_(\d+)\.ts$/)[1]);
    assert.ok(before.has(id), `segment ${id} came from the disk cache (cached: ${[...before.keys()]})`);
  }
});
