// A Rust `swarmcast peer` serves segments to real Chromium data channels, speaking the
// P2P Media Loader protocol (the page encodes and decodes with PML 2.3.1's own codec):
// announcement on open, requests with resume offset, SegmentAbsent, and a malformed frame
// closes only the offending peer's session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, mediaDir, startOrigin, startProcess } from '../lib/servers.mjs';
import { launchBrowser, openPage } from '../lib/browser.mjs';

let origin;
let peer;
let ctx;
let page;
let api;
let swarm;
let media;

before(async () => {
  media = await mediaDir();
  origin = await startOrigin();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  peer = await startProcess(
    ['peer', '--playlist', `${origin.url}/hls-ts/index.m3u8`, '--udp', '127.0.0.1:0', '--http', `127.0.0.1:${port}`],
    { ready: /peer ready/ },
  );
  [swarm] = await (await fetch(`${api}/swarms`)).json();
  ctx = await launchBrowser();
  page = await openPage(ctx, `${origin.url}/e2e/rtc-raw.html`);
  await page.evaluate(({ api, hash }) => window.connectPeers(api, hash, 2), { api, hash: swarm.info_hash });
});

after(async () => {
  await ctx?.close();
  await peer?.stop();
  await origin?.stop();
});

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const segmentFile = (i) => {
  const playlist = fs.readFileSync(path.join(media, 'hls-ts/index.m3u8'), 'utf8');
  const uris = playlist.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return path.join(media, 'hls-ts', uris[i]);
};

test('the peer seeds one swarm with every segment of the playlist', () => {
  assert.equal(swarm.segments, 30);
  assert.match(swarm.swarm_id, /^v2-http:\/\/127\.0\.0\.1:\d+\/hls-ts\/index\.m3u8-main-/);
  assert.equal(swarm.info_hash.length, 20);
});

test('the peer announces its segments as soon as the channel opens', async () => {
  const a = await page.evaluate(() => window.lastAnnouncement(0));
  assert.ok(a, 'no announcement within 10 s of the channel opening');
  assert.equal(a.c, 0);
  assert.deepEqual(a.l, Array.from({ length: 30 }, (_, i) => i));
});

test('a requested segment arrives whole, byte-identical to the origin file', async () => {
  const r = await page.evaluate(() => window.fetchSegment(0, 3));
  const file = segmentFile(3);
  assert.equal(r.status, 'completed');
  assert.equal(r.size, fs.statSync(file).size);
  assert.equal(r.bytes, r.size);
  assert.equal(r.sha256, sha256(file));
});

test('the resume offset b sends only the rest of the segment', async () => {
  const file = segmentFile(5);
  const data = fs.readFileSync(file);
  const from = 100_000;
  const r = await page.evaluate((from) => window.fetchSegment(0, 5, from), from);
  assert.equal(r.status, 'completed');
  assert.equal(r.size, data.length - from);
  assert.equal(r.sha256, crypto.createHash('sha256').update(data.subarray(from)).digest('hex'));
});

test('an unknown segment gets SegmentAbsent', async () => {
  const r = await page.evaluate(() => window.fetchSegment(1, 999));
  assert.equal(r.status, 'absent');
});

test('a malformed frame closes that peer only; the other keeps being served', async () => {
  // "cstr" + SegmentRequest + field 'i' with an unknown item type (0xf0) + "cend".
  const malformed = [0x63, 0x73, 0x74, 0x72, 0x01, 0x69, 0xf0, 0x63, 0x65, 0x6e, 0x64];
  await page.evaluate((bytes) => window.sendRaw(1, bytes), malformed);
  assert.equal(await page.evaluate(() => window.waitClosed(1)), true);
  const r = await page.evaluate(() => window.fetchSegment(0, 7));
  assert.equal(r.status, 'completed');
  assert.equal(r.sha256, sha256(segmentFile(7)));
  const stats = await (await fetch(`${api}/stats`)).json();
  assert.equal(stats.sessionsClosedMalformed, 1);
  assert.match(peer.output(), /closing peer session: malformed command/);
});
