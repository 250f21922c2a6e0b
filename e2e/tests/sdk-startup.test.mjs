// Startup never waits for the swarm unless the page asks for it. The tracker here accepts TCP
// connections and never answers (a black hole: the engine's WebSocket stays "connecting"), so
// no peer can ever be found. By default the first segments go to HTTP and playback starts; with
// `waitForPeer` the first media request is held for `waitForPeerTimeout`, then goes to HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startOrigin } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { openPlayer, summary } from './sdk-support.mjs';

let origin;
let ctx;
let blackHole;
let trackerUrl;
let trackerConnections = 0;
const held = [];
before(async () => {
  origin = await startOrigin();
  blackHole = net.createServer((socket) => {
    trackerConnections++;
    held.push(socket);
    socket.on('error', () => {});
  });
  await new Promise((r) => blackHole.listen(0, '127.0.0.1', r));
  trackerUrl = `ws://127.0.0.1:${blackHole.address().port}`;
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  for (const s of held) s.destroy();
  await new Promise((r) => (blackHole ? blackHole.close(r) : r()));
  await origin?.stop();
});

/** Page-side timing of the media segment requests (ms on the page's clock) and engine creation. */
const requestTimes = (page) =>
  page.evaluate(() => ({
    engineAt: window.__state.engineCreatedAt,
    segments: performance.getEntriesByType('resource').filter((e) => /\.ts(\?|$)/.test(e.name)).map((e) => e.startTime),
  }));

test('by default the first segments go to HTTP at once while the tracker never answers', async () => {
  const page = await openPlayer(ctx, origin, '/live/hls-ts/index.m3u8', trackerUrl);
  const s = await waitForState(page, (x) => x.fatal || (x.currentTime > 0 && x.sources.http > 0 && x.startupMs !== null), { what: 'playback on HTTP' });
  const timing = await requestTimes(page);
  await page.close();
  assert.equal(s.fatal, null, summary(s));
  assert.ok(trackerConnections >= 1, 'the engine did try the tracker');
  assert.equal(s.serverConnected, false, 'the tracker never answered');
  assert.equal(s.peers.length, 0, summary(s));
  assert.equal(s.sources.p2p + s.sources.mixed, 0, summary(s));
  assert.ok(timing.segments.length >= 1, 'segments were requested by HTTP');
});

test('with waitForPeer the first media request waits for waitForPeerTimeout, then HTTP', async () => {
  const waitS = 3;
  const page = await openPlayer(ctx, origin, '/live/hls-ts/index.m3u8', trackerUrl, { params: { waitForPeer: String(waitS) } });
  const s = await waitForState(page, (x) => x.fatal || x.currentTime > 0, { what: 'playback after the wait', timeoutMs: 90_000 });
  const timing = await requestTimes(page);
  await page.close();
  assert.equal(s.fatal, null, summary(s));
  assert.ok(timing.segments.length >= 1, 'segments were requested by HTTP');
  // A lower bound only: load can delay the request further, never bring it forward. The
  // engine's clock (Date.now) and the page's (performance.now) may differ by a few ms.
  const first = Math.min(...timing.segments);
  assert.ok(first >= timing.engineAt + waitS * 1000 - 100, `first segment requested ${Math.round(first - timing.engineAt)} ms after the engine was created`);
});

test('statics, restartP2p and HLSJS_EXPT', async () => {
  const page = await openPlayer(ctx, origin, '/no/such/stream.m3u8', trackerUrl);
  const s = await waitForState(page, (x) => x.fatal !== null, { what: 'fatal hls.js error' });
  const before = trackerConnections;
  const api = await page.evaluate(async () => {
    const E = window.SwarmcastHls.HlsJsP2PEngine;
    const engine = window.__engine;
    const out = {
      webrtc: E.isWebRTCSupported(),
      mse: E.isMSESupported(),
      sw: E.isServiceWorkerSupported(),
      swMisspelled: E.isSeviceWorkerSupported(),
      p2pBefore: engine.p2pEnabled,
    };
    engine.restartP2p();
    out.p2pAfter = engine.p2pEnabled;
    await new Promise((r) => setTimeout(r, 1000));
    return out;
  });
  await page.close();
  assert.ok(s.exceptions.includes('HLSJS_EXPT'), `fatal hls.js error reported: ${JSON.stringify(s.exceptions)} ${s.fatal}`);
  assert.deepEqual(api, { webrtc: true, mse: true, sw: true, swMisspelled: true, p2pBefore: true, p2pAfter: true });
  assert.ok(trackerConnections > before, 'restartP2p opened a new tracker socket');
});
