// Our demo player (web/player, hls.js + the Swarmcast SDK), set up as `swarmcast demo` serves
// it (10-segment live playlist), gets live segments over P2P from a super peer at the SDK's
// default latency. One tab only: the super peer is its only peer, so every P2P byte is the
// super peer's. The super peer answers the SDK's greeting with the byte-range and queued-request
// extensions, so the tab asks it for parts, the next one queued behind the one coming.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot, startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage } from '../lib/browser.mjs';

let origin;
let tracker;
let master;
let ctx;
let tab;

before(async () => {
  origin = await startOrigin({
    liveWindow: 10,
    mounts: {
      '/player': path.join(repoRoot, 'web/player'),
      '/vendor/hls.js': path.join(repoRoot, 'node_modules/hls.js/dist'),
      '/vendor/swarmcast': path.join(repoRoot, 'sdk/packages/hlsjs/dist'),
    },
  });
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 500 });
  ctx = await launchBrowser();
});

after(async () => {
  await tab?.close().catch(() => {});
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});

test('the demo player gets live segments over P2P from the super peer', async (t) => {
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  let worker;
  for (let i = 0; i < 120; i++) {
    worker = (await master.call('GET', `/stats/${pid}`)).body;
    if (worker.signal && worker.segments >= 3) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(worker.signal, JSON.stringify(worker));

  // The player's default stream is the looping live one, from the page's own origin.
  tab = await openPage(ctx, `${origin.url}/player/?tracker=${encodeURIComponent(tracker.url)}`);
  let seen;
  for (let i = 0; i < 180; i++) {
    seen = await tab.evaluate(() => ({
      peers: window.__engine?.getPeers() ?? [],
      bytes: window.__engine?.core.getByteCounters(),
      error: document.getElementById('err')?.textContent,
    }));
    if (seen.peers.includes(worker.peerId) && seen.bytes.p2pDown > 1_000_000 && seen.bytes.queuedParts > 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  t.diagnostic(`player: ${JSON.stringify(seen)}`);
  assert.deepEqual(seen.peers, [worker.peerId], 'the super peer is the player’s only peer');
  assert.ok(seen.bytes.p2pDown > 1_000_000, `P2P bytes from the super peer: ${JSON.stringify(seen)}`);
  // A part queued behind another is only ever asked of a peer that said it takes them.
  assert.ok(seen.bytes.queuedParts > 0, `parts queued at the super peer: ${JSON.stringify(seen)}`);
  assert.deepEqual(tab.errors, [], 'no page errors');
});
