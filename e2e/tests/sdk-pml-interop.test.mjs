// A mixed swarm: one tab with the Swarmcast SDK, one with unmodified P2P Media Loader 2.3.1
// (p2p-media-loader-hlsjs from npm). Same tracker, same swarm ids, same wire protocol: segments
// go both ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, startTracker, state, summary } from './sdk-support.mjs';

let origin;
let tracker;
let ctx;
before(async () => {
  // A long live window: PML plays (window - 1) segments behind the edge and takes from peers
  // only what is more than 15 s ahead of its playhead, so it needs room behind the edge.
  origin = await startOrigin({ liveWindow: 24 });
  tracker = await startTracker();
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await tracker?.stop();
  await origin?.stop();
});

test('Swarmcast SDK and P2P Media Loader 2.3.1 exchange VOD segments both ways', async () => {
  const src = '/hls-ts/index.m3u8';
  // PML first, so it holds early segments when our tab starts; our tab prefetches the later
  // ones from the origin and PML takes those from us.
  const pml = await openPlayer(ctx, origin, src, tracker.url, { pml: true });
  const pmlStart = (await waitForState(pml, (s) => s.currentTime > 0 || s.fatal, { what: 'PML playback' })).currentTime;
  await sleep(4000);
  const ours = await openPlayer(ctx, origin, src, tracker.url);
  const ourStart = (await waitForState(ours, (s) => s.currentTime > 0 || s.fatal, { what: 'SDK playback' })).currentTime;
  const deadline = Date.now() + 120_000;
  let o;
  let p;
  while (Date.now() < deadline) {
    [o, p] = await Promise.all([state(ours), state(pml)]);
    if (o.fatal || p.fatal) break;
    if (o.currentTime >= ourStart + 10 && p.currentTime >= pmlStart + 10 && o.bytes?.p2pDown > 0 && o.bytes?.p2pUp > 0 && p.bytes.p2pDown > 0 && p.bytes.p2pUp > 0) break;
    await sleep(500);
  }
  await ours.close();
  await pml.close();
  const msg = `ours: ${summary(o)}; pml: ${summary(p)}`;
  assert.equal(o.fatal, null, msg);
  assert.equal(p.fatal, null, msg);
  assert.ok(o.currentTime >= ourStart + 10 && p.currentTime >= pmlStart + 10, `both played 10 s; ${msg}`);
  assert.ok(o.bytes.p2pDown > 0, `we downloaded from PML; ${msg}`);
  assert.ok(p.bytes.p2pDown > 0, `PML downloaded from us; ${msg}`);
  assert.ok(o.bytes.p2pUp > 0 && p.bytes.p2pUp > 0, `both uploaded; ${msg}`);
});

test('a live swarm of the Swarmcast SDK and P2P Media Loader 2.3.1 shares segments', async () => {
  // Which side gives depends on who plays further behind the live edge; both directions are
  // the same protocol, so this checks the live path (media-sequence ids) across implementations.
  const src = '/live/hls-ts/index.m3u8';
  const ours = await openPlayer(ctx, origin, src, tracker.url);
  const ourStart = (await waitForState(ours, (s) => s.currentTime > 0 || s.fatal, { what: 'SDK playback' })).currentTime;
  const pml = await openPlayer(ctx, origin, src, tracker.url, { pml: true });
  const pmlStart = (await waitForState(pml, (s) => s.currentTime > 0 || s.fatal, { what: 'PML playback' })).currentTime;
  const deadline = Date.now() + 90_000;
  let o;
  let p;
  while (Date.now() < deadline) {
    [o, p] = await Promise.all([state(ours), state(pml)]);
    if (o.fatal || p.fatal) break;
    const exchanged = o.bytes?.p2pDown + p.bytes.p2pDown;
    if (o.currentTime >= ourStart + 10 && p.currentTime >= pmlStart + 10 && exchanged > 1_000_000) break;
    await sleep(500);
  }
  await ours.close();
  await pml.close();
  const msg = `ours: ${summary(o)}; pml: ${summary(p)}`;
  assert.equal(o.fatal, null, msg);
  assert.equal(p.fatal, null, msg);
  assert.ok(o.currentTime >= ourStart + 10 && p.currentTime >= pmlStart + 10, `both played 10 s; ${msg}`);
  assert.ok(o.bytes.p2pDown + p.bytes.p2pDown > 1_000_000, `live segments went over P2P; ${msg}`);
  // What one side received, the other sent.
  assert.ok(o.bytes.p2pDown <= p.bytes.p2pUp && p.bytes.p2pDown <= o.bytes.p2pUp, msg);
});
