// Two `swarmcast tracker` nodes clustered on a real redis-server: a P2P Media Loader tab (the
// bittorrent-tracker client) on node A and a Swarmcast SDK tab on node B exchange offers,
// answers and segments through the two nodes; then node A is killed mid-stream and its tab,
// which has node B as backup, re-announces there: a viewer that joins node B afterwards finds
// it and they share segments.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startRedis } from '../lib/servers.mjs';
import { assertPlayedOrigin, drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, startTracker, state, summary } from './sdk-support.mjs';

let origin;
let redis;
let nodes = [];
let ctx;
before(async () => {
  // A long live window: PML plays (window - 1) segments behind the edge (see sdk-pml-interop).
  origin = await startOrigin({ liveWindow: 24 });
  redis = await startRedis();
  for (let i = 0; i < 2; i++) nodes.push(await startTracker({ args: ['--redis', redis.url, '--node-ttl', '3'] }));
  for (const n of nodes) await waitFor(async () => (await cluster(n))?.nodes === 2, 'both nodes in the cluster');
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  for (const n of nodes) await n.stop();
  await redis?.stop();
  await origin?.stop();
  for (const n of nodes) assert.doesNotMatch(n.output(), /panicked/, 'no node panicked');
});

const http = (node) => `http://127.0.0.1:${node.port}`;
async function cluster(node) {
  const res = await fetch(`${http(node)}/cluster`).catch(() => null);
  return res?.ok ? res.json() : null;
}
async function metric(node, name) {
  const text = await (await fetch(`${http(node)}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
}
async function waitFor(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`never happened: ${what}`);
}
const p2p = (s) => (s.bytes?.p2pDown ?? 0) + (s.bytes?.p2pUp ?? 0);


test('a P2P Media Loader tab on node A and an SDK tab on node B share segments', async () => {
  const [a, b] = nodes;
  const src = '/hls-ts/index.m3u8';
  const pml = await openPlayer(ctx, origin, src, a.url, { pml: true });
  const pmlStart = (await waitForState(pml, (s) => s.currentTime > 0 || s.fatal, { what: 'PML playback' })).currentTime;
  await sleep(4000);
  const ours = await openPlayer(ctx, origin, src, b.url);
  const deadline = Date.now() + 90_000;
  let o;
  let p;
  while (Date.now() < deadline) {
    [o, p] = await Promise.all([state(ours), state(pml)]);
    if (o.fatal || p.fatal) break;
    if (p.currentTime >= pmlStart + 5 && o.bytes?.p2pDown > 0 && p.bytes?.p2pUp > 0) break;
    await sleep(500);
  }
  const checker = new PlayedChecker();
  await checker.add('ours', await drainPlayed(ours));
  await ours.close();
  await pml.close();
  const msg = `SDK on B: ${summary(o)}; PML on A: ${summary(p)}`;
  assert.equal(o.fatal, null, msg);
  assert.equal(p.fatal, null, msg);
  assert.ok(o.bytes.p2pDown > 0 && p.bytes.p2pUp > 0, `the SDK tab got segments from the PML tab; ${msg}`);
  // Their offers and answers crossed: each node delivered some from the other.
  for (const n of [a, b]) assert.ok((await metric(n, 'tracker_cluster_relays_in_total')) > 0, 'relays crossed nodes');
  assert.equal(await metric(a, 'tracker_cluster_relays_dropped_total'), 0);
  assertPlayedOrigin(checker);
});

test('a node killed mid-stream: its tab moves to the backup node and keeps meeting peers', async () => {
  const [a, b] = nodes;
  const src = '/live/hls-ts/index.m3u8';
  const x = await openPlayer(ctx, origin, src, a.url, { params: { backup: b.url } });
  await sleep(1000);
  const y = await openPlayer(ctx, origin, src, b.url);
  for (const t of [x, y]) {
    await waitForState(t, (s) => s.fatal || (s.currentTime > 0 && p2p(s) > 0), { what: 'P2P across nodes', timeoutMs: 90_000 });
  }
  a.proc.kill('SIGKILL');
  await waitForState(x, (s) => s.fatal || s.serverConnected === false, { what: 'tab X saw node A go' });
  await waitForState(x, (s) => s.fatal || s.serverConnected === true, { what: 'tab X reconnected to node B', timeoutMs: 30_000 });
  // Only X remains with Y gone: a newcomer on node B can only have found X through node B.
  const checker = new PlayedChecker();
  await checker.add('y', await drainPlayed(y));
  await y.close();
  const z = await openPlayer(ctx, origin, src, b.url);
  const zs = await waitForState(z, (s) => s.fatal || (s.currentTime > 0 && p2p(s) > 0), { what: 'tab Z exchanged segments with X', timeoutMs: 90_000 });
  const xs = await state(x);
  for (const [name, tab] of [['x', x], ['z', z]]) await checker.add(name, await drainPlayed(tab));
  await x.close();
  await z.close();
  assert.equal(zs.fatal, null, summary(zs));
  assert.equal(xs.fatal, null, summary(xs));
  assert.ok(p2p(zs) > 0, `Z met X on node B: ${summary(zs)}`);
  assert.match(a.output(), /cluster \w+: node \w+ joined/, 'node A had joined the cluster');
  await waitFor(() => /cluster node \w+ fell silent/.test(b.output()), 'node B dropped the killed node (--node-ttl 3)');
  assertPlayedOrigin(checker);
});
