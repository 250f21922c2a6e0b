// The bench's `--net` network: a bridge holding the servers' address and, per viewer, a network
// namespace linked to it through a pair of TAP devices and the user-space delay line
// (linkemu.py: one-way delay and loss), with `tbf` rate caps on both TAPs (upload on the
// viewer's side, download on the bridge's). Each viewer's Chromium runs in its namespace through
// a wrapper script. Everything is removed by `teardown()`, also on exit, Ctrl-C or SIGTERM.
//
// Needs root, and runs only inside a network namespace of its own (scripts/in-netns.sh), so the
// bridge never touches the host's network. The viewers' namespaces are named under /run/netns
// (`ip netns`), which is shared with the host: the names carry this process's id.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumPath } from '../../../e2e/lib/browser.mjs';
import { ownNetworkNamespace } from '../../../e2e/lib/servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SUBNET = '10.77.0';
export const HUB_ADDRESS = `${SUBNET}.1`;
const BRIDGE = 'scbr0';

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
const ip = (...args) => sh('ip', args);
const tc = (...args) => sh('tc', args);

/**
 * `tbf` on `dev` (in namespace `ns` when given) at `kbps`. The bucket holds at least two
 * full frames and 2 ms of the rate (the kernel's timer granularity); the queue holds 200 ms.
 */
function rateCap(dev, kbps, ns) {
  const burst = Math.max(3200, Math.round((kbps * 1000) / 8 / 500));
  tc(...(ns ? ['-n', ns] : []), 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(kbps)}kbit`, 'burst', String(burst), 'latency', '200ms');
}

/**
 * Builds the network for `profiles` (net/profiles.mjs). Returns {hub, viewers: [{ns, address,
 * executable}], teardown}: `hub` is the address servers listen on, `executable` the Chromium
 * wrapper for playwright's `executablePath`.
 */
export async function buildViewerNetwork(profiles, { seed = 1 } = {}) {
  if (process.getuid?.() !== 0) throw new Error('--net needs root (namespaces, bridge, tc)');
  if (!ownNetworkNamespace()) throw new Error('--net runs only in a network namespace of its own: scripts/in-netns.sh node bench/swarm/run.mjs --net ...');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-net-'));
  const viewers = profiles.map((p, i) => ({
    ...p,
    ns: `swarmcast-${process.pid}-v${i + 1}`,
    viewerTap: `scv${i + 1}`,
    bridgeTap: `scb${i + 1}`,
    address: `${SUBNET}.${10 + i}`,
    executable: path.join(dir, `chromium-v${i + 1}`),
  }));
  let emu;
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    emu?.kill('SIGTERM');
    for (const v of viewers) {
      try {
        ip('netns', 'del', v.ns);
      } catch {}
    }
    try {
      ip('link', 'del', BRIDGE);
    } catch {}
    for (const v of viewers) {
      try {
        ip('link', 'del', v.bridgeTap);
      } catch {}
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', teardown);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      teardown();
      process.exit(130);
    });
  }
  try {
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('addr', 'add', `${HUB_ADDRESS}/24`, 'dev', BRIDGE);
    ip('link', 'set', BRIDGE, 'up');
    for (const v of viewers) {
      ip('tuntap', 'add', 'dev', v.viewerTap, 'mode', 'tap');
      ip('tuntap', 'add', 'dev', v.bridgeTap, 'mode', 'tap');
      ip('link', 'set', v.bridgeTap, 'master', BRIDGE, 'up');
    }
    // The delay line holds the TAPs first; a TAP keeps its holder when it moves namespace.
    const spec = path.join(dir, 'links.json');
    fs.writeFileSync(spec, JSON.stringify({ seed, links: viewers.map((v) => ({ viewer: v.viewerTap, bridge: v.bridgeTap, delayMs: v.delayMs, loss: v.loss })) }));
    emu = spawn('python3', [path.join(here, 'linkemu.py'), spec], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      emu.stdout.once('data', resolve);
      emu.once('exit', (code) => reject(new Error(`linkemu.py exited (${code}) before it was ready`)));
    });
    for (const v of viewers) {
      ip('netns', 'add', v.ns);
      ip('link', 'set', v.viewerTap, 'netns', v.ns);
      ip('-n', v.ns, 'link', 'set', v.viewerTap, 'name', 'eth0');
      ip('-n', v.ns, 'addr', 'add', `${v.address}/24`, 'dev', 'eth0');
      ip('-n', v.ns, 'link', 'set', 'eth0', 'up');
      ip('-n', v.ns, 'link', 'set', 'lo', 'up');
      rateCap('eth0', v.upKbps, v.ns);
      rateCap(v.bridgeTap, v.downKbps);
      fs.writeFileSync(v.executable, `#!/bin/sh\nexec ip netns exec ${v.ns} ${chromiumPath} "$@"\n`, { mode: 0o755 });
    }
  } catch (e) {
    teardown();
    throw new Error(`building the viewers' network failed: ${e.stderr ?? ''}${e.message}`);
  }
  return { hub: HUB_ADDRESS, viewers, teardown };
}
