#!/usr/bin/env node
// Swarm benchmark: N Chromium tabs watch the looping live 360p stream, first with plain hls.js
// (control), then with the Swarmcast SDK, then with P2P Media Loader 2.3.1, each run on the same
// stream for the same time. Prints per run: origin bytes, P2P share, startup, rebuffers, and the
// theoretical best share (N-1)/N.
//
// The SDK checks every segment it takes from peers against the digests the origin publishes
// beside each live playlist; `sdk-nocheck` is the SDK with those checks off, and the SDK rows
// print what the checks cost (bytes checked, milliseconds spent, MB/s, share of wall time).
//
// With `--player shaka` the same runs use Shaka Player on the looping live DASH stream (360p
// pinned): Shaka alone, @swarmcast/shaka, and unmodified p2p-media-loader-shaka 2.2.2.
//
// `sdk-single` is the SDK taking each segment from one peer at a time (`multiSource: false`);
// `--max-upload-kbps N` caps what every SDK tab serves (`maxUploadKbps`, the SDK's own token
// bucket; P2P Media Loader has no such cap), to compare both below the stream's bitrate. With
// uploads capped (that, or `--upload-cap-kbps` under `--net`) each run also prints the ceiling
// the caps set on the P2P share and how much of the caps the tabs used.
//
// With `--net lan|realistic` (root, inside scripts/in-netns.sh) every viewer is its own Chromium
// in its own network namespace behind a shaped access link (net/viewer-net.mjs), the servers on
// a bridge; `realistic` draws each viewer's link from the simulator's distribution by `--seed`;
// `--upload-cap-kbps N` sets every viewer's access uplink instead (the network's cap).
//
// `--baseline FILE` adds the run `sdk-baseline`: the SDK page with FILE served in place of the
// built `@swarmcast/hlsjs` bundle (a copy of an earlier build), so that a change is measured
// against what came before it in the same invocation, beside the same control.
//
// Usage: node bench/swarm/run.mjs [--tabs 10] [--seconds 60] [--runs control,sdk,pml] (also: sdk-http, sdk-nocheck, sdk-single, sdk-baseline)
//                                 [--max-upload-kbps N] [--baseline FILE]
//                                 [--log error|warn|info|debug]: the pages' log level; above
//                                 error every tab's log lines go to results/console-<run>-tab<i>.log
//                                 [--stagger-ms 1000] [--src /live/hls-abr/360p/index.m3u8] [--player hlsjs|shaka]
//                                 [--net lan|realistic] [--seed 1] [--upload-cap-kbps N]
// Needs the built swarmcast binary (SWARMCAST_BIN or target/debug/swarmcast) and built SDK
// bundles (npm run build --workspaces). Not a test: it prints figures and exits 0.
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startOrigin } from '../../e2e/lib/servers.mjs';
import { launchBrowser } from '../../e2e/lib/browser.mjs';
import { startTracker } from '../../e2e/tests/sdk-support.mjs';
import { viewerProfiles, describeProfile } from './net/profiles.mjs';
import { buildViewerNetwork } from './net/viewer-net.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: 'control,sdk,pml' },
    'stagger-ms': { type: 'string', default: '1000' },
    src: { type: 'string' },
    player: { type: 'string', default: 'hlsjs' },
    'max-upload-kbps': { type: 'string' },
    net: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'upload-cap-kbps': { type: 'string' },
    baseline: { type: 'string' },
    log: { type: 'string', default: 'error' },
  },
});
const shaka = opt.player === 'shaka';
if (!shaka && opt.player !== 'hlsjs') throw new Error(`--player is hlsjs or shaka, not ${opt.player}`);
opt.src ??= shaka ? '/live/dash/manifest.mpd' : '/live/hls-abr/360p/index.m3u8';
const N = Number(opt.tabs);
const seconds = Number(opt.seconds);
const stagger = Number(opt['stagger-ms']);
// `sdk-http` is the SDK page with P2P off: the loader's own cost, without any peer traffic.
const pages = shaka
  ? { control: 'shaka-control.html', sdk: 'sdk-shaka.html', 'sdk-http': 'sdk-shaka.html', pml: 'pml-shaka.html' }
  : { control: 'sdk-control.html', sdk: 'sdk-hlsjs.html', 'sdk-http': 'sdk-hlsjs.html', 'sdk-nocheck': 'sdk-hlsjs.html', 'sdk-single': 'sdk-hlsjs.html', 'sdk-baseline': 'sdk-hlsjs.html', pml: 'sdk-pml.html' };
if (opt.runs.split(',').includes('sdk-baseline') && !opt.baseline) throw new Error('the run sdk-baseline needs --baseline FILE (a copy of an earlier hlsjs.iife.js)');
const extraParams = { 'sdk-http': { p2p: '0' }, 'sdk-nocheck': { integrity: '0' } };
/** Engine config fields per run (the SDK pages take them as `?cfg=`). */
const uploadCap = opt['max-upload-kbps'] ? { maxUploadKbps: Number(opt['max-upload-kbps']) } : {};
const extraConfig = (kind) => ({ ...(kind.startsWith('sdk') ? uploadCap : {}), ...(kind === 'sdk-single' ? { multiSource: false } : {}) });
/** HTTP and P2P bytes a tab downloaded, whichever page it is (the PML Shaka page counts its own). */
const bytesOf = (s) => (s.pml && !s.bytes ? { httpDown: s.httpBytes ?? 0, p2pDown: s.p2pBytes ?? 0 } : (s.bytes ?? {}));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const prefix = path.posix.dirname(opt.src) + '/'; // the origin counts bytes per folder

/**
 * Where tab i opens: a new tab of one shared Chromium (loopback), or with `--net` a Chromium of
 * its own in viewer i's namespace. `close()` closes them all.
 */
async function browsers(network, origin) {
  const contexts = network ? [] : [await launchBrowser()];
  return {
    async newPage(i) {
      if (!network) return contexts[0].newPage();
      // The page needs a secure context (SubtleCrypto checks peers' segments), which loopback
      // is and http://10.77.0.1 is not: the origin counts as HTTPS, as it is in production.
      const ctx = await launchBrowser({
        executablePath: network.viewers[i].executable,
        extraArgs: [`--unsafely-treat-insecure-origin-as-secure=${origin.url}`],
      });
      contexts.push(ctx);
      return ctx.pages()[0] ?? ctx.newPage();
    },
    close: () => Promise.all(contexts.map((c) => c.close())),
  };
}

async function run(kind, origin, tracker, network) {
  const browser = await browsers(network, origin);
  try {
    await origin.resetStats();
    const load1Start = os.loadavg()[0];
    const cfg = extraConfig(kind);
    const q = new URLSearchParams({ src: opt.src, tracker: tracker.url, log: opt.log, ...(shaka ? { video: '360' } : {}), ...(extraParams[kind] ?? {}), ...(Object.keys(cfg).length ? { cfg: JSON.stringify(cfg) } : {}) });
    const tabs = [];
    const openedAt = [];
    for (let i = 0; i < N; i++) {
      // Tabs of one browser share its HTTP cache, which would hide origin traffic: every tab
      // gets its own view of the origin, as separate viewers would.
      const page = await browser.newPage(i);
      // Every HTTP fetch of the page, for the origin-copies breakdown (the default buffer keeps 250).
      await page.addInitScript(() => performance.setResourceTimingBufferSize(100_000));
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      if (opt.log !== 'error') {
        // The pages' own log lines, one file per run and tab (results are ignored by git).
        const file = path.join(repoRoot, 'bench/swarm/results', `console-${kind}-tab${i + 1}.log`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, '');
        page.on('console', (m) => fs.appendFileSync(file, `${new Date().toISOString()} ${m.text()}\n`));
      }
      if (kind === 'sdk-baseline') await page.route('**/@swarmcast/hlsjs/dist/hlsjs.iife.js', (route) => route.fulfill({ path: path.resolve(opt.baseline), contentType: 'text/javascript' }));
      await page.goto(`${origin.url}/e2e/${pages[kind]}?${q}`);
      openedAt.push(Date.now());
      tabs.push(page);
      await sleep(stagger);
    }
    await sleep(seconds * 1000);
    const states = await Promise.all(tabs.map((p) => p.evaluate(() => window.__state)));
    const readAt = Date.now();
    const fetches = await Promise.all(tabs.map((p) => p.evaluate(mediaFetches, prefix)));
    const copies = originCopies(fetches);
    process.stderr.write(`  ${describeCopies(copies)}\n`);
    const netFigures = network ? { net: opt.net, seed: Number(opt.seed), load1Start: +load1Start.toFixed(1), load1End: +os.loadavg()[0].toFixed(1), memUsedGB: +((os.totalmem() - os.freemem()) / 1e9).toFixed(1) } : {};
    if (network) {
      // Where the bytes went, per viewer: which links starve or feed the swarm.
      states.forEach((s, i) => {
        const b = bytesOf(s);
        const v = network.viewers[i];
        process.stderr.write(
          `  tab ${i + 1} (up ${(v.upKbps / 1000).toFixed(2)}, down ${(v.downKbps / 1000).toFixed(1)} Mbit/s, ${v.delayMs.toFixed(0)} ms): ` +
            `http ${((b.httpDown ?? 0) / 1e6).toFixed(1)} MB, p2p down ${((b.p2pDown ?? 0) / 1e6).toFixed(1)} MB, p2p up ${((b.p2pUp ?? 0) / 1e6).toFixed(1)} MB, ` +
            `dropped ${((b.dropped ?? 0) / 1e6).toFixed(1)} MB, ` +
            `startup ${s.startupMs == null ? '-' : Math.round(s.startupMs)} ms, rebuffers ${s.rebuffers ?? 0} (${((s.rebufferMs ?? 0) / 1000).toFixed(1)} s), peers ${s.peers?.length ?? 0}` +
            `${s.fatal ? `, fatal: ${JSON.stringify(s.fatal)} ${JSON.stringify((s.errors ?? []).slice(-3))}` : ''}\n`,
        );
      });
    }
    const served = await origin.stats();
    const media = served.dirs?.[prefix]?.bytes ?? served.total.bytes;
    const http = states.reduce((n, s) => n + (bytesOf(s).httpDown ?? 0), 0);
    const p2p = states.reduce((n, s) => n + (bytesOf(s).p2pDown ?? 0), 0);
    process.stderr.write(`  startup per tab (ms, in opening order): ${states.map((s) => (s.startupMs == null ? '-' : Math.round(s.startupMs))).join(' ')}\n`);
    const phases = {};
    for (const s of states) for (const [k, v] of Object.entries(s.timeline ?? {})) (phases[k] ??= []).push(v);
    const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    process.stderr.write(`  startup phases, median ms: ${Object.entries(phases).map(([k, xs]) => `${k} ${med(xs)}`).join(', ')}\n`);
    const startups = states.map((s) => s.startupMs).filter((x) => x != null);
    const typical = med([...startups]);
    states.forEach((s, i) => {
      if (s.startupMs > 2 * typical) process.stderr.write(`  slow tab ${i + 1}: ${JSON.stringify(s.timeline ?? {})}\n`);
    });
    const ceiling = uploadCeiling(kind, states, openedAt, readAt, network);
    if (ceiling) process.stderr.write(`  ${describeCeiling(ceiling)}\n`);
    const verifiedMB = states.reduce((n, s) => n + (s.bytes?.verifiedBytes ?? 0), 0) / 1e6;
    const verifyMs = states.reduce((n, s) => n + (s.bytes?.verifyMs ?? 0), 0);
    if (verifiedMB > 0) {
      process.stderr.write(
        `  segment checks: ${verifiedMB.toFixed(1)} MB from peers checked in ${Math.round(verifyMs)} ms ` +
          `(${(verifiedMB / Math.max(1e-3, verifyMs / 1000)).toFixed(0)} MB/s, ${((100 * verifyMs) / (N * seconds * 1000)).toFixed(3)} % of the tabs' time; ` +
          `P2P ${(p2p / 1e6 / (N * seconds)).toFixed(2)} MB/s per tab)\n`,
      );
    }
    return {
      run: kind,
      player: opt.player,
      tabs: N,
      playing: startups.length,
      fatal: states.filter((s) => s.fatal).length,
      originMB: +(served.total.bytes / 1e6).toFixed(2),
      originMediaMB: +(media / 1e6).toFixed(2),
      p2pShare: +(p2p / Math.max(1, p2p + http)).toFixed(3),
      startupMsMedian: Math.round(startups.sort((a, b) => a - b)[Math.floor(startups.length / 2)] ?? NaN),
      startupMsMin: Math.round(startups[0] ?? NaN),
      startupMsMax: Math.round(startups.at(-1) ?? NaN),
      rebuffers: states.reduce((n, s) => n + (s.rebuffers ?? 0), 0),
      rebufferS: +(states.reduce((n, s) => n + (s.rebufferMs ?? 0), 0) / 1000).toFixed(1),
      bestShare: +((N - 1) / N).toFixed(3),
      checkedMB: +verifiedMB.toFixed(1),
      checkMs: Math.round(verifyMs),
      badSegments: states.reduce((n, s) => n + (s.bytes?.badSegments ?? 0), 0),
      multiPeerSegments: states.reduce((n, s) => n + (s.bytes?.multiPeerSegments ?? 0), 0),
      firstCopiesMB: +copies.firstMB.toFixed(2),
      startupRepeatMB: +copies.startupRepeatMB.toFixed(2),
      laterRepeatMB: +copies.laterRepeatMB.toFixed(2),
      ...(ceiling ? { uploadCapKbps: ceiling.kbps, shareCeiling: +ceiling.share.toFixed(3), capUsed: +ceiling.used.toFixed(3) } : {}),
      ...netFigures,
    };
  } finally {
    await browser.close();
  }
}

/**
 * With every viewer's upload capped (`--max-upload-kbps` for the SDK's runs, `--upload-cap-kbps`
 * under `--net`): the most the tabs could have sent one another in the time each was open, as a
 * share of what they downloaded, which no scheduler can exceed (what one tab receives from peers,
 * another sent), and how much of that allowance they did send.
 */
function uploadCeiling(kind, states, openedAt, readAt, network) {
  const kbps = network && opt['upload-cap-kbps'] != null ? Number(opt['upload-cap-kbps']) : kind.startsWith('sdk') && opt['max-upload-kbps'] ? Number(opt['max-upload-kbps']) : undefined;
  if (!kbps) return undefined;
  const allowed = openedAt.reduce((n, at) => n + ((kbps * 1000) / 8) * ((readAt - at) / 1000), 0);
  const down = states.reduce((n, s) => n + (bytesOf(s).httpDown ?? 0) + (bytesOf(s).p2pDown ?? 0), 0);
  const sent = states.reduce((n, s) => n + (bytesOf(s).p2pUp ?? 0), 0);
  return { kbps, allowedMB: allowed / 1e6, downMB: down / 1e6, sentMB: sent / 1e6, share: Math.min(1, allowed / Math.max(1, down)), used: sent / Math.max(1, allowed) };
}

function describeCeiling(c) {
  return (
    `uploads capped at ${c.kbps} kbit/s: the tabs could send one another at most ${c.allowedMB.toFixed(1)} MB of the ${c.downMB.toFixed(1)} MB they downloaded ` +
    `(P2P share ceiling ${c.share.toFixed(3)}); they sent ${c.sentMB.toFixed(1)} MB (${(100 * c.used).toFixed(0)} % of the caps)`
  );
}

/** The page's HTTP fetches of media segments under `prefix` (Resource Timing): URL, time, bytes. */
function mediaFetches(prefix) {
  return performance
    .getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname.startsWith(prefix) && !/\.(m3u8|mpd|json)$/.test(new URL(e.name).pathname))
    .map((e) => ({ path: new URL(e.name).pathname, at: performance.timeOrigin + e.startTime, bytes: e.encodedBodySize }));
}

/** A tab's fetches this long after its own first one count as its startup. */
const STARTUP_WINDOW_MS = 6000;

/**
 * Where the origin's media bytes went: each segment's first copy (the floor a swarm cannot go
 * under), and the copies after it, split into those fetched in a tab's first seconds (startup,
 * before it has peers) and later (a segment fetched again in another neighbourhood, or rescued).
 */
function originCopies(fetchesPerTab) {
  const all = fetchesPerTab.flatMap((fs, tab) => {
    const start = Math.min(...fs.map((f) => f.at));
    return fs.map((f) => ({ ...f, tab, startup: f.at - start < STARTUP_WINDOW_MS }));
  });
  all.sort((a, b) => a.at - b.at);
  const seen = new Map();
  const out = { firstMB: 0, startupRepeatMB: 0, laterRepeatMB: 0, segments: 0, repeatedSegments: 0, maxCopies: 0 };
  for (const f of all) {
    const tabs = seen.get(f.path) ?? new Set();
    seen.set(f.path, tabs);
    if (!tabs.size) out.firstMB += f.bytes / 1e6;
    else if (f.startup) out.startupRepeatMB += f.bytes / 1e6;
    else out.laterRepeatMB += f.bytes / 1e6;
    tabs.add(f.tab);
  }
  for (const tabs of seen.values()) {
    out.segments++;
    if (tabs.size > 1) out.repeatedSegments++;
    out.maxCopies = Math.max(out.maxCopies, tabs.size);
  }
  return out;
}

function describeCopies(c) {
  const mb = (x) => x.toFixed(1);
  return (
    `origin media by HTTP: ${mb(c.firstMB + c.startupRepeatMB + c.laterRepeatMB)} MB = first copies ${mb(c.firstMB)} MB (${c.segments} segments) ` +
    `+ again in a tab's first ${STARTUP_WINDOW_MS / 1000} s ${mb(c.startupRepeatMB)} MB + again later ${mb(c.laterRepeatMB)} MB ` +
    `(${c.repeatedSegments} segments fetched by 2+ tabs, at most ${c.maxCopies})`
  );
}

let network;
if (opt.net) {
  const uploadCapKbps = opt['upload-cap-kbps'] == null ? undefined : Number(opt['upload-cap-kbps']);
  const profiles = viewerProfiles(opt.net, N, { seed: Number(opt.seed), uploadCapKbps });
  process.stderr.write(`network ${opt.net}, seed ${opt.seed}${uploadCapKbps == null ? '' : `, upload capped at ${uploadCapKbps} kbit/s`}:\n`);
  for (const [i, p] of profiles.entries()) process.stderr.write(`  ${describeProfile(p, i)}\n`);
  network = await buildViewerNetwork(profiles, { seed: Number(opt.seed) });
}
const results = [];
try {
  const origin = await startOrigin(network ? { host: network.hub } : {});
  const tracker = await startTracker(network ? { host: network.hub } : {});
  // With --net, Ctrl-C tears the network down and exits (net/viewer-net.mjs): the servers go too.
  process.once('exit', () => [origin, tracker].forEach((s) => s.proc.kill('SIGKILL')));
  try {
    for (const kind of opt.runs.split(',')) {
      if (!pages[kind]) throw new Error(`unknown run ${kind} for --player ${opt.player}`);
      process.stderr.write(`run ${kind}: ${N} tabs, ${seconds} s\n`);
      results.push(await run(kind, origin, tracker, network));
      console.log(JSON.stringify(results.at(-1)));
    }
  } finally {
    await tracker.stop();
    await origin.stop();
  }
} finally {
  network?.teardown();
}
console.table(results);
for (const r of results) {
  if (r.shareCeiling != null) console.log(`${r.run}: P2P share ${r.p2pShare} of a ceiling of ${r.shareCeiling} set by the upload caps (${((100 * r.p2pShare) / r.shareCeiling).toFixed(0)} %); ${(100 * r.capUsed).toFixed(0)} % of the caps used`);
}
const by = Object.fromEntries(results.map((r) => [r.run, r]));
if (by.sdk) {
  const target = 0.8 * by.sdk.bestShare;
  console.log(`SDK P2P share ${by.sdk.p2pShare} vs target ${target.toFixed(3)} (0.8 x (N-1)/N)${by.pml ? `, PML ${by.pml.p2pShare}` : ''}`);
  if (by.control) {
    console.log(`origin media bytes vs control: ${(by.sdk.originMediaMB / by.control.originMediaMB).toFixed(3)}; startup median ${by.sdk.startupMsMedian} ms vs ${by.control.startupMsMedian} ms; rebuffers ${by.sdk.rebuffers} vs ${by.control.rebuffers}`);
  }
  if (by['sdk-single']) {
    const s = by['sdk-single'];
    console.log(`several peers per segment vs one${opt['max-upload-kbps'] ? ` (every SDK tab's upload capped at ${opt['max-upload-kbps']} kbit/s)` : ''}: P2P share ${by.sdk.p2pShare} vs ${s.p2pShare}; rebuffers ${by.sdk.rebuffers} vs ${s.rebuffers} (${by.sdk.rebufferS} vs ${s.rebufferS} s); startup median ${by.sdk.startupMsMedian} vs ${s.startupMsMedian} ms`);
  }
  if (by['sdk-baseline']) {
    const b = by['sdk-baseline'];
    console.log(`this build vs the baseline (${opt.baseline}): P2P share ${by.sdk.p2pShare} vs ${b.p2pShare}; origin media ${by.sdk.originMediaMB} vs ${b.originMediaMB} MB; rebuffers ${by.sdk.rebuffers} vs ${b.rebuffers} (${by.sdk.rebufferS} vs ${b.rebufferS} s); startup median ${by.sdk.startupMsMedian} vs ${b.startupMsMedian} ms`);
  }
  if (by['sdk-nocheck']) {
    const n = by['sdk-nocheck'];
    console.log(`with segment checks vs without: P2P share ${by.sdk.p2pShare} vs ${n.p2pShare}; startup median ${by.sdk.startupMsMedian} ms vs ${n.startupMsMedian} ms (ratio ${(by.sdk.startupMsMedian / n.startupMsMedian).toFixed(2)}); rebuffers ${by.sdk.rebuffers} vs ${n.rebuffers}`);
  }
}
// `--net` results go to a folder of their own: the simulator calibrates against the loopback
// runs' files (bench/sim `calibrate`).
const out = path.join(repoRoot, 'bench/swarm/results', ...(opt.net ? ['net'] : []));
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, `${new Date().toISOString().replace(/[:.]/g, '-')}${opt.net ? `-${opt.net}` : ''}.json`), JSON.stringify(results, null, 2));
