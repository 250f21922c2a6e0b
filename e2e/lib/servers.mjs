// Starting real Swarmcast servers for tests: the built binary, the test media, free ports.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Path of the `swarmcast` binary under test (SWARMCAST_BIN, default the debug build). */
export function swarmcastBin() {
  return process.env.SWARMCAST_BIN ?? path.join(repoRoot, 'target/debug/swarmcast');
}

let media;
/** The test media folder, made once per machine by `swarmcast media generate`. */
export async function mediaDir() {
  media ??= execFileSync(swarmcastBin(), ['media', 'generate'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return media;
}

/**
 * Whether this process runs in a network namespace of its own that has only loopback
 * (scripts/in-netns.sh), where a test may add addresses or listen on every interface.
 */
export function ownNetworkNamespace() {
  try {
    const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).trim().split('\n');
    return links.length === 1 && / lo: /.test(links[0]);
  } catch {
    return false;
  }
}

/** A TCP port that was free a moment ago on `host` (default 127.0.0.1). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Spawns the swarmcast binary with `args` (in folder `cwd`, default this process's) and
 * resolves once a line of its output matches `ready`. Rejects with the output so far if it
 * exits first or takes longer than `timeoutMs`.
 */
export function startProcess(args, { ready, env = {}, timeoutMs = 60_000, bin = swarmcastBin(), cwd } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {
      cwd,
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const handle = {
      proc,
      output: () => out,
      stop: () => stopProcess(proc),
    };
    const onData = (chunk) => {
      out += chunk;
      if (!settled && (!ready || ready.test(out))) {
        settled = true;
        clearTimeout(timer);
        resolve(handle);
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${path.basename(bin)} ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${out}`));
      }
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} ${args.join(' ')} was not ready after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
  });
}

/** SIGTERM, then SIGKILL if the process is still there after 5 s. */
export function stopProcess(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/**
 * Starts `swarmcast origin` on the test media, with the repo's node_modules at /node_modules
 * and e2e/pages at /e2e, plus any extra `mounts` ({'/prefix': dir}). It listens on `host`
 * (default 127.0.0.1; the network bench gives its bridge's address).
 */
export async function startOrigin({ mounts = {}, liveWindow, host = '127.0.0.1' } = {}) {
  const port = await freePort(host);
  const all = {
    '/node_modules': path.join(repoRoot, 'node_modules'),
    '/e2e': path.join(repoRoot, 'e2e/pages'),
    ...mounts,
  };
  const args = ['origin', '--root', await mediaDir(), '--listen', `${host}:${port}`];
  for (const [prefix, dir] of Object.entries(all)) args.push('--mount', `${prefix}=${dir}`);
  if (liveWindow) args.push('--live-window', String(liveWindow));
  const handle = await startProcess(args, { ready: /origin listening/ });
  const url = `http://${host}:${port}`;
  return {
    ...handle,
    url,
    port,
    async stats(prefix) {
      const q = prefix ? `?prefix=${encodeURIComponent(prefix)}` : '';
      return (await fetch(`${url}/__stats${q}`)).json();
    },
    async resetStats() {
      await fetch(`${url}/__stats`, { method: 'DELETE' });
    },
  };
}

/**
 * Starts `swarmcast tracker` on `host` (default 127.0.0.1; on `port` when given, to restart it
 * on the same address), with extra CLI `args`; `url` is its ws:// announce URL.
 */
export async function startTracker({ port, args = [], host = '127.0.0.1' } = {}) {
  port ??= await freePort(host);
  const handle = await startProcess(['tracker', '--listen', `${host}:${port}`, ...args], {
    ready: /tracker listening on ws:\/\//,
  });
  return { ...handle, port, url: `ws://${host}:${port}` };
}

/**
 * Starts `redis-server` (Debian package) on a free loopback port, without persistence, for
 * tracker clusters; `url` is what `swarmcast tracker --redis` takes.
 */
export async function startRedis() {
  const port = await freePort();
  const handle = await startProcess(
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { ready: /Ready to accept connections/, bin: 'redis-server' },
  );
  return { ...handle, port, url: `redis://127.0.0.1:${port}` };
}

/**
 * Starts a `swarmcast superpeer` master from a `.env` in a fresh temp dir (removed on stop):
 * listenPort/listenHost, `cacheDir=<dir>/cache`, `originHosts=127.0.0.1` (the test origins),
 * then every key of `env`.
 * `call(method, path, body)` -> {status, body} sends `X-ACCESS-TOKEN` when `env.accessToken`
 * is set; `poll(path, pred, tries)` repeats `GET path` every 500 ms until `pred(body)`.
 */
export async function startSuperPeer(env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-superpeer-'));
  const port = await freePort();
  const lines = { listenPort: port, listenHost: '127.0.0.1', cacheDir: `${dir}/cache`, originHosts: '127.0.0.1', ...env };
  const envFile = path.join(dir, '.env');
  fs.writeFileSync(envFile, Object.entries(lines).map(([k, v]) => `${k}=${v}\n`).join(''));
  const handle = await startProcess(['superpeer', '--env-file', envFile], { ready: /REST API on http/ });
  const api = `http://127.0.0.1:${port}`;
  const headers = { 'Content-Type': 'application/json' };
  if (env.accessToken) headers['X-ACCESS-TOKEN'] = env.accessToken;
  async function call(method, p, body) {
    const res = await fetch(`${api}${p}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }
  async function poll(p, pred, tries = 120) {
    let body;
    for (let i = 0; i < tries; i++) {
      body = (await call('GET', p)).body;
      if (pred(body)) return body;
      await new Promise((r) => setTimeout(r, 500));
    }
    return body;
  }
  return {
    ...handle,
    api,
    dir,
    call,
    poll,
    async stop() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts Debian's coturn (`turnserver`) on 127.0.0.1 with one user, relaying between
 * loopback addresses (which it refuses by default). `urls` is the TURN URL for
 * `RTCIceServer`; `allocations()` counts the relay allocations it granted so far.
 */
export async function startTurnServer({ username = 'e2e', credential = 'e2e-turn-secret' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-turn-'));
  const port = await freePort();
  const args = [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--min-port=49152', '--max-port=49999', '--allow-loopback-peers', '--lt-cred-mech',
    `--user=${username}:${credential}`, '--realm=swarmcast.test', '--no-tls', '--no-dtls',
    '--no-cli', '--log-file=stdout', '--simple-log', '--verbose', `--pidfile=${dir}/turnserver.pid`,
    `--userdb=${dir}/turndb`,
  ];
  const handle = await startProcess(args, { bin: 'turnserver', ready: /Total General servers/ });
  return {
    ...handle,
    urls: `turn:127.0.0.1:${port}?transport=udp`,
    username,
    credential,
    allocations: () => (handle.output().match(/ALLOCATE processed, success/g) ?? []).length,
    async stop() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
