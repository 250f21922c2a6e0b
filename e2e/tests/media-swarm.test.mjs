// P2PEngineMedia in Chromium: progressive files played through the ServiceWorker, shared between
// tabs by pieces, each piece from a peer checked against the digests `swarmcast hash` published
// for the file. Each test gets a fresh browser (its own ServiceWorker and IndexedDB) and a file
// in a folder of its own, so that the origin's count of that folder is the file's origin bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startOrigin, startTracker } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { checkServed, mediaSummary, openMedia, pieceFolders, playedAtLeast, probeFile, state } from './media-support.mjs';

const KiB = 1024;
let origin;
let tracker;
let folders;
before(async () => {
  folders = await pieceFolders({
    mp4: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    liar: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    webm: { file: 'progressive.webm', pieceLength: 512 * KiB },
    // A 60 s MP3 is under 1 MB: pieces of 64 KiB (4 s each) give its swarm something to share.
    mp3: { file: 'audio.mp3', pieceLength: 64 * KiB },
  });
  origin = await startOrigin({ mounts: { '/m': folders.dir } });
  tracker = await startTracker();
});
after(async () => {
  await tracker?.stop();
  await origin?.stop();
  folders?.remove();
});

async function withBrowser(fn) {
  const ctx = await launchBrowser();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Bytes the origin served of folder `/m/<name>/` (the one file in it, and its digests). */
async function originBytes(name) {
  return (await origin.stats(`/m/${name}/`)).total.bytes;
}

/**
 * Tab A plays `/m/<name>/<file>`; tab B opens once A has played 2 s, and both play `seconds`
 * more. B must take most of its bytes from A, the two together must cost the origin well under
 * two copies of the file, and the elements must have played what they were given.
 */
async function twoTabs(ctx, name, file, params, seconds) {
  const src = `/m/${name}/${file}`;
  const { bytes, duration } = probeFile(path.join(folders.dir, name, file));
  const p = { tracker: tracker.url, disk: '0', channel: `${name}-two-tabs`, ...params };
  const a = await openMedia(ctx, origin, src, p);
  await playedAtLeast(a, 2);
  const b = await openMedia(ctx, origin, src, p);
  await playedAtLeast(b, seconds);
  await playedAtLeast(a, seconds);
  const [sa, sb] = await Promise.all([a, b].map(state));
  for (const s of [sa, sb]) {
    assert.ok(s.proxied, `played through the worker; ${mediaSummary(s)}`);
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.equal(s.rebuffers, 0, `no stall; ${mediaSummary(s)}`);
    assert.ok(Math.abs(s.duration - duration) < 0.1, `the element's duration ${s.duration} s is the file's ${duration} s`);
    if (s.kind === 'video') assert.ok(s.frames >= 10 * seconds, `frames decoded: ${s.frames} in ${s.currentTime} s`);
  }
  assert.ok(sb.bytes.p2pDown > sb.bytes.httpDown, `B took most of its bytes from A; ${mediaSummary(sb)}`);
  assert.ok(sa.bytes.p2pUp > 0, `A uploaded; ${mediaSummary(sa)}`);
  assert.equal(sb.bytes.badSegments + sb.bytes.unverified, 0, `every piece from A matched the published digests; ${mediaSummary(sb)}`);
  const fromOrigin = await originBytes(name);
  const share = sb.bytes.p2pDown / (sb.bytes.p2pDown + sb.bytes.httpDown);
  console.log(`${file}: B's P2P share ${(share * 100).toFixed(0)} %, origin ${(fromOrigin / bytes).toFixed(2)}x the file for both tabs`);
  assert.ok(fromOrigin < 1.5 * bytes, `origin served ${fromOrigin} bytes for two tabs of a ${bytes}-byte file`);
  return { a, b, sa, sb };
}

/** Every part of every piece the worker gave the elements is the origin's byte for byte. */
async function assertServedIsOrigins(pages) {
  const checker = await checkServed(pages);
  assert.ok(checker.checked > 0, 'the worker answered the elements');
  assert.deepEqual(checker.mismatches, [], checker.summary());
  assert.deepEqual(checker.mediaErrors(), [], checker.summary());
  return checker;
}

test('two tabs share an MP4 by pieces; every byte played is the origin\'s; seeks to the middle and to the last second play', async () => {
  await withBrowser(async (ctx) => {
    const { a, b, sa } = await twoTabs(ctx, 'mp4', 'progressive.mp4', {}, 8);
    assert.equal(sa.protocolVersion, 'v2');
    assert.ok(sa.supported && sa.swVersionSupported, 'support statics');
    // Seek B to the middle (a Range request from there), then to the last second: both play.
    const duration = (await state(b)).duration;
    const mid = duration / 2;
    await b.evaluate((t) => window.__seek(t), mid);
    await playedAtLeast(b, mid + 2, 'playing after the seek to the middle');
    await b.evaluate((t) => window.__seek(t), duration - 1);
    const last = await waitForState(b, (s) => s.ended || s.errors.length > 0, { what: 'the end after the seek to the last second' });
    assert.deepEqual(last.errors, [], mediaSummary(last));
    assert.ok(last.currentTime >= duration - 0.1, `played to the end; ${mediaSummary(last)}`);
    const checker = await assertServedIsOrigins([a, b]);
    console.log(`mp4: ${checker.summary()}; B ${mediaSummary(last)}`);
  });
});

test('a lying peer\'s pieces never reach the element: checked against the digests, its sender banned', async () => {
  await withBrowser(async (ctx) => {
    const p = { tracker: tracker.url, disk: '0', channel: 'mp4-liar' };
    const src = '/m/liar/progressive.mp4';
    const liar = await openMedia(ctx, origin, src, { ...p, lie: 'flip' });
    await playedAtLeast(liar, 2);
    const victim = await openMedia(ctx, origin, src, p);
    const liarId = (await state(liar)).peerId;
    const s = await waitForState(victim, (x) => x.errors.length > 0 || (x.currentTime >= 8 && x.bytes?.banned > 0), { what: 'the victim playing 8 s and banning the liar', timeoutMs: 90_000 });
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.equal(s.rebuffers, 0, `no stall; ${mediaSummary(s)}`);
    assert.ok(s.bytes.badSegments >= 1, `a bad piece was caught; ${mediaSummary(s)}`);
    assert.ok(s.exceptionMessages.some((m) => m.startsWith('PEER_EXPT') && m.includes(liarId) && /SHA-256/.test(m)), mediaSummary(s));
    await assertServedIsOrigins([victim]);
  });
});

test('two tabs share an MP3 in <audio>', async () => {
  await withBrowser(async (ctx) => {
    const { a, b, sb } = await twoTabs(ctx, 'mp3', 'audio.mp3', { kind: 'audio', piece: String(64 * KiB) }, 8);
    assert.equal(sb.kind, 'audio');
    await assertServedIsOrigins([a, b]);
  });
});

test('two tabs share a WebM', async () => {
  await withBrowser(async (ctx) => {
    const { a, b } = await twoTabs(ctx, 'webm', 'progressive.webm', {}, 8);
    await assertServedIsOrigins([a, b]);
  });
});
