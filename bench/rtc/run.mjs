// Benchmark of the Rust WebRTC peer: server CPU-seconds per GB sent over data channels and
// memory, to one browser connection and to 20, beside the figures measured for the candidate
// stacks before we chose one (docs/rtc.md). Not a test: it prints a table.
//
// Run inside a loopback-only namespace, after a release build (`cargo build --release -p
// swarmcast`; SWARMCAST_BIN picks another binary):
//   scripts/in-netns.sh node bench/rtc/run.mjs [MB to one peer] [MB per peer for 20 peers]
// ANCHOR_BIN=PATH measures a second `swarmcast` binary (an earlier build, say) in the same run,
// alternating with ours transfer by transfer, and prints ours/anchor ratios: on a shared VM
// only figures from one run compare.
// RUNS=N repeats both transfers N times per binary and prints the median with the range:
// CPU per byte varies by up to 2x between runs of the same binary on a shared VM.
// SCTP_MTU=N passes `--sctp-mtu N` to the peer (larger SCTP packets; docs/rtc.md, "CPU").
// The peer serves the test media's segments (hls-ts); the page requests them one after the
// other per connection with P2P Media Loader's own command codec, like a PML peer does.
//
// Idle memory: RSS growth of the peer per connection while IDLE_PEERS (default 200) more
// connections sit open, counted after a warm-up of 10 so that one-time allocations are out
// of the figure. IDLE_ONLY=1 skips the transfers. HEAPTRACK=FILE (with a binary built with
// `--features system-allocator`, whose malloc heaptrack sees) runs the peer under
// heaptrack (writing FILE.zst) and, with IDLE_ONLY, kills it while the idle connections are
// still open, so that `heaptrack_print --print-leaks` lists what they hold.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startOrigin, startProcess } from '../../e2e/lib/servers.mjs';
import { launchBrowser, openPage } from '../../e2e/lib/browser.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ours = process.env.SWARMCAST_BIN
  ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, 'target'), 'release/swarmcast');
const builds = [{ label: 'ours', bin: ours }];
if (process.env.ANCHOR_BIN) builds.push({ label: 'anchor', bin: process.env.ANCHOR_BIN });
for (const { bin } of builds) {
  if (!fs.existsSync(bin)) {
    console.error(`${bin} is missing: run cargo build --release -p swarmcast first`);
    process.exit(1);
  }
}

const oneMb = Number(process.argv[2] ?? 200);
const manyMb = Number(process.argv[3] ?? 10);
const IDLE_PEERS = Number(process.env.IDLE_PEERS ?? 200);
const IDLE_WARMUP = 10;
const IDLE_BATCH = 25; // offers in flight at once from the page
const IDLE_ONLY = process.env.IDLE_ONLY === '1';
const RUNS = Math.max(1, Number(process.env.RUNS ?? 1));
const HEAPTRACK = process.env.HEAPTRACK;
const TICKS = 100; // USER_HZ on Linux
const sctpMtu = process.env.SCTP_MTU ? ['--sctp-mtu', process.env.SCTP_MTU] : [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usage(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))[1]);
  return { cpu, rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
}

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

const origin = await startOrigin();
const ctx = await launchBrowser();

/** Starts `swarmcast peer` from `bin`, seeding the test stream, with its stats API. */
async function startPeer(bin) {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  // PEER_ARGS: extra arguments for `swarmcast peer`, e.g. "--max-message-size 65535".
  const args = ['peer', '--playlist', `${origin.url}/hls-ts/index.m3u8`, '--udp', '127.0.0.1:0', '--http', `127.0.0.1:${port}`,
    ...sctpMtu, ...(process.env.PEER_ARGS ?? '').split(' ').filter(Boolean)];
  const handle = await startProcess(
    HEAPTRACK ? ['-o', HEAPTRACK, bin, ...args] : args,
    { ready: /peer ready/, env: { RUST_LOG: 'warn,swarmcast=info' }, bin: HEAPTRACK ? 'heaptrack' : bin },
  );
  // /proc/PID/comm holds the first 15 bytes of the executable's name.
  const pid = HEAPTRACK ? descendantNamed(handle.proc.pid, path.basename(bin).slice(0, 15)) : handle.proc.pid;
  const [swarm] = await (await fetch(`${api}/swarms`)).json();
  return { handle, pid, api, swarm, stats: async () => (await fetch(`${api}/stats`)).json() };
}

// CPU per GB to `peers` connections of one page, each fetching mbPerPeer MB.
async function transfer(peer, peers, mbPerPeer) {
  const page = await openPage(ctx, `${origin.url}/e2e/rtc-raw.html`);
  await page.evaluate(({ api, hash, peers }) => window.connectPeers(api, hash, peers), { api: peer.api, hash: peer.swarm.info_hash, peers });
  const ids = Array.from({ length: peer.swarm.segments }, (_, i) => i);
  const udpBefore = (await peer.stats()).udp;
  const before = usage(peer.pid);
  const result = await page.evaluate(({ ids, bytes }) => window.stream(ids, bytes), { ids, bytes: mbPerPeer * 1e6 });
  const after = usage(peer.pid);
  const udpAfter = (await peer.stats()).udp;
  await page.close();
  // Binaries from before batched UDP I/O report no `udp` counters.
  const perCall = (n, calls) => (udpAfter && udpBefore
    ? (udpAfter[n] - udpBefore[n]) / Math.max(1, udpAfter[calls] - udpBefore[calls])
    : NaN);
  return {
    mbps: result.bytes / 1e6 / (result.ms / 1000),
    cpuPerGb: (after.cpu - before.cpu) / (result.bytes / 1e9),
    peakMb: after.peakKb / 1024,
    perSend: perCall('datagramsSent', 'sends'),
    perReceive: perCall('datagramsReceived', 'receives'),
  };
}

// Idle cost: RSS growth per open peer connection, before any transfer. The warm-up
// connections take the one-time costs (maps growing, first handshake, thread arenas).
async function idle(peer) {
  const page = await openPage(ctx, `${origin.url}/e2e/rtc-raw.html`);
  const connect = async (n) => {
    for (let done = 0; done < n; done += IDLE_BATCH) {
      const count = Math.min(IDLE_BATCH, n - done);
      await page.evaluate(({ api, hash, count }) => window.connectPeers(api, hash, count), { api: peer.api, hash: peer.swarm.info_hash, count });
    }
  };
  await connect(IDLE_WARMUP);
  await sleep(2000);
  const before = usage(peer.pid);
  await connect(IDLE_PEERS);
  await sleep(3000);
  const after = usage(peer.pid);
  await sleep(10_000);
  const later = usage(peer.pid);
  const { connections } = await peer.stats();
  if (HEAPTRACK && IDLE_ONLY) process.kill(peer.pid, 'SIGKILL'); // the open connections show as leaked
  await page.close();
  return {
    open: connections,
    rssBeforeMb: before.rssKb / 1024,
    kbPerPeer: (after.rssKb - before.rssKb) / IDLE_PEERS,
    kbPerPeerLater: (later.rssKb - before.rssKb) / IDLE_PEERS,
    cpu: later.cpu - after.cpu,
  };
}

const scenarios = [
  { name: `1 peer x ${oneMb} MB`, peers: 1, mb: oneMb },
  { name: `20 peers x ${manyMb} MB`, peers: 20, mb: manyMb },
];
for (const build of builds) build.results = scenarios.map(() => []);
for (const build of builds) {
  const peer = await startPeer(build.bin);
  build.idle = await idle(peer);
  await peer.handle.stop();
}
if (!IDLE_ONLY) {
  // One peer process per binary and run; the order alternates so that neither binary always
  // meets the machine in the same state.
  for (let run = 0; run < RUNS; run++) {
    for (const build of run % 2 ? [...builds].reverse() : builds) {
      const peer = await startPeer(build.bin);
      for (const [i, s] of scenarios.entries()) build.results[i].push(await transfer(peer, s.peers, s.mb));
      await peer.handle.stop();
    }
  }
}
await ctx.close();
await origin.stop();

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
// The median run's figure, and with several runs the range: "11.2 (9.8-14.0)".
function summary(values, digits = 1) {
  const m = median(values).toFixed(digits);
  if (values.length === 1) return m;
  return `${m} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
}
const field = (runs, key) => runs.map((r) => r[key]);

// Earlier figures: ours before batched UDP I/O, and the spike's for the candidate stacks (release
// builds, same machine, docs/rtc.md): CPU-s per GB to 1 browser connection and to 20.
const anchors = [
  ['ours before batched UDP I/O (5 runs)', '9.2-14.0', '9.0-16.3'],
  ['webrtc-rs rtc 0.21 (spike)', '9.3-10.2', '10.9-11.5'],
  ['str0m 0.25 (spike)', '37.5-55.1', '21.5-34.3'],
  ['str0m 0.25, min RTO 100 ms (spike)', '18.2-19.4', '15.3-18.3'],
  ['libdatachannel 0.23 (spike)', '19.4-20.1', '16.4-18.1'],
];
console.log(`\nswarmcast peer (rtc-endpoint on webrtc-rs rtc 0.21), Chromium over loopback, messages of the peer's --max-message-size`);
for (const b of builds) console.log(`${b.label}: ${b.bin}`);
console.log(`SCTP MTU ${process.env.SCTP_MTU ?? 'default (1191)'}; load average at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
if (!IDLE_ONLY) {
  const [one, many] = scenarios;
  const runs = RUNS > 1 ? `, median (range) of ${RUNS} runs` : '';
  console.log(`| server | CPU-s per GB, ${one.name}${runs} | CPU-s per GB, ${many.name}${runs} | MB/s (1 / 20) | Mbit/s per core (1 / 20) | peak RSS MB |`);
  console.log('|---|---|---|---|---|---|');
  for (const b of builds) {
    const cpu = b.results.map((runs) => field(runs, 'cpuPerGb'));
    const mbps = b.results.map((runs) => median(field(runs, 'mbps')).toFixed(1));
    const perCore = cpu.map((c) => (8000 / median(c)).toFixed(0));
    const peak = Math.max(...b.results.flatMap((runs) => field(runs, 'peakMb'))).toFixed(1);
    console.log(`| ${b.label} | ${summary(cpu[0])} | ${summary(cpu[1])} | ${mbps.join(' / ')} | ${perCore.join(' / ')} | ${peak} |`);
  }
  for (const [name, a, b] of anchors) console.log(`| ${name} | ${a} | ${b} | | | |`);
  console.log('| target | <= 10 | <= 10 | | >= 800 | |');
  console.log(`\n| UDP batching (${builds[0].label}, medians) | datagrams per send | datagrams per receive call |`);
  console.log('|---|---|---|');
  for (const [i, s] of scenarios.entries()) {
    const runs = builds[0].results[i];
    console.log(`| ${s.name} | ${median(field(runs, 'perSend')).toFixed(1)} | ${median(field(runs, 'perReceive')).toFixed(1)} |`);
  }
  console.log('');
}
console.log(`| idle peer connections (after ${IDLE_WARMUP}) | open | RSS before | RSS per connection (3 s / 13 s) | CPU-s per 10 s, all of them |`);
console.log('|---|---|---|---|---|');
for (const b of builds) {
  const i = b.idle;
  console.log(`| ${b.label}: ${IDLE_PEERS} | ${i.open ?? '?'} | ${i.rssBeforeMb.toFixed(1)} MB | ${i.kbPerPeer.toFixed(0)} / ${i.kbPerPeerLater.toFixed(0)} KiB (target <= 100) | ${i.cpu.toFixed(2)} |`);
}
if (builds.length === 2) {
  const [a, b] = builds;
  const ratio = (x, y) => (y ? (x / y).toFixed(2) : '-');
  const cpuRatios = IDLE_ONLY ? '' : scenarios.map((s, i) => `CPU-s per GB, ${s.name} ${ratio(median(field(a.results[i], 'cpuPerGb')), median(field(b.results[i], 'cpuPerGb')))}, `).join('');
  console.log(`\nratios ours/anchor (medians): ${cpuRatios}RSS per idle connection ${ratio(a.idle.kbPerPeer, b.idle.kbPerPeer)}`);
}
