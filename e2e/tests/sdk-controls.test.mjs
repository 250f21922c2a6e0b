// The SDK's upload and connection controls and its disk cache, in Chromium tabs of one browser
// (one IndexedDB) on one origin and tracker: maxUploadKbps bounds what a tab serves, a cellular
// tab downloads only, wifiOnly keeps P2P off until the connection is wifi, minPeers holds P2P
// downloads, and a reloaded VOD plays what was watched from disk and serves it to a new tab
// (hls.js), or plays it from disk (Shaka).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPlayedOrigin, drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { waitForState } from '../lib/browser.mjs';
import { sleep, state, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const VOD = '/hls-ts/index.m3u8';
/** The test page has no disk cache unless asked (its tabs stand for different viewers). */
const DISK = { diskCacheLimit: 100 * 1024 * 1024 };
/** An uncapped tab playing VOD, opened once for the tests that need a peer holding segments. */
let seeder;
const stack = sharedStack();

/**
 * Opens the SDK page on `src` with `cfg` added to the engine's config. `connection` replaces
 * `navigator.connection` (before any script runs) with an EventTarget of that type;
 * `window.__setConnection(type)` changes it and fires `change`.
 */
async function openTab(src, { cfg = {}, params = {}, connection } = {}) {
  const page = await stack.ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  if (connection) {
    await page.addInitScript((c) => {
      const conn = Object.assign(new EventTarget(), c);
      Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => conn });
      window.__setConnection = (type) => {
        conn.type = type;
        conn.dispatchEvent(new Event('change'));
      };
    }, connection);
  }
  const q = new URLSearchParams({ src, tracker: stack.tracker.url, log: 'warn', cfg: JSON.stringify(cfg), ...params });
  await page.goto(`${stack.origin.url}/e2e/sdk-hlsjs.html?${q}`);
  return page;
}

const played = (page, seconds, what) => waitForState(page, (s) => s.fatal || s.currentTime >= seconds, { what: what ?? `${seconds} s played` });

/** Polls until `pred(state)` or the deadline; returns the last state either way (asserted by the caller). */
async function until(page, pred, ms) {
  const deadline = Date.now() + ms;
  let s = await state(page);
  while (!pred(s) && Date.now() < deadline) {
    await sleep(500);
    s = await state(page);
  }
  return s;
}

async function getSeeder() {
  if (!seeder) {
    seeder = await openTab(VOD);
    const s = await played(seeder, 2, 'the seeder plays');
    assert.equal(s.fatal, null, summary(s));
  }
  return seeder;
}

test('maxUploadKbps: a tab serves at most its token bucket allows, and the other tab still plays', async () => {
  const kbps = 800;
  const a = await openTab(VOD, { cfg: { maxUploadKbps: kbps } });
  const sa = await played(a, 2, 'the capped tab plays');
  assert.equal(sa.fatal, null, summary(sa));
  const b = await openTab(VOD);
  const sb = await until(b, (s) => s.fatal || (s.currentTime >= 12 && s.bytes?.p2pDown > 0), 60_000);
  // What A served over its whole life, and how long that was (page clock).
  const up = await a.evaluate(() => ({ bytes: window.__engine.core.getByteCounters().p2pUp, ms: performance.now() - window.__state.engineCreatedAt }));
  await a.close();
  await b.close();
  const rate = (kbps * 1000) / 8;
  const capacity = Math.max(rate, 64 * 1024);
  // The bucket's bound (capacity + rate·T + one chunk), 10 % more for anything we missed.
  const bound = 1.1 * (capacity + (rate * up.ms) / 1000 + 65535);
  assert.equal(sb.fatal, null, summary(sb));
  assert.ok(sb.currentTime >= 12, `B played 12 s: ${summary(sb)}`);
  assert.ok(sb.bytes.p2pDown > 0, `B got bytes from the capped tab: ${summary(sb)}`);
  assert.ok(up.bytes <= bound, `A served ${up.bytes} bytes in ${Math.round(up.ms)} ms, more than the cap allows (${Math.round(bound)})`);
  // Without the cap B would have taken far more from A than that: it played the rest by HTTP.
  assert.ok(sb.bytes.httpDown > bound, `B fell back to HTTP: ${summary(sb)}`);
});

test('a tab on a cellular connection downloads from peers and serves none', async () => {
  const a = await getSeeder();
  const c = await openTab(VOD, { connection: { type: 'cellular', saveData: false } });
  const sc = await until(c, (s) => s.fatal || (s.currentTime >= 8 && s.bytes?.p2pDown > 0), 45_000);
  const cUp = await c.evaluate(() => window.__engine.core.getByteCounters().p2pUp);
  await c.close();
  const sa = await state(a);
  assert.equal(sc.fatal, null, summary(sc));
  assert.ok(sc.bytes.p2pDown > 0, `downloaded from the seeder: ${summary(sc)}`);
  assert.equal(cUp, 0, `served nothing: ${summary(sc)}`);
  assert.equal(sa.fatal, null, summary(sa));
});

test('wifiOnly: HTTP only on a cellular connection, P2P once it turns to wifi', async () => {
  await getSeeder();
  const w = await openTab(VOD, { cfg: { wifiOnly: true }, connection: { type: 'cellular' } });
  const off = await played(w, 4);
  assert.equal(off.fatal, null, summary(off));
  assert.equal(off.p2pEnabled, false, summary(off));
  assert.equal(off.serverConnected, false, `no tracker connection: ${summary(off)}`);
  assert.equal(off.bytes.p2pDown + off.bytes.p2pUp, 0, summary(off));
  await w.evaluate(() => window.__setConnection('wifi'));
  const on = await until(w, (s) => s.fatal || (s.p2pEnabled && s.peers.length > 0), 30_000);
  await w.close();
  assert.equal(on.fatal, null, summary(on));
  assert.equal(on.p2pEnabled, true, summary(on));
  assert.ok(on.peers.length > 0, `connected to the seeder once on wifi: ${summary(on)}`);
});

test('minPeers: with fewer peers than that, nothing is downloaded from the one connected', async () => {
  const a = await getSeeder();
  const m = await openTab(VOD, { cfg: { minPeers: 2 } });
  const sm = await until(m, (s) => s.fatal || (s.currentTime >= 10 && s.peers.length > 0), 45_000);
  await m.close();
  await a.close();
  seeder = undefined;
  assert.equal(sm.fatal, null, summary(sm));
  assert.ok(sm.peers.length > 0, `connected to the seeder: ${summary(sm)}`);
  assert.equal(sm.bytes.p2pDown, 0, `no P2P download below minPeers: ${summary(sm)}`);
});


test('disk cache: a reloaded VOD plays what was watched from IndexedDB and serves it to a new tab', async () => {
  const src = '/hls-fmp4/index.m3u8';
  // First visit without P2P: everything by HTTP, written to the disk cache once checked.
  const r = await openTab(src, { cfg: DISK, params: { p2p: '0' } });
  const first = await played(r, 6, 'first visit');
  assert.equal(first.fatal, null, summary(first));
  const watched = new Set((await r.evaluate(() => window.__played.records)).map((x) => x.sn));
  assert.ok(watched.size >= 4, `segments loaded on the first visit: ${[...watched]}`);
  // The reload, with P2P: watched segments come from disk.
  const q = new URLSearchParams({ src, tracker: stack.tracker.url, log: 'warn', cfg: JSON.stringify(DISK) });
  await r.goto(`${stack.origin.url}/e2e/sdk-hlsjs.html?${q}`);
  const again = await played(r, 3, 'after the reload');
  assert.equal(again.fatal, null, summary(again));
  const records = await r.evaluate(() => window.__played.records);
  const fromDisk = records.filter((x) => watched.has(x.sn));
  assert.ok(fromDisk.length >= 2, `watched segments played again: ${JSON.stringify(records.map((x) => [x.sn, x.source]))}`);
  assert.deepEqual(fromDisk.filter((x) => x.source !== 'cache').map((x) => x.sn), [], `every watched segment came from disk: ${JSON.stringify(records.map((x) => [x.sn, x.source]))}`);
  assert.equal(again.bytes.p2pDown, 0, summary(again));
  // A new tab without a disk cache (the page's default) gets watched segments from the reloaded tab.
  const s = await openTab(src, { params: { waitForPeer: '10' } });
  const ss = await until(s, (x) => x.fatal || (x.currentTime >= 8 && x.bytes?.p2pDown > 0), 45_000);
  const got = (await s.evaluate(() => window.__played.records)).filter((x) => x.source === 'p2p' && watched.has(x.sn));
  const rUp = await r.evaluate(() => window.__engine.core.getByteCounters().p2pUp);
  // What came from disk, and from the reloaded tab, is the origin's bytes.
  const checker = new PlayedChecker();
  await checker.add('reloaded', await drainPlayed(r));
  await checker.add('new', await drainPlayed(s));
  await s.close();
  await r.close();
  assertPlayedOrigin(checker);
  assert.equal(ss.fatal, null, summary(ss));
  assert.ok(got.length > 0, `the new tab got watched segments from peers: ${summary(ss)}`);
  assert.ok(rUp > 0, 'the reloaded tab served them');
});

test('disk cache with Shaka: a reloaded DASH VOD plays its first segments from IndexedDB', async () => {
  const q = (p2p) => new URLSearchParams({ src: `${stack.origin.url}/dash/manifest.mpd`, tracker: stack.tracker.url, log: 'warn', video: '360', p2p, cfg: JSON.stringify(DISK) });
  const page = await stack.ctx.newPage();
  await page.goto(`${stack.origin.url}/e2e/sdk-shaka.html?${q('0')}`);
  const first = await played(page, 4, 'first visit');
  assert.equal(first.fatal, null, JSON.stringify(first.errors));
  assert.equal(first.sources.cache, 0, JSON.stringify(first.sources));
  await page.goto(`${stack.origin.url}/e2e/sdk-shaka.html?${q('1')}`);
  const again = await played(page, 2, 'after the reload');
  const checker = new PlayedChecker();
  await checker.add('reloaded', await drainPlayed(page));
  await page.close();
  assertPlayedOrigin(checker);
  assert.equal(again.fatal, null, JSON.stringify(again.errors));
  // Shaka starts again at 0: its first audio and video segments were watched, so from disk.
  assert.ok(again.sources.cache >= 2, `segments from disk after the reload: ${JSON.stringify(again.sources)}`);
  assert.equal(again.bytes.p2pDown, 0, JSON.stringify(again.bytes));
});
