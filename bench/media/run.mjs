#!/usr/bin/env node
// Progressive-file benchmark: N Chromium tabs open the test MP4 at staggered times and play it,
// first as a plain <video src> (control), then through P2PEngineMedia, each run on a fresh
// browser for the same time. Prints per run: origin bytes of the file, P2P share, startup and
// seek latency medians, rebuffers; then the P2PEngineMedia run against the control.
//
// Usage: node bench/media/run.mjs [--tabs 10] [--seconds 60] [--stagger-ms 3000]
//                                 [--runs control,media] [--file progressive.mp4]
// Needs the built swarmcast binary (SWARMCAST_BIN or target/debug/swarmcast) and built SDK
// bundles (npm run build --workspaces). Not a test: it prints figures and exits 0.
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, startOrigin, startTracker } from '../../e2e/lib/servers.mjs';
import { launchBrowser } from '../../e2e/lib/browser.mjs';
import { pieceFolders } from '../../e2e/tests/media-support.mjs';

const { values: opt } = parseArgs({
  options: {
    tabs: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '60' },
    'stagger-ms': { type: 'string', default: '3000' },
    runs: { type: 'string', default: 'control,media' },
    file: { type: 'string', default: 'progressive.mp4' },
  },
});
const N = Number(opt.tabs);
const seconds = Number(opt.seconds);
const stagger = Number(opt['stagger-ms']);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const med = (xs) => {
  const s = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.floor(s.length / 2)]) : NaN;
};

async function run(kind, origin, tracker) {
  const ctx = await launchBrowser();
  try {
    await origin.resetStats();
    // disk 0: tabs of one browser share IndexedDB, which separate viewers would not.
    const params = kind === 'control' ? { control: '1' } : { tracker: tracker.url, disk: '0', channel: `bench-${Date.now()}` };
    const q = new URLSearchParams({ src: `/m/bench/${opt.file}`, log: 'error', ...params });
    const tabs = [];
    const opened = Date.now();
    for (let i = 0; i < N; i++) {
      // Tabs of one browser share its HTTP cache, which would hide origin traffic.
      const page = await ctx.newPage();
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await page.goto(`${origin.url}/e2e/media.html?${q}`);
      tabs.push(page);
      await sleep(stagger);
    }
    await sleep(Math.max(0, seconds * 1000 - (Date.now() - opened)));
    // Every tab seeks to a point it has not played yet (a Range request mid-file), one by one.
    const seeks = [];
    for (const page of tabs) {
      seeks.push(
        await page.evaluate(async () => {
          const s = window.__state;
          if (!s.duration || s.ended) return null;
          return window.__seek(Math.min(s.duration - 2, s.currentTime + 15));
        }),
      );
    }
    await sleep(2000);
    const states = await Promise.all(tabs.map((p) => p.evaluate(() => window.__state)));
    const media = (await origin.stats('/m/bench/')).total.bytes;
    const http = states.reduce((n, s) => n + (s.bytes?.httpDown ?? 0), 0);
    const p2p = states.reduce((n, s) => n + (s.bytes?.p2pDown ?? 0), 0);
    process.stderr.write(`  startup per tab (ms, in opening order): ${states.map((s) => (s.startupMs == null ? '-' : Math.round(s.startupMs))).join(' ')}\n`);
    process.stderr.write(`  seek per tab (ms): ${seeks.map((x) => (x == null ? '-' : Math.round(x))).join(' ')}\n`);
    const phases = {};
    for (const st of states) for (const [k, v] of Object.entries(st.timeline ?? {})) (phases[k] ??= []).push(v);
    process.stderr.write(`  startup phases, median ms: ${Object.entries(phases).map(([k, xs]) => `${k} ${med(xs)}`).join(', ')}\n`);
    return {
      run: kind,
      tabs: N,
      playing: states.filter((s) => s.startupMs != null).length,
      errors: states.reduce((n, s) => n + s.errors.length, 0),
      originMediaMB: +(media / 1e6).toFixed(2),
      p2pShare: kind === 'control' ? 0 : +(p2p / Math.max(1, p2p + http)).toFixed(3),
      startupMsMedian: med(states.map((s) => s.startupMs)),
      seekMsMedian: med(seeks),
      rebuffers: states.reduce((n, s) => n + (s.rebuffers ?? 0), 0),
    };
  } finally {
    await ctx.close();
  }
}

const folders = await pieceFolders({ bench: { file: opt.file, pieceLength: 512 * 1024 } });
const origin = await startOrigin({ mounts: { '/m': folders.dir } });
const tracker = await startTracker();
const results = [];
try {
  for (const kind of opt.runs.split(',')) {
    if (!['control', 'media'].includes(kind)) throw new Error(`unknown run ${kind}`);
    process.stderr.write(`run ${kind}: ${N} tabs, ${seconds} s, ${stagger} ms apart\n`);
    results.push(await run(kind, origin, tracker));
    console.log(JSON.stringify(results.at(-1)));
  }
} finally {
  await tracker.stop();
  await origin.stop();
  folders.remove();
}
console.table(results);
const by = Object.fromEntries(results.map((r) => [r.run, r]));
if (by.media && by.control) {
  const c = by.control;
  const m = by.media;
  console.log(
    `origin bytes vs control: ${(m.originMediaMB / c.originMediaMB).toFixed(3)} (target <= 0.25); ` +
      `startup median ${m.startupMsMedian} ms vs ${c.startupMsMedian} ms; seek median ${m.seekMsMedian} ms vs ${c.seekMsMedian} ms (targets +10 %); ` +
      `rebuffers ${m.rebuffers} vs ${c.rebuffers}`,
  );
}
const out = path.join(repoRoot, 'bench/media/results');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(results, null, 2));
