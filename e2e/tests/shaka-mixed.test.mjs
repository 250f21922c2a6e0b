// Shaka Player with the Swarmcast engine (@swarmcast/shaka) among other viewers, in real
// Chromium: unmodified p2p-media-loader-shaka 2.2.2 on the live DASH stream and on live and VOD
// HLS (both ways), our hls.js engine on HLS (Shaka engine with idRules "pml-2.3"), and a super peer
// seeding a live DASH channel to a Shaka tab alone. Every segment a player was handed is
// compared by SHA-256 with the origin's bytes and any player error fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSuperPeer } from '../lib/servers.mjs';
import { openPage, waitForState } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { sleep, state } from './sdk-support.mjs';
import { p2p, playTogether, summary } from './shaka-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const stack = sharedStack({ origin: { liveWindow: 30 } });

function open(page, src, params = {}) {
  const q = new URLSearchParams({ src: `${stack.origin.url}${src}`, tracker: stack.tracker.url, log: 'warn', ...params });
  return openPage(stack.ctx, `${stack.origin.url}/e2e/${page}.html?${q}`);
}

/** PML's tab first (so ours has segments to take), then ours; both ways asserted. */
async function withPml(src, params) {
  const pml = await open('pml-shaka', src, params);
  await waitForState(pml, (s) => s.currentTime > 1 || s.fatal, { what: 'PML playback' });
  const ours = await open('sdk-shaka', src, params);
  const [p, o] = await playTogether([pml, ours], { seconds: 8 });
  assert.ok(o.peers.some((id) => id.startsWith('-PM0202-')), `PML 2.2.2 peer connected: ${o.peers}`);
  assert.ok(p.peerIds.some((id) => id.startsWith('-SC')), `our peer connected to PML: ${p.peerIds}`);
  return [p, o];
}

/**
 * Live with PML both ways. PML fetches every segment within its high-demand window (15 s ahead
 * by default) over HTTP, which near the live edge is all of them: a 2 s window lets it look for
 * peers first. Near the edge, whoever plays further ahead fetches first: one of ours ahead of
 * PML (liveDelay 6 s) feeds it, then, alone with it, one of ours behind it (30 s, more than
 * PML's delay plus Shaka's 10 s buffering goal; hence the 60 s window) takes from it.
 */
async function liveWithPml(src) {
  const pml = await open('pml-shaka', src, { video: '360', highDemand: '2' });
  await waitForState(pml, (s) => s.currentTime > 1 || s.fatal, { what: 'PML playback' });
  const ahead = await open('sdk-shaka', src, { video: '360', liveDelay: '6' });
  await playTogether([ahead], { seconds: 6, ways: [['up']] });
  const behind = await open('sdk-shaka', src, { video: '360', liveDelay: '30' });
  const [p, o] = await playTogether([pml, behind], { seconds: 6, ways: [['down', 'up'], ['down']] });
  assert.equal(o.live, true);
  assert.ok(o.peers.length > 0 && o.peers.every((id) => id.startsWith('-PM0202-')), `PML 2.2.2 its only peer: ${o.peers}`);
  assert.ok(p.peerIds.some((id) => id.startsWith('-SC')), `our peers connected to PML: ${p.peerIds}`);
  // The origin publishes the digests of its live HLS and DASH windows: what ours took from PML was
  // checked.
  assert.ok(o.bytes.verifiedBytes > 0 && o.bytes.badSegments === 0, JSON.stringify(o.bytes));
}

test('ours and p2p-media-loader-shaka share the live DASH stream both ways', () => liveWithPml('/live/dash/manifest.mpd'));

test('ours and p2p-media-loader-shaka share live HLS through Shaka both ways', () => liveWithPml('/live/dash/master.m3u8'));

test('ours and p2p-media-loader-shaka share HLS VOD through Shaka both ways', async () => {
  await withPml('/dash/master.m3u8', { video: '360' });
});

test('Shaka (idRules pml-2.3) and our hls.js engine share an HLS VOD both ways', async () => {
  const shaka = await open('sdk-shaka', '/dash/master.m3u8', { video: '360', idRules: 'pml-2.3', waitForPeer: '10' });
  const hlsjs = await open('sdk-hlsjs', '/dash/master.m3u8', { level: '0', waitForPeer: '10' });
  const [s, h] = await playTogether([shaka, hlsjs], { seconds: 8 });
  const shared = s.swarms.filter((id) => h.swarms.includes(id));
  assert.ok(shared.length > 0, `a swarm in common: ${s.swarms} / ${h.swarms}`);
});

/** A super peer seeds `src` (live or not); a Shaka tab alone with it takes bytes from it. */
async function fedBySuperPeer(t, src, live) {
  const master = await startSuperPeer({ signal1: stack.tracker.url, statsIntervalMs: 500 });
  try {
    const manifest = `${stack.origin.url}${src}`;
    const seeded = await master.call('POST', '/seed', { list: [{ channel: Buffer.from(manifest).toString('base64url'), live }] });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
    const pid = seeded.body.channels[0].pids[0];
    let worker;
    for (let i = 0; i < 120; i++) {
      worker = (await master.call('GET', `/stats/${pid}`)).body;
      if (worker.signal && (worker.segments >= 3 || (!live && worker.swarms > 0))) break;
      await sleep(500);
    }
    assert.ok(worker.signal && worker.swarms === 4, JSON.stringify(worker));
    assert.equal(worker.manifestError ?? null, null, JSON.stringify(worker));
    const tab = await open('sdk-shaka', src, { video: '360' });
    const checker = new PlayedChecker();
    let s;
    for (let i = 0; i < 120; i++) {
      s = await state(tab);
      await checker.add('tab', await drainPlayed(tab));
      if (s.fatal || (s.peers.includes(worker.peerId) && p2p(s).down > 1_000_000 && checker.checked >= 5)) break;
      await sleep(500);
    }
    await tab.close();
    t.diagnostic(`tab: ${summary(s)}; worker: ${JSON.stringify(worker)}`);
    assert.equal(s.fatal, null, summary(s));
    assert.deepEqual(s.peers, [worker.peerId], 'the super peer is the tab’s only peer');
    assert.ok(p2p(s).down > 1_000_000, `P2P bytes from the super peer: ${summary(s)}`);
    assert.deepEqual(checker.mismatches, [], checker.summary());
    assert.deepEqual(checker.errors, [], `Shaka errors: ${checker.summary()}`);
  } finally {
    await master.stop();
  }
}

test('a super peer seeding a live DASH channel feeds a Shaka tab alone in its swarm', (t) => fedBySuperPeer(t, '/live/dash/manifest.mpd', true));

// A VOD worker fetches what viewers ask for and a few segments beyond (docs/superpeer.md).
test('a super peer seeding a DASH VOD channel feeds a Shaka tab alone in its swarm', (t) => fedBySuperPeer(t, '/dash/manifest.mpd', false));
