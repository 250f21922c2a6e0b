// A super peer seeds a plain file: a channel whose URL is an MP4 is one swarm of its pieces,
// fetched from the origin by `Range` as viewers ask for them. A lone P2PEngineMedia tab (no
// other viewer) takes pieces from it, and every byte its element got is the origin's: with the
// default piece length, and with a page's own `pieceLength` given in the seed (another swarm).
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
  folders = await pieceFolders({
    sp: { file: 'progressive.mp4', pieceLength: 512 * 1024 },
    sp256: { file: 'progressive.mp4', pieceLength: 256 * 1024 },
  });
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

/**
 * Seeds `path` (with `pieceLength` in the seed item unless undefined), opens a lone tab with the
 * same piece length and checks it played pieces from the worker that match the origin's bytes.
 */
async function seedsATab(path, pieceLength) {
  const file = `${origin.url}${path}`;
  const channel = Buffer.from(file).toString('base64url');
  const item = { channel, live: false, keepAlive: true, ...(pieceLength ? { pieceLength } : {}) };
  const seeded = await master.call('POST', '/seed', { list: [item] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.signal, 180);
  assert.ok(worker.signal, JSON.stringify(worker));
  assert.equal(worker.pieceLength, pieceLength ?? null, JSON.stringify(worker));
  // The page's swarm is named after the file's URL (the default channelId), as the channel is,
  // and after its piece length unless the default.
  const params = { tracker: tracker.url, disk: '0', ...(pieceLength ? { piece: String(pieceLength) } : {}) };
  const tab = await openMedia(ctx, origin, path, params);
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
  console.log(`super peer (${pieceLength ?? 'default'} B pieces): tab ${mediaSummary(after)}; worker origin ${w.originKB} KiB`);
  await tab.close();
}

test('a super peer seeds an MP4 by pieces to a tab that has no other peer', async () => {
  await seedsATab('/m/sp/progressive.mp4');
});

test('a super peer seeds an MP4 in a page\'s own pieceLength (256 KiB) to a tab that has no other peer', async () => {
  // A length the worker cannot hold is refused with the range, before anything starts.
  const channel = Buffer.from(`${origin.url}/m/sp256/progressive.mp4`).toString('base64url');
  const refused = await master.call('POST', '/seed', { list: [{ channel, pieceLength: 1000 }] });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.match(refused.body.error, /^list\[0\]\.pieceLength: .*16384\.\.=4194304/);
  await seedsATab('/m/sp256/progressive.mp4', 256 * 1024);
  // The same file at the default length is another channel: the seeded one is left as it is.
  const both = await master.call('POST', '/seed', { list: [{ channel, pieceLength: 256 * 1024 }, { channel }] });
  assert.equal(both.status, 200, JSON.stringify(both.body));
  assert.deepEqual(both.body.channels.map((c) => c.action), ['updated', 'started'], JSON.stringify(both.body));
  const stats = await master.call('GET', '/stats');
  const ids = stats.body.channels.filter((c) => c.channel === channel).map((c) => [c.channelId, c.pieceLength]);
  const file = `${origin.url}/m/sp256/progressive.mp4`;
  assert.deepEqual(ids.sort((a, b) => (a[1] ?? 0) - (b[1] ?? 0)), [[file, null], [`${file}#pieces-262144`, 262144]], JSON.stringify(stats.body.channels));
});
