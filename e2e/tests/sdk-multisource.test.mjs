// One segment from several peers at once (our byte-range extension). Three tabs watch the live
// stream with their upload capped far below its bitrate (`maxUploadKbps`, 0.35 × the 360p
// rendition's); a fourth joins and must take its segments from them: no one of them can send a
// segment in time alone, so the fourth, fetching one segment at a time from peers, assembles
// segments from parts sent by two or three of them at once, HTTP `Range` filling what they can't. What it plays must be the origin's bytes,
// with no stall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPlayedOrigin, drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, state, streamBitrate, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const VOD = '/hls-ts/index.m3u8';
const stack = sharedStack();

test('peers each capped below the bitrate deliver segments together, in parts, in time', async (t) => {
  const cap = Math.round((0.35 * (await streamBitrate(stack.origin, VOD))) / 1000);
  const capped = { cfg: JSON.stringify({ maxUploadKbps: cap }) };
  const senders = [];
  for (let i = 0; i < 3; i++) {
    senders.push(await openPlayer(stack.ctx, stack.origin, VOD, stack.tracker.url, { params: capped }));
    await sleep(1000);
  }
  // Each holds the first half minute or more (hls.js buffers 30 s ahead) and is connected to the others.
  for (const s of senders) await waitForState(s, (x) => x.fatal || x.currentTime >= 8, { what: 'a capped tab 8 s in', timeoutMs: 90_000 });
  // One segment at a time from peers (instead of three), so that every idle holder joins the
  // segment under way rather than each starting another one.
  const oneAtATime = { cfg: JSON.stringify({ maxUploadKbps: cap, scheduler: { simultaneousP2PDownloads: 1 } }) };
  const viewer = await openPlayer(stack.ctx, stack.origin, VOD, stack.tracker.url, { params: oneAtATime });
  const start = (await waitForState(viewer, (s) => s.fatal || s.currentTime > 0, { what: 'the fourth tab playing', timeoutMs: 60_000 })).currentTime;
  // Bounded: 30 s of play, or until enough segments came from several peers.
  const end = await waitForState(viewer, (s) => s.fatal || (s.currentTime >= start + 30 && s.bytes?.multiPeerSegments >= 3), {
    what: 'the fourth tab playing 30 s with segments from several peers',
    timeoutMs: 90_000,
  }).catch(() => state(viewer));
  const checker = new PlayedChecker();
  await checker.add('viewer', await drainPlayed(viewer));
  const others = await Promise.all(senders.map(state));
  for (const p of [viewer, ...senders]) await p.close();

  const share = end.bytes.p2pDown / Math.max(1, end.bytes.p2pDown + end.bytes.httpDown);
  t.diagnostic(`cap ${cap} kbit/s; viewer: share ${share.toFixed(2)}, ${summary(end)}`);
  assert.equal(end.fatal, null, summary(end));
  for (const s of others) assert.equal(s.fatal, null, summary(s));
  assert.ok(end.currentTime >= start + 30, `played 30 s: ${summary(end)}`);
  // One peer at a time, no segment would hold bytes of two (sdk-single in bench/swarm).
  assert.ok(end.bytes.multiPeerSegments >= 1, `segments assembled from parts of several peers: ${summary(end)}`);
  // A capped sender's next part is asked for while its current one still comes (queued requests).
  assert.ok(end.bytes.queuedParts >= 1, `parts asked for queued behind the one under way: ${JSON.stringify(end.bytes)}`);
  assert.ok(share > 0.1, `a share of the viewer's bytes came from the capped peers: ${summary(end)}`);
  assert.equal(end.bytes.badSegments, 0, `every segment from peers matched the published digests: ${summary(end)}`);
  assert.equal(end.rebuffers, 0, `no stall: ${summary(end)}`);
  assertPlayedOrigin(checker);
});
