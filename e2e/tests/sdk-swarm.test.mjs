// Two Chromium tabs running the Swarmcast SDK play the same stream through `swarmcast tracker`
// and exchange segments both ways, on VOD and on the looping live stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lib/servers.mjs';
import { waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, state, summary } from './sdk-support.mjs';
import { sharedStack } from '../lib/stack.mjs';

const stack = sharedStack();

async function twoTabs(src, params = {}, whilePlaying = async () => {}) {
  const a = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url, { params });
  await sleep(1000);
  const b = await openPlayer(stack.ctx, stack.origin, src, stack.tracker.url, { params });
  const pages = [a, b];
  const starts = [];
  for (const p of pages) {
    starts.push((await waitForState(p, (s) => s.currentTime > 0 || s.fatal, { what: 'playback start' })).currentTime);
  }
  // Bounded wait: 10 s of media played on both, and bytes went both ways.
  const done = (s, i) => s.fatal || (s.currentTime >= starts[i] + 10 && s.bytes?.p2pDown > 0 && s.bytes?.p2pUp > 0);
  const deadline = Date.now() + 120_000;
  let states;
  while (Date.now() < deadline) {
    states = await Promise.all(pages.map(state));
    if (states.every(done)) break;
    await sleep(500);
  }
  const extra = await whilePlaying().catch((e) => e);
  for (const p of pages) await p.close();
  if (extra instanceof Error) throw extra;
  states.forEach((s, i) => {
    const tab = `tab ${'AB'[i]}: ${summary(s)}`;
    assert.equal(s.fatal, null, tab);
    assert.ok(s.currentTime >= starts[i] + 10, `played 10 s; ${tab}`);
    assert.ok(s.peers.length >= 1 || s.bytes.p2pDown > 0, `had a peer; ${tab}`);
    assert.ok(s.bytes.p2pDown > 0, `downloaded from the peer; ${tab}`);
    assert.ok(s.bytes.p2pUp > 0, `uploaded to the peer; ${tab}`);
  });
  return states;
}

test('two SDK tabs share the VOD stream both ways', async () => {
  // Both tabs hold their first media request until they have a peer. Without that, tab A can
  // prefetch the whole 60 s VOD over loopback HTTP before tab B has joined, and then holds
  // everything B could give it: correct, but then nothing goes from B to A. With both in the
  // swarm from the start, the HTTP fetches are split between them and each downloads the
  // other's share.
  const [a, b] = await twoTabs('/hls-ts/index.m3u8', { waitForPeer: 10000 });
  assert.equal(a.live, false);
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'sdk/packages/hlsjs/package.json'), 'utf8'));
  assert.equal(a.version, pkg.version);
  assert.equal(a.protocolVersion, 'v2');
  // Each tab received at most what the other one sent (cancelled transfers send a little more).
  assert.ok(a.bytes.p2pDown <= b.bytes.p2pUp && b.bytes.p2pDown <= a.bytes.p2pUp, `${summary(a)} ${summary(b)}`);
});

/** Every object in a JSON tree (the tracker's channel API shape is its own business). */
function* objects(v) {
  if (v && typeof v === 'object') {
    if (!Array.isArray(v)) yield v;
    for (const x of Object.values(v)) yield* objects(x);
  }
}

test('two SDK tabs share the looping live stream both ways and report stats to the tracker', async () => {
  // The engines report {"action":"stats"} over the tracker socket; the tracker's channel API
  // shows the channel (manifest URL without query) with the bytes the tabs reported.
  const channel = `${stack.origin.url}/live/hls-ts/index.m3u8`;
  const http = stack.tracker.url.replace('ws:', 'http:');
  let found;
  let body;
  const [a] = await twoTabs('/live/hls-ts/index.m3u8', { statsInterval: '2000' }, async () => {
    for (let i = 0; i < 40 && !found; i++) {
      body = await (await fetch(`${http}/channels`)).json();
      found = [...objects(body)].find((o) => o.channel === channel && o.p2p_bytes > 0 && o.http_bytes > 0);
      if (!found) await sleep(500);
    }
  });
  assert.equal(a.live, true);
  assert.ok(found, `tracker shows channel ${channel} with HTTP and P2P bytes: ${JSON.stringify(body)}`);
});

test('live ABR: one swarm per variant, tabs on the same variant share it', async () => {
  const [a, b] = await twoTabs('/live/hls-abr/master.m3u8', { level: '1' });
  assert.equal(a.levels, 3);
  // Swarm ids follow P2P Media Loader 2.3: v2-<manifest URL>-main-<variant short id>.
  for (const s of [a, b]) {
    assert.equal(s.swarms.length, 1, `one variant played: ${s.swarms}`);
    assert.match(s.swarms[0], /^v2-http:\/\/127\.0\.0\.1:\d+\/live\/hls-abr\/master\.m3u8-main-[A-Za-z0-9+/]{27}=$/);
  }
  assert.equal(a.swarms[0], b.swarms[0]);
});
