// Safe defaults of the servers that take orders over HTTP, as a new user meets them: the super
// peer and the console refuse to serve every interface (0.0.0.0) without a token, and say
// what to set; with the explicit flag they serve, and warn at start. Listening on every
// interface is only done inside the test's own network namespace, where that is loopback.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ownNetworkNamespace, startProcess, startSuperPeer } from '../lib/servers.mjs';

const skip = ownNetworkNamespace() ? false : 'listens on 0.0.0.0: only inside its own network namespace (scripts/in-netns.sh)';
const stops = [];
after(async () => {
  for (const stop of stops) await stop();
});

test('the super peer refuses an open REST API, and serves it with allowOpen, warning', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-open-'));
  stops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, '.env'), `listenPort=${port}\n`);
  await assert.rejects(
    startProcess(['superpeer', '--env-file', path.join(dir, '.env')], { ready: /REST API on http/ }),
    /refusing to serve the REST API on 0\.0\.0\.0:\d+ without an access token[\s\S]*allowOpen=true/,
  );

  const open = await startSuperPeer({ listenHost: '0.0.0.0', allowOpen: 'true' });
  stops.push(() => open.stop());
  assert.match(open.output(), /has no accessToken and allowOpen is set/);
  assert.equal((await open.call('POST', '/ping', {})).status, 200);
});

test('the console refuses to listen everywhere without an admin token, and serves with --allow-open, warning', { skip }, async () => {
  const args = ['console', '--database', ':memory:', '--dashboard', '/nonexistent'];
  const port = await freePort();
  await assert.rejects(
    startProcess([...args, '--listen', `0.0.0.0:${port}`], { ready: /console listening/ }),
    /refusing to serve the console on 0\.0\.0\.0:\d+ without an admin token[\s\S]*--allow-open/,
  );
  const open = await startProcess([...args, '--listen', `0.0.0.0:${port}`, '--allow-open'], { ready: /console listening/ });
  stops.push(() => open.stop());
  assert.match(open.output(), /has no admin token and --allow-open is set/);
  const health = await (await fetch(`http://127.0.0.1:${port}/api/health`)).json();
  assert.equal(health.auth_required, false);
});
