// Benchmark of the Rust WebRTC peer: server CPU-seconds per GB sent over data channels and
// memory, to one browser connection and to 20, beside the figures measured for the candidate
// stacks before we chose one (docs/rtc.md). Not a test: it prints a table.
//
// Run inside a loopback-only namespace, after a release build (`cargo build --release -p
// swarmcast`; SWARMCAST_BIN picks another binary):
//   scripts/in-netns.sh node bench/rtc/run.mjs [MB to one peer] [MB per peer for 20 peers]
// SCTP_MTU=N passes `--sctp-mtu N` to the peer (larger SCTP packets; docs/rtc.md, "CPU").
// The peer serves the test media's segments (hls-ts); the page requests them one after the
// other per connection with P2P Media Loader's own command codec, like a PML peer does.
//
// Idle memory: RSS growth of the peer per connection while IDLE_PEERS (default 200) more
// connections sit open, counted after a warm-up of 10 so that one-time allocations are out
// of the figure. IDLE_ONLY=1 skips the transfers. HEAPTRACK=FILE runs the peer under
// heaptrack (writing FILE.zst) and, with IDLE_ONLY, kills it while the idle connections are
// still open, so that `heaptrack_print --print-leaks` lists what they hold.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startOrigin, startProcess } from '../../e2e/lib/servers.mjs';
import { launchBrowser, openPage } from '../../e2e/lib/browser.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
process.env.SWARMCAST_BIN ??= path.join(process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, 'target'), 'release/swarmcast');
if (!fs.existsSync(process.env.SWARMCAST_BIN)) {
  console.error(`${process.env.SWARMCAST_BIN} is missing: run cargo build --release -p swarmcast first`);
  process.exit(1);
}

const oneMb = Number(process.argv[2] ?? 200);
const manyMb = Number(process.argv[3] ?? 10);
const IDLE_PEERS = Number(process.env.IDLE_PEERS ?? 200);
const IDLE_WARMUP = 10;
const IDLE_BATCH = 25; // offers in flight at once from the page
const IDLE_ONLY = process.env.IDLE_ONLY === '1';
const HEAPTRACK = process.env.HEAPTRACK;
const TICKS = 100; // USER_HZ on Linux
const sctpMtu = process.env.SCTP_MTU ? ['--sctp-mtu', process.env.SCTP_MTU] : [];

function usage(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))[1]);
  return { cpu, rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
}

const origin = await startOrigin();
const port = await freePort();
const api = `http://127.0.0.1:${port}`;
// PEER_ARGS: extra arguments for `swarmcast peer`, e.g. "--max-message-size 65535".
const peerArgs = ['peer', '--playlist', `${origin.url}/hls-ts/index.m3u8`, '--udp', '127.0.0.1:0', '--http', `127.0.0.1:${port}`,
  ...sctpMtu, ...(process.env.PEER_ARGS ?? '').split(' ').filter(Boolean)];
const peer = await startProcess(
  HEAPTRACK ? ['-o', HEAPTRACK, process.env.SWARMCAST_BIN, ...peerArgs] : peerArgs,
  { ready: /peer ready/, env: { RUST_LOG: 'warn,swarmcast=info' }, ...(HEAPTRACK && { bin: 'heaptrack' }) },
);
// /proc/PID/comm holds the first 15 bytes of the executable's name.
const pid = HEAPTRACK ? descendantNamed(peer.proc.pid, path.basename(process.env.SWARMCAST_BIN).slice(0, 15)) : peer.proc.pid;

// heaptrack runs the peer as a child of its script: the process to watch is below it.
function descendantNamed(pid, name) {
  const children = (p) => fs.readdirSync(`/proc/${p}/task`)
    .flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean));
  const queue = [String(pid)];
  while (queue.length) {
    const p = queue.shift();
    if (fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === name) return Number(p);
    queue.push(...children(p));
  }
  throw new Error(`no ${name} process under ${pid}`);
}
const [swarm] = await (await fetch(`${api}/swarms`)).json();
const ids = Array.from({ length: swarm.segments }, (_, i) => i);
const ctx = await launchBrowser();
const rows = [];

async function scenario(name, peers, mbPerPeer) {
  const page = await openPage(ctx, `${origin.url}/e2e/rtc-raw.html`);
  await page.evaluate(({ api, hash, peers }) => window.connectPeers(api, hash, peers), { api, hash: swarm.info_hash, peers });
  const udpBefore = (await (await fetch(`${api}/stats`)).json()).udp;
  const before = usage(pid);
  const result = await page.evaluate(({ ids, bytes }) => window.stream(ids, bytes), { ids, bytes: mbPerPeer * 1e6 });
  const after = usage(pid);
  const udpAfter = (await (await fetch(`${api}/stats`)).json()).udp;
  // Binaries from before batched UDP I/O report no `udp` counters.
  const perCall = (n, calls) => (udpAfter && udpBefore
    ? ((udpAfter[n] - udpBefore[n]) / Math.max(1, udpAfter[calls] - udpBefore[calls])).toFixed(1)
    : '-');
  const gb = result.bytes / 1e9;
  rows.push({
    name,
    mbps: (result.bytes / 1e6 / (result.ms / 1000)).toFixed(1),
    cpuPerGb: ((after.cpu - before.cpu) / gb).toFixed(1),
    peakMb: (after.peakKb / 1024).toFixed(1),
    perSend: perCall('datagramsSent', 'sends'),
    perReceive: perCall('datagramsReceived', 'receives'),
  });
  await page.close();
}

// Idle cost: RSS growth per open peer connection, before any transfer. The warm-up
// connections take the one-time costs (maps growing, first handshake, thread arenas).
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const idlePage = await openPage(ctx, `${origin.url}/e2e/rtc-raw.html`);
const connect = async (n) => {
  for (let done = 0; done < n; done += IDLE_BATCH) {
    const count = Math.min(IDLE_BATCH, n - done);
    await idlePage.evaluate(({ api, hash, count }) => window.connectPeers(api, hash, count), { api, hash: swarm.info_hash, count });
  }
};
await connect(IDLE_WARMUP);
await sleep(2000);
const idleBefore = usage(pid);
await connect(IDLE_PEERS);
await sleep(3000);
const idleAfter = usage(pid);
await sleep(10_000);
const idleLater = usage(pid);
const stats = await (await fetch(`${api}/stats`)).json();
const idleKbPerPeer = (idleAfter.rssKb - idleBefore.rssKb) / IDLE_PEERS;
const idleLaterKbPerPeer = (idleLater.rssKb - idleBefore.rssKb) / IDLE_PEERS;
const idleCpu = idleLater.cpu - idleAfter.cpu;
if (IDLE_ONLY) {
  if (HEAPTRACK) process.kill(pid, 'SIGKILL'); // the open connections show as leaked
  await peer.stop();
}
await idlePage.close();
await sleep(1000);

if (!IDLE_ONLY) {
  await scenario(`1 peer x ${oneMb} MB`, 1, oneMb);
  await scenario(`20 peers x ${manyMb} MB`, 20, manyMb);
}

await ctx.close();
await peer.stop();
await origin.stop();

// Earlier figures: ours before batched UDP I/O, and the spike's for the candidate stacks (release
// builds, same machine, docs/rtc.md): CPU-s per GB to 1 browser connection and to 20.
const anchors = [
  ['ours before batched UDP I/O (5 runs)', '9.2-14.0', '9.0-16.3'],
  ['webrtc-rs rtc 0.21 (spike)', '9.3-10.2', '10.9-11.5'],
  ['str0m 0.25 (spike)', '37.5-55.1', '21.5-34.3'],
  ['str0m 0.25, min RTO 100 ms (spike)', '18.2-19.4', '15.3-18.3'],
  ['libdatachannel 0.23 (spike)', '19.4-20.1', '16.4-18.1'],
];
const [one, many] = rows;
const perCore = (r) => (8000 / Number(r.cpuPerGb)).toFixed(0);
console.log(`\nswarmcast peer (rtc-endpoint on webrtc-rs rtc 0.21), Chromium over loopback, messages of the peer's --max-message-size`);
console.log(`binary: ${process.env.SWARMCAST_BIN}, SCTP MTU ${process.env.SCTP_MTU ?? 'default (1191)'}`);
console.log(`load average at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
if (!IDLE_ONLY) {
  console.log(`| server | CPU-s per GB, ${one.name} | CPU-s per GB, ${many.name} | MB/s (1 / 20) | Mbit/s per core (1 / 20) | peak RSS MB |`);
  console.log('|---|---|---|---|---|---|');
  console.log(`| ours | ${one.cpuPerGb} | ${many.cpuPerGb} | ${one.mbps} / ${many.mbps} | ${perCore(one)} / ${perCore(many)} | ${many.peakMb} |`);
  for (const [name, a, b] of anchors) console.log(`| ${name} | ${a} | ${b} | | | |`);
  console.log('| target | <= 10 | <= 10 | | >= 800 | |');
  console.log(`\n| UDP batching | datagrams per send | datagrams per receive call |`);
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.perSend} | ${r.perReceive} |`);
  console.log('');
}
console.log(`| idle peer connections (after ${IDLE_WARMUP}) | open | RSS before | RSS per connection (3 s / 13 s) | CPU-s per 10 s, all of them |`);
console.log('|---|---|---|---|---|');
console.log(`| ${IDLE_PEERS} | ${stats.connections ?? '?'} | ${(idleBefore.rssKb / 1024).toFixed(1)} MB | ${idleKbPerPeer.toFixed(0)} / ${idleLaterKbPerPeer.toFixed(0)} KiB (target <= 100) | ${idleCpu.toFixed(2)} |`);
