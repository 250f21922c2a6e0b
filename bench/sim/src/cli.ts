/**
 * The simulator's commands (`USAGE` below, printed by `--help`). Tables go to stdout; tables
 * and SVG plots to bench/sim/results/ (not committed).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { schedulerProblems } from "../../../sdk/packages/core/src/config.js";
import { calibrationScenario, internetScenario, type Scenario } from "./model.js";
import { table, svgPlot, type Series } from "./report.js";
import { simulate, type Result } from "./sim.js";
import { RATE_EDGES_MBPS } from "./net.js";


const USAGE = `usage: node dist/cli.js <command> [options]   (npm run sim -- <command> [options])

commands:
  run        one run (the default)
  calibrate  the 10-tab browser bench's stream and settings, beside its newest figures in
             bench/swarm/results/ (--browser runs the bench first) or the documented ones
  scale      10, 100, ... viewers up to --max, live and VOD, with and without a super peer
  plot FILE...  the scale curve's plots from scale.json and run-*.json files (a run writes one)

options:
  --viewers N           concurrent viewers (run; default 100)
  --vod                 VOD instead of live (run)
  --super-peers K       super peers in the swarm (run; default 0)
  --seconds S           simulated seconds after the audience's 30 s ramp (run, scale; default 120)
  --seed X              the run's random seed (default 1); a seed gives the same figures every time
  --no-p2p              HTTP alone: the swarm's anchor
  --single-source       the SDK's multiSource off: one peer per segment
  --no-relay            the SDK's relay off: segments offered to peers only once whole
  --live-sync K         live start K segments behind the edge (3: hls.js's default; 5: the SDK's
                        hls.js engine's)
  --memory-segments M   each viewer's segment memory, in segments (default 20)
  --scheduler k=v,...   the SDK scheduler's settings (SchedulerConfig, bytes and rates in real
                        bytes) for a design trial, e.g. safetyMarginS=2,minPartBytes=262144
  --max N               scale: the largest audience (default 10000)
  --only LIST           scale: of live,live-sp,vod,vod-sp
  --browser             calibrate: run the 10-tab browser bench first
  --out DIR             where tables, JSON and plots go (default bench/sim/results)
  -h, --help            this text
`;

const { values: opt, positionals } = parseCommandLine();

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        viewers: { type: "string", default: "100" },
        vod: { type: "boolean", default: false },
        "super-peers": { type: "string", default: "0" },
        seconds: { type: "string" },
        seed: { type: "string", default: "1" },
        "no-p2p": { type: "boolean", default: false },
        "single-source": { type: "boolean", default: false },
        "no-relay": { type: "boolean", default: false },
        max: { type: "string", default: "10000" },
        only: { type: "string", default: "live,live-sp,vod,vod-sp" },
        browser: { type: "boolean", default: false },
        "memory-segments": { type: "string" },
        scheduler: { type: "string" },
        "live-sync": { type: "string" },
        out: { type: "string", default: join(import.meta.dirname, "..", "results") },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n--help lists the commands and options\n`);
    process.exit(2);
  }
}

if (opt.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const outDir = opt.out as string;
mkdirSync(outDir, { recursive: true });
const log = (s: string) => process.stderr.write(s + "\n");
/** A command line we cannot run: say why, exit 2. */
function usageError(why: string): never {
  log(why);
  process.exit(2);
}

async function runOne(sc: Scenario): Promise<Result> {
  const r = await simulate(sc);
  const steady = r.steadyCopiesPerSegment === undefined ? "" : ` (steady state ${r.steadyCopiesPerSegment.toFixed(2)})`;
  log(`  ${sc.name}: share ${r.p2pShare.toFixed(3)}, origin copies/segment ${r.originCopiesPerSegment.toFixed(2)}${steady}, ${r.wallSeconds.toFixed(1)} s wall, ${r.events} events`);
  log(`  uploaded ${(r.uploadedBytes / 1e9).toFixed(2)} GB, of which relayed while arriving ${(r.relayedBytes / 1e9).toFixed(2)} GB`);
  const rates = RATE_EDGES_MBPS.map((lo, i) => `${RATE_EDGES_MBPS[i + 1] === undefined ? `≥ ${lo}` : `${lo}–${RATE_EDGES_MBPS[i + 1]}`} ${percent(r.peerLinks.byRate[i] ?? 0)}`);
  log(`  peer bytes after the ramp: ${percent(r.peerLinks.pathLimited)} paced by their path rather than the sender's uplink; by rate (Mbit/s): ${rates.join(", ")}`);
  log(`  player's loads (count, mean ms): ${Object.entries(r.loads).map(([k, l]) => `${k} ${l.n} / ${l.meanMs}`).join(", ")}`);
  return r;
}

/** The browser bench's figures documented in docs/integrity.md (10 tabs × 60 s, hls.js, checks on). */
const DOCUMENTED = { share: 0.784, originMB: 14.41, controlMB: 61.99, from: "docs/integrity.md" };

type BenchRow = { run: string; player: string; tabs: number; p2pShare: number; originMediaMB: number };

/**
 * The browser bench's newest 10-tab hls.js result with both the control and the SDK run, from
 * bench/swarm/results/ (after `--browser` ran it, or an earlier run), else the documented one.
 */
function browserFigures(): typeof DOCUMENTED {
  const dir = join(import.meta.dirname, "..", "..", "swarm", "results");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort().reverse();
  } catch {
    return DOCUMENTED;
  }
  for (const f of files) {
    const rows = JSON.parse(readFileSync(join(dir, f), "utf8")) as BenchRow[];
    const pick = (run: string) => rows.find((r) => r.run === run && r.player === "hlsjs" && r.tabs === 10);
    const sdk = pick("sdk");
    const control = pick("control");
    if (sdk && control) return { share: sdk.p2pShare, originMB: sdk.originMediaMB, controlMB: control.originMediaMB, from: `bench/swarm/results/${f}` };
  }
  return DOCUMENTED;
}

/** Runs the 10-tab browser bench (control and SDK), as `node bench/swarm/run.mjs` would. */
function runBrowserBench(): void {
  const script = join(import.meta.dirname, "..", "..", "swarm", "run.mjs");
  log("running the browser bench: 10 tabs × 60 s, control and SDK (a few minutes)");
  const r = spawnSync(process.execPath, [script, "--tabs", "10", "--seconds", "60", "--runs", "control,sdk"], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`the browser bench failed (exit ${r.status}): see its output above`);
}

/** The sizes of the test media's 360p segments, when the media is there. */
function benchSegmentSizes(): number[] | undefined {
  const dir = join(process.env.SWARMCAST_MEDIA_DIR ?? join(homedir(), ".cache", "swarmcast", "media"), "hls-abr", "360p");
  try {
    const sizes = readdirSync(dir).filter((f) => f.endsWith(".ts")).sort().map((f) => statSync(join(dir, f)).size);
    return sizes.length ? sizes : undefined;
  } catch {
    return undefined;
  }
}

async function calibrate(): Promise<void> {
  if (opt.browser) runBrowserBench();
  const BROWSER = browserFigures();
  const sizes = benchSegmentSizes();
  if (!sizes) log("test media not found (SWARMCAST_MEDIA_DIR): segments of the stream's mean size instead");
  const control = await runOne(calibrationScenario(false, sizes));
  const sdk = await runOne(calibrationScenario(true, sizes));
  const simMB = sdk.originBytes / 1e6;
  const lines = [
    table([control, sdk]),
    "",
    `Browser bench figures from ${BROWSER.from}.`,
    "",
    "| figure | browser bench | simulator | difference |",
    "|---|---|---|---|",
    `| P2P share | ${BROWSER.share} | ${sdk.p2pShare.toFixed(3)} | ${pct(sdk.p2pShare, BROWSER.share)} |`,
    `| origin media MB, SDK | ${BROWSER.originMB} | ${simMB.toFixed(2)} | ${pct(simMB, BROWSER.originMB)} |`,
    `| origin media MB, plain hls.js | ${BROWSER.controlMB} | ${(control.originBytes / 1e6).toFixed(2)} | ${pct(control.originBytes / 1e6, BROWSER.controlMB)} |`,
    `| origin, SDK / plain | ${(BROWSER.originMB / BROWSER.controlMB).toFixed(3)} | ${(sdk.originBytes / control.originBytes).toFixed(3)} | ${pct(sdk.originBytes / control.originBytes, BROWSER.originMB / BROWSER.controlMB)} |`,
  ];
  emit("calibrate", lines.join("\n"));
}

function percent(share: number): string {
  return `${(share * 100).toFixed(0)} %`;
}

function pct(sim: number, ref: number): string {
  const d = (sim / ref - 1) * 100;
  return `${d >= 0 ? "+" : ""}${d.toFixed(1)} %`;
}

function emit(name: string, text: string): void {
  process.stdout.write(text + "\n");
  writeFileSync(join(outDir, `${name}.md`), text + "\n");
  log(`written to ${join(outDir, name + ".md")}`);
}

async function scale(): Promise<void> {
  const max = Number(opt.max);
  const sizes = [10, 100, 1000, 10000, 100000].filter((n) => n <= max);
  const results: Result[] = [];
  const only = String(opt.only).split(",");
  for (const vod of [false, true]) {
    for (const sp of [0, 1]) {
      if (!only.includes(`${vod ? "vod" : "live"}${sp ? "-sp" : ""}`)) continue;
      for (const n of sizes) {
        const sc = internetScenario(n, { name: `${vod ? "vod" : "live"}-${n}${sp ? "-sp" : ""}`, live: !vod, superPeers: sp, seed: Number(opt.seed), ...(opt.seconds ? { durationS: Number(opt.seconds) } : {}) });
        const r = await runOne(sc);
        results.push(r);
        writeFileSync(join(outDir, "scale.md"), table(results) + "\n");
      }
    }
  }
  emit("scale", table(results));
  const points = results.map(curvePoint);
  writeFileSync(join(outDir, "scale.json"), JSON.stringify(points, null, 1));
  plots(points);
}

type CurvePoint = Omit<Result, "scenario"> & { name: string; viewers: number; live: boolean; superPeers: number; liveSyncSegments?: number };

function curvePoint({ scenario, ...r }: Result): CurvePoint {
  return { ...r, name: scenario.name, viewers: scenario.viewers, live: scenario.live, superPeers: scenario.superPeers, liveSyncSegments: scenario.liveSyncSegments };
}

/** Origin copies per segment (live: also in steady state) and P2P share against the audience, one line per configuration. */
function plots(points: CurvePoint[]): void {
  const copies: Record<string, Series> = {};
  const shares: Record<string, Series> = {};
  for (const p of [...points].sort((a, b) => a.viewers - b.viewers)) {
    const behind = p.live && p.liveSyncSegments !== undefined && p.liveSyncSegments !== 3 ? `, ${p.liveSyncSegments} behind` : "";
    const key = `${p.live ? "live" : "VOD"}${behind}${p.superPeers ? " + super peer" : ""}`;
    (copies[key] ??= { name: key, points: [] }).points.push([p.viewers, p.originCopiesPerSegment]);
    if (p.steadyCopiesPerSegment !== undefined) (copies[`${key}, steady`] ??= { name: `${key}, steady`, points: [] }).points.push([p.viewers, p.steadyCopiesPerSegment]);
    (shares[key] ??= { name: key, points: [] }).points.push([p.viewers, p.p2pShare]);
  }
  writeFileSync(join(outDir, "scale-copies.svg"), svgPlot("Origin copies per segment", "concurrent viewers", "copies per segment", Object.values(copies), true));
  writeFileSync(join(outDir, "scale-share.svg"), svgPlot("P2P share of viewers' media bytes", "concurrent viewers", "share", Object.values(shares)));
  log(`plots written to ${outDir}`);
}

async function plot(): Promise<void> {
  const points = positionals.slice(1).flatMap((f) => JSON.parse(readFileSync(f, "utf8")) as CurvePoint[]);
  plots(points);
}

/** `--live-sync K`: a whole number of segments, 1 or more. */
function liveSync(): { liveSyncSegments?: number } {
  if (opt["live-sync"] === undefined) return {};
  const k = Number(opt["live-sync"]);
  if (!Number.isInteger(k) || k < 1) usageError(`--live-sync takes a number of segments (1 or more), not ${opt["live-sync"]}`);
  return { liveSyncSegments: k };
}

/** `safetyMarginS=2,simultaneousP2PDownloads=2`: checked as the SDK checks a page's settings. */
function schedulerSettings(spec: string): Record<string, number> {
  const given = Object.fromEntries(spec.split(",").map((pair) => [pair.split("=")[0], Number(pair.split("=")[1] || NaN)]));
  const problems = schedulerProblems(given);
  if (problems.length) usageError(`--scheduler takes name=number pairs: ${problems.join("; ")}`);
  return given;
}

async function runCmd(): Promise<void> {
  const n = Number(opt.viewers);
  const sc = internetScenario(n, {
    name: `${opt.vod ? "vod" : "live"}-${n}${opt["live-sync"] ? `-sync${opt["live-sync"]}` : ""}`,
    live: !opt.vod,
    superPeers: Number(opt["super-peers"]),
    seed: Number(opt.seed),
    p2p: !opt["no-p2p"],
    multiSource: !opt["single-source"],
    relay: !opt["no-relay"],
    ...(opt.seconds ? { durationS: Number(opt.seconds) } : {}),
    ...(opt["memory-segments"] ? { memorySegments: Number(opt["memory-segments"]) } : {}),
    ...(opt.scheduler ? { scheduler: schedulerSettings(opt.scheduler) } : {}),
    ...liveSync(),
  });
  const r = await runOne(sc);
  emit(`run-${sc.name}`, table([r]));
  writeFileSync(join(outDir, `run-${sc.name}.json`), JSON.stringify([curvePoint(r)], null, 1));
}

const cmd = positionals[0] ?? "run";
const commands: Record<string, () => Promise<void>> = { run: runCmd, calibrate, scale, plot };
if (!commands[cmd]) usageError(`unknown command ${cmd}: run, calibrate, scale or plot (--help lists them)`);
await commands[cmd]();
