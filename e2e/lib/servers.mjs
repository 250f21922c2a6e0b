// Starting real Swarmcast servers for tests: the built binary, the test media, free ports.
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
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

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Spawns the swarmcast binary with `args` and resolves once a line of its output matches
 * `ready`. Rejects with the output so far if it exits first or takes longer than `timeoutMs`.
 */
export function startProcess(args, { ready, env = {}, timeoutMs = 60_000, bin = swarmcastBin() } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {
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
        reject(new Error(`swarmcast ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${out}`));
      }
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill('SIGKILL');
      reject(new Error(`swarmcast ${args.join(' ')} was not ready after ${timeoutMs} ms:\n${out}`));
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
 * and e2e/pages at /e2e, plus any extra `mounts` ({'/prefix': dir}).
 */
export async function startOrigin({ mounts = {}, liveWindow } = {}) {
  const port = await freePort();
  const all = {
    '/node_modules': path.join(repoRoot, 'node_modules'),
    '/e2e': path.join(repoRoot, 'e2e/pages'),
    ...mounts,
  };
  const args = ['origin', '--root', await mediaDir(), '--listen', `127.0.0.1:${port}`];
  for (const [prefix, dir] of Object.entries(all)) args.push('--mount', `${prefix}=${dir}`);
  if (liveWindow) args.push('--live-window', String(liveWindow));
  const handle = await startProcess(args, { ready: /origin listening/ });
  const url = `http://127.0.0.1:${port}`;
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
