// Shaka Player with the Swarmcast engine (@swarmcast/shaka), in real Chromium: two tabs share
// the DASH VOD and the looping live DASH stream both ways, keep sharing across an ABR switch,
// and share with unmodified p2p-media-loader-shaka 2.2.2 both ways; on the live DASH stream, whose
// digests the origin publishes, a tab that flips a byte of what it uploads is banned. Every
// segment Shaka was handed is compared by SHA-256 with the origin's bytes and any Shaka error
// fails the test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mediaDir, startOrigin } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { sleep, startTracker, state } from './sdk-support.mjs';
import { p2p, playTogether, summary } from './shaka-support.mjs';

let origin;
let tracker;
let ctx;
let listDir;
let mpdOnlyDir;
before(async () => {
  // The test media's ladder as single-file DASH: SegmentList addressing with byte ranges (a
  // remux, under a second). p2p-media-loader-shaka 2.2.2 on Shaka 4.16 sees only the segments
  // Shaka has already materialised of a SegmentTimeline; of a SegmentList it sees them all.
  listDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-dash-list-'));
  const ladder = path.join(await mediaDir(), 'ladder.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-i', ladder, '-map', '0:v:0', '-map', '0:v:1', '-map', '0:v:2', '-map', '0:a:0', '-c', 'copy',
    '-f', 'dash', '-single_file', '1', '-seg_duration', '2', '-use_template', '0', '-use_timeline', '0',
    '-adaptation_sets', 'id=0,streams=v id=1,streams=a', path.join(listDir, 'manifest.mpd')]);
  // The DASH media without the HLS playlists beside it, so the live digests published there are
  // the live MPD's own.
  mpdOnlyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-dash-mpd-'));
  const dash = path.join(await mediaDir(), 'dash');
  for (const f of fs.readdirSync(dash).filter((f) => /\.(m4s|mpd)$/.test(f))) fs.symlinkSync(path.join(dash, f), path.join(mpdOnlyDir, f));
  origin = await startOrigin({ mounts: { '/dash-list': listDir, '/dash-mpd': mpdOnlyDir } });
  tracker = await startTracker();
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await tracker?.stop();
  await origin?.stop();
  for (const dir of [listDir, mpdOnlyDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function open(page, src, params = {}) {
  const q = new URLSearchParams({ src: `${origin.url}${src}`, tracker: tracker.url, log: 'warn', ...params });
  return openPage(ctx, `${origin.url}/e2e/${page}.html?${q}`);
}

test('two Shaka tabs share the DASH VOD both ways', async () => {
  // Both hold their first request until they have a peer, so neither fetches the whole VOD alone.
  const params = { video: '360', waitForPeer: '10' };
  const a = await open('sdk-shaka', '/dash/manifest.mpd', params);
  const b = await open('sdk-shaka', '/dash/manifest.mpd', params);
  const [sa, sb] = await playTogether([a, b]);
  assert.equal(sa.live, false);
  // Swarm ids as p2p-media-loader-shaka 2.2.2 names them: the 360p video is the third video
  // stream of the ladder (Shaka itself drops the variants the pin rules out from its manifest).
  for (const s of [sa, sb]) assert.ok(s.swarms.includes(`v2-${origin.url}/dash/manifest.mpd-main-2`), JSON.stringify(s.swarms));
});

test('two Shaka tabs share the live DASH stream both ways, and across an ABR switch', async () => {
  const params = { video: '360', switchTo: '480', switchAt: '8' };
  const a = await open('sdk-shaka', '/live/dash/manifest.mpd', params);
  await sleep(1000);
  const b = await open('sdk-shaka', '/live/dash/manifest.mpd', params);
  // After the switch both tabs are in the 480p swarm and keep taking segments from each other.
  let atSwitch;
  const [sa, sb] = await playTogether([a, b], {
    seconds: 16,
    extra: (states) => {
      if (!states.every((s) => s.heights.includes(480))) return false;
      atSwitch ??= states.map((s) => p2p(s).down);
      return states.every((s, i) => p2p(s).down > atSwitch[i]);
    },
  });
  assert.equal(sa.live, true);
  for (const s of [sa, sb]) {
    assert.deepEqual(s.heights.slice(-1), [480], summary(s));
    assert.ok(s.swarms.some((id) => id.endsWith('/live/dash/manifest.mpd-main-1')), `480p swarm used: ${s.swarms}`);
  }
  assert.ok(atSwitch && [sa, sb].every((s, i) => p2p(s).down > atSwitch[i]), `P2P after the switch: ${atSwitch}`);
});

test('a Shaka tab that lies on the live DASH stream is banned after its first bad segment; the honest tab plays only the origin\'s bytes', async (t) => {
  const params = { video: '360' };
  const src = '/live/dash-mpd/manifest.mpd';
  const liar = await open('sdk-shaka', src, { ...params, lie: 'flip' });
  await waitForState(liar, (s) => s.currentTime > 0 || s.fatal, { what: 'the liar playing' });
  const honest = await open('sdk-shaka', src, params);
  const checker = new PlayedChecker();
  // Until it banned the liar and played 6 s more (bounded).
  let s;
  let bannedAt;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    s = await state(honest);
    await checker.add('honest', await drainPlayed(honest));
    if (s.fatal) break;
    if (s.bytes?.banned > 0) bannedAt ??= s.currentTime;
    if (bannedAt !== undefined && s.currentTime >= bannedAt + 6) break;
    await sleep(500);
  }
  // The liar's peer id in each of its swarms (one per stream).
  const liarIds = await liar.evaluate(() => [...window.__engine.core.swarms.values()].map((w) => w.peerId));
  await checker.add('honest', await drainPlayed(honest));
  for (const p of [liar, honest]) await p.close();
  t.diagnostic(`${checker.summary()}; liar ${liarIds}; honest ${summary(s)} ${JSON.stringify(s.bytes)} ${s.exceptionMessages}`);
  assert.equal(s.fatal, null, summary(s));
  const blamed = s.exceptionMessages.filter((m) => m.startsWith('PEER_EXPT') && /SHA-256/.test(m));
  const perId = liarIds.map((id) => blamed.filter((m) => m.includes(`peer ${id} `)).length);
  assert.ok(blamed.length >= 1 && perId.reduce((a, b) => a + b, 0) === blamed.length, `only the liar is blamed: ${blamed}`);
  assert.ok(perId.every((n) => n <= 1), `banned in each swarm after its first bad segment there: ${blamed}`);
  assert.ok(s.bytes.banned === blamed.length && s.bytes.badSegments === blamed.length, JSON.stringify(s.bytes));
  assert.ok(s.bytes.verifiedBytes > 0, 'segments from peers were checked against the live DASH digests');
  // Each swarm's peer id is banned on its own: the liar may still be connected in a swarm where
  // it has not sent this tab a segment yet.
  const banned = liarIds.filter((_, i) => perId[i] > 0);
  assert.ok(!s.peers.some((id) => banned.includes(id)), `no longer connected to the banned ${banned}: ${s.peers}`);
  assert.ok(s.currentTime >= bannedAt + 6, `played on after the ban: ${summary(s)}`);
  assert.ok(checker.checked > 0, checker.summary());
  assert.deepEqual(checker.mismatches, [], checker.summary());
  assert.deepEqual(checker.errors, [], `Shaka errors: ${checker.summary()}`);
});

test('our Shaka engine and unmodified p2p-media-loader-shaka share a DASH VOD (SegmentList, byte ranges) both ways', async () => {
  // PML's tab starts first, so ours has segments to take from it; PML prefetches segments
  // beyond its 15 s high-demand window from peers, and ours has them.
  const pml = await open('pml-shaka', '/dash-list/manifest.mpd', { video: '360' });
  await waitForState(pml, (s) => s.currentTime > 1 || s.fatal, { what: 'PML playback' });
  const ours = await open('sdk-shaka', '/dash-list/manifest.mpd', { video: '360' });
  const [p, o] = await playTogether([pml, ours]);
  assert.ok(o.peers.some((id) => id.startsWith('-PM0202-')), `PML 2.2.2 peer connected: ${o.peers}`);
  assert.ok(p.peerIds.some((id) => id.startsWith('-SC')), `our peer connected to PML: ${p.peerIds}`);
});
