// The load balancer of docs/operations.md, as documented: Debian's HAProxy with
// deploy/haproxy.cfg (the file the page shows, checked here) terminating TLS in front of two
// `swarmcast tracker` nodes clustered on a real redis-server, as the page lays them out.
// WebSocket announces go through it and the viewers, one on each node, find each other; a
// killed node is taken out by the /health checks and its clients reconnect through the
// balancer to the other node; a node that drains (SIGTERM with --drain) leaves the balancer
// and hands its sessions over too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { freePort, repoRoot, startRedis, startTracker, stopProcess } from '../lib/servers.mjs';

const CONFIG = path.join(repoRoot, 'deploy/haproxy.cfg');
const HASH = 'LF5ru/aNcTeuFIVnksyB';
let TRACKER_ARGS;
let redis;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-lb-'));
const nodes = [];
let lb;
let wss;
let statsUrl;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 200 ms until it returns a truthy value; fails after `tries`. */
async function until(what, check, tries = 100) {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v) return v;
    await sleep(200);
  }
  assert.fail(`${what}: not reached`);
}

/** A node's open WebSocket sessions, from its own /metrics. */
async function sessions(node) {
  const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
  return Number(text.match(/^tracker_connections (\d+)$/m)[1]);
}

/** The balancer's view of a node: UP, DOWN, ... (its status page as CSV). */
async function status(name) {
  const csv = await (await fetch(`${statsUrl}/;csv`)).text();
  const [header, ...rows] = csv.trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const row = rows.map((r) => r.split(',')).find((r) => r[0] === 'tracker_nodes' && r[1] === name);
  return row[cols.indexOf('status')];
}

/** Connects through the balancer (retrying, as the SDK does) and announces; resolves once answered. */
async function viewer(n) {
  for (let attempt = 0; ; attempt++) {
    try {
      const ws = new WebSocket(`${wss}/announce`, { rejectUnauthorized: false });
      ws.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const answered = new Promise((resolve) =>
        ws.on('message', (m) => JSON.parse(m).action === 'announce' && resolve()),
      );
      ws.send(JSON.stringify({
        action: 'announce', info_hash: HASH, peer_id: `-SC0100-lbviewer000${n}`, numwant: 0,
        uploaded: 0, downloaded: 0, event: 'started', offers: [],
      }));
      await answered;
      return ws;
    } catch (e) {
      if (attempt >= 20) throw e;
      await sleep(250);
    }
  }
}

before(async () => {
  // The page shows the file as it is: what is tested is what is documented.
  const doc = fs.readFileSync(path.join(repoRoot, 'docs/operations.md'), 'utf8');
  assert.ok(doc.includes('```\n' + fs.readFileSync(CONFIG, 'utf8') + '```\n'), 'docs/operations.md shows deploy/haproxy.cfg verbatim');

  const pem = path.join(dir, 'lb.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
  { stdio: 'ignore' });
  fs.writeFileSync(pem, fs.readFileSync(path.join(dir, 'cert.pem')) + fs.readFileSync(path.join(dir, 'key.pem')));
  redis = await startRedis();
  TRACKER_ARGS = ['--drain', '2', '--redis', redis.url];
  nodes.push(await startTracker({ args: TRACKER_ARGS }), await startTracker({ args: TRACKER_ARGS }));
  const [port, stats] = [await freePort(), await freePort()];
  wss = `wss://127.0.0.1:${port}`;
  statsUrl = `http://127.0.0.1:${stats}`;
  lb = spawn('haproxy', ['-db', '-f', CONFIG], {
    env: {
      ...process.env,
      SWARMCAST_LB_BIND: `127.0.0.1:${port}`,
      SWARMCAST_LB_CERT: pem,
      SWARMCAST_LB_STATS: `127.0.0.1:${stats}`,
      SWARMCAST_TRACKER_1: `127.0.0.1:${nodes[0].port}`,
      SWARMCAST_TRACKER_2: `127.0.0.1:${nodes[1].port}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await until('both nodes up in the balancer', async () =>
    (await status('node1').catch(() => '')) === 'UP' && (await status('node2')) === 'UP');
});

after(async () => {
  if (lb) await stopProcess(lb);
  for (const node of nodes) await node.stop();
  if (redis) await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The peers a node counts in the test swarm: its own and, in a cluster, the other node's. */
async function swarmPeers(node) {
  const r = await fetch(`http://127.0.0.1:${node.port}/channels/${encodeURIComponent(HASH)}`);
  return r.ok ? (await r.json()).peers : 0;
}

/** The first of `viewers` whose session ends: its index and close code. */
function firstClosed(viewers) {
  return Promise.race(viewers.map((ws, i) => ws.closed.then((code) => ({ i, code }))));
}

test('announces over wss:// through HAProxy reach both nodes; a killed node is taken out and its viewer reconnects to the other', async () => {
  const viewers = [await viewer(1), await viewer(2)];
  // Least connections: one viewer on each node.
  assert.deepEqual([await sessions(nodes[0]), await sessions(nodes[1])], [1, 1]);
  // One tracker: each node counts both viewers, its own and the one on the other node.
  await until('each node sees both viewers', async () =>
    (await swarmPeers(nodes[0])) === 2 && (await swarmPeers(nodes[1])) === 2);

  nodes[0].proc.kill('SIGKILL');
  const { i, code } = await firstClosed(viewers);
  assert.notEqual(code, 1000, 'the killed node\'s session ends abnormally');
  await until('the health check takes node1 out', async () => (await status('node1')) === 'DOWN');
  viewers[i] = await viewer(1);
  assert.equal(await sessions(nodes[1]), 2, 'both viewers on the surviving node');
  for (const ws of viewers) ws.terminate();
  await until('sessions gone', async () => (await sessions(nodes[1])) === 0);
});

test('a draining node answers 503 to the health check, leaves the balancer and hands its viewers to the other node', async () => {
  // node1 back on its address; the balancer takes it in again.
  nodes[0] = await startTracker({ port: nodes[0].port, args: TRACKER_ARGS });
  await until('node1 back up', async () => (await status('node1')) === 'UP');
  const viewers = [await viewer(3), await viewer(4)];
  assert.deepEqual([await sessions(nodes[0]), await sessions(nodes[1])], [1, 1]);

  const exited = new Promise((resolve) => nodes[1].proc.once('exit', resolve));
  nodes[1].proc.kill('SIGTERM');
  await until('the draining node is taken out', async () => (await status('node2')) === 'DOWN');
  assert.equal((await fetch(`http://127.0.0.1:${nodes[1].port}/health`)).status, 503);
  // Its session is closed with 1001 within the drain period; the viewer comes back through
  // the balancer, to node1, the only node it sends to now.
  const { i, code } = await firstClosed(viewers);
  assert.equal(code, 1001);
  viewers[i] = await viewer(5);
  assert.equal(await sessions(nodes[0]), 2, 'both viewers on node1');
  assert.equal(await exited, 0, 'the drained node exits cleanly');
  for (const ws of viewers) ws.terminate();
});
