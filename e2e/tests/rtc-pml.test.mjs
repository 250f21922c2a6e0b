// Interop: unmodified P2P Media Loader 2.3.1 + hls.js in Chromium plays a VOD stream and
// downloads segments over WebRTC from a Rust `swarmcast peer`, which found the tab's swarm by
// deriving the same swarm id, joined it through `swarmcast tracker` and answered the tab's
// relayed offers. The bytes PML accepted from the peer equal the origin's files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { mediaDir, startOrigin, startProcess, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

const PEER_ID = '-SC0001-rustpeer0001';
let origin;
let tracker;
let peer;
let ctx;
let trackerUrl;

before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  trackerUrl = tracker.url;
  peer = await startProcess(
    ['peer', '--playlist', `${origin.url}/hls-abr/master.m3u8`, '--tracker', trackerUrl, '--udp', '127.0.0.1:0', `--peer-id=${PEER_ID}`],
    { ready: /announced to the tracker/ },
  );
  ctx = await launchBrowser();
});

after(async () => {
  await ctx?.close();
  await peer?.stop();
  await tracker?.stop();
  await origin?.stop();
});

test('PML + hls.js plays while downloading segments from the Rust peer over P2P', async () => {
  const media = await mediaDir();
  const src = `${origin.url}/hls-abr/master.m3u8`;
  const page = await openPage(
    ctx,
    `${origin.url}/e2e/rtc-pml.html?src=${encodeURIComponent(src)}&tracker=${encodeURIComponent(trackerUrl)}`,
  );
  const state = await waitForState(
    page,
    (s) => s.fatal || (s.currentTime > 10 && (s.p2pBytesByPeer[PEER_ID] ?? 0) > 0 && Object.keys(s.p2pSegments).length > 0),
    { what: 'playback past 10 s with P2P bytes from the Rust peer', timeoutMs: 120_000 },
  );
  assert.equal(state.fatal, null, `errors: ${state.errors}`);
  assert.ok(state.peerIds.includes(PEER_ID), `connected peers: ${state.peerIds}`);
  assert.ok(state.p2pBytesByPeer[PEER_ID] > 0, JSON.stringify(state.p2pBytesByPeer));
  assert.ok(state.currentTime > 10, `played ${state.currentTime} s`);
  assert.deepEqual(state.trackerErrors, []);

  // Every segment PML accepted over P2P is byte-identical to the origin's file.
  const p2p = Object.entries(state.p2pSegments);
  assert.ok(p2p.length > 0);
  for (const [urlPath, sha] of p2p) {
    const file = path.join(media, urlPath);
    const expected = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    assert.equal(sha, expected, `${urlPath} over P2P equals the origin file`);
  }
  const fromRust = state.segmentsLoaded.filter((s) => s.source === 'p2p' && s.peerId === PEER_ID);
  assert.ok(fromRust.length > 0, `segments loaded from the Rust peer: ${JSON.stringify(state.segmentsLoaded)}`);
  assert.equal(page.errors.filter((e) => !/favicon/.test(e)).length, 0, page.errors.join('\n'));
  await page.close();
});
