// The console and a super peer's master plan as one: with automatic seeding on and a channel
// seeded with maxConnections 1, the master's scale-out (a second worker when the first is
// full) is kept by the console's rounds, not stopped as a duplicate. The viewers are unmodified
// P2P Media Loader tabs, which report no stats: the console knows the channel from its list.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startProcess, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

let origin;
let tracker;
let master;
let consoleProc;
let consoleUrl;
let ctx;
const tabs = [];

before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  master = await startSuperPeer({ signal1: tracker.url, maxWorkers: 3, statsIntervalMs: 500 });
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  consoleProc = await startProcess([
    'console', '--listen', '127.0.0.1:0', '--database', ':memory:',
    '--tracker', tracker.url.replace('ws://', 'http://'),
    '--super-peer', `${master.api},bandwidth=1000,label=sp-1`,
    '--channel', manifest,
    '--seed-max-connections', '1',
    '--seed-interval', '1', '--health-interval', '1', '--traffic-interval', '1',
  ], { ready: /console listening on http:\/\/[\d.:]+/ });
  consoleUrl = consoleProc.output().match(/console listening on (http:\/\/[\d.:]+)/)[1];
  ctx = await launchBrowser();
});
after(async () => {
  for (const tab of tabs) await tab.close().catch(() => {});
  await ctx?.close();
  await consoleProc?.stop();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
});

const api = async (p) => (await fetch(`${consoleUrl}/api${p}`)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('auto-seeding keeps the workers a busy channel scaled out to', async () => {
  const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
  const channel = Buffer.from(manifest).toString('base64url');
  const url = `${origin.url}/e2e/superpeer-pml.html?src=${encodeURIComponent(manifest)}&tracker=${encodeURIComponent(tracker.url)}`;

  // One viewer: the console seeds the listed channel (the viewer reports nothing).
  tabs.push(await openPage(ctx, url));
  let ch = await master.poll(`/stats/${channel}`, (c) => c.workers?.[0]?.signal, 240);
  assert.ok(ch.workers?.[0]?.signal, `the console seeded the channel: ${JSON.stringify(ch)}`);
  assert.equal(ch.workers[0].maxConnections, 1, JSON.stringify(ch.workers[0]));
  const first = ch.workers[0];
  const s1 = await waitForState(tabs[0], (st) => st.peers.includes(first.peerId) || st.fatal, {
    what: 'the first viewer connected to the worker',
    timeoutMs: 90_000,
  });
  assert.equal(s1.fatal, null, `errors: ${s1.errors}`);

  // A second viewer: the full worker makes the master add one; the new worker's offers reach it.
  tabs.push(await openPage(ctx, url));
  ch = await master.poll(`/stats/${channel}`, (c) => c.workers?.filter((w) => w.peers >= 1).length >= 2, 240);
  const busy = ch.workers.filter((w) => w.peers >= 1);
  assert.ok(busy.length >= 2, `two workers with a viewer each: ${JSON.stringify(ch.workers)}`);
  const pids = busy.map((w) => w.pid).sort();

  // Ten console rounds later (one a second), both are still there, and nothing was stopped.
  await sleep(10_000);
  ch = (await master.call('GET', `/stats/${channel}`)).body;
  const still = ch.workers.map((w) => w.pid);
  for (const pid of pids) assert.ok(still.includes(pid), `worker ${pid} kept: ${JSON.stringify(ch.workers)}`);
  const decisions = await api('/decisions?limit=500');
  assert.deepEqual(decisions.filter((d) => d.action === 'stop'), [], `no stop decided: ${JSON.stringify(decisions)}`);
  assert.ok(decisions.some((d) => d.action === 'seed' && d.channel === manifest), `seeded by the console: ${JSON.stringify(decisions)}`);
  // The console sees it as one channel with both workers, on one super peer.
  const channels = await api('/channels');
  const row = channels.channels.find((c) => c.channel === manifest);
  assert.ok(row, `the listed channel is ranked: ${JSON.stringify(channels)}`);
  assert.equal(row.viewers, 2, JSON.stringify(row));
  assert.ok(row.seeded_on.length >= 2, `both workers shown: ${JSON.stringify(row.seeded_on)}`);
  for (const tab of tabs) assert.equal((await tab.evaluate(() => window.__state)).fatal, null);
});
