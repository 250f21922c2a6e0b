// A super peer seeds a plain file: a channel whose URL is an MP4 is one swarm of its pieces,
// fetched from the origin by `Range` as viewers ask for them. A lone P2PEngineMedia tab (no
// other viewer) takes pieces from it, and every byte its element got is the origin's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { checkServed, mediaSummary, openMedia, pieceFolders, playedAtLeast } from './media-support.mjs';

let origin;
let tracker;
let master;
let folders;
let ctx;
before(async () => {
  folders = await pieceFolders({ sp: { file: 'progressive.mp4', pieceLength: 512 * 1024 } });
  origin = await startOrigin({ mounts: { '/m': folders.dir } });
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 500 });
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
  folders?.remove();
});

test('a super peer seeds an MP4 by pieces to a tab that has no other peer', async () => {
  const file = `${origin.url}/m/sp/progressive.mp4`;
  const channel = Buffer.from(file).toString('base64url');
  const seeded = await master.call('POST', '/seed', { list: [{ channel, live: false, keepAlive: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.signal, 180);
  assert.ok(worker.signal, JSON.stringify(worker));
  // The page's swarm is named after the file's URL (the default channelId), as the channel is.
  const tab = await openMedia(ctx, origin, '/m/sp/progressive.mp4', { tracker: tracker.url, disk: '0' });
  const s = await waitForState(tab, (x) => x.errors.length > 0 || (x.currentTime >= 8 && x.bytes?.p2pDown > 0), {
    what: '8 s played with pieces from the super peer',
    timeoutMs: 90_000,
  });
  assert.deepEqual(s.errors, [], mediaSummary(s));
  assert.ok(s.peers.includes(worker.peerId), `the super peer is the tab's peer; ${mediaSummary(s)}`);
  assert.ok(s.bytes.p2pDown > 0, mediaSummary(s));
  assert.equal(s.bytes.badSegments + s.bytes.unverified, 0, `its pieces matched the published digests; ${mediaSummary(s)}`);
  assert.equal(s.rebuffers, 0, mediaSummary(s));
  const after = await playedAtLeast(tab, 10);
  const checker = await checkServed([tab]);
  assert.ok(checker.checked > 0);
  assert.deepEqual(checker.mismatches, [], checker.summary());
  const w = await master.poll(`/stats/${pid}`, (x) => x.originKB > 0, 20);
  console.log(`super peer: tab ${mediaSummary(after)}; worker origin ${w.originKB} KiB`);
});
