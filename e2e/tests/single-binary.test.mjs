// The binary carries its web parts: started in an empty folder, with no source tree to read,
// the console serves the dashboard and the origin serves the player, hls.js and the SDK's
// browser bundles, byte for byte what the npm build made. Run after `npm run build` and a
// `cargo build` that came after it (scripts/test.sh keeps that order).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, repoRoot, startProcess } from '../lib/servers.mjs';

const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-empty-'));
const stops = [];
after(async () => {
  for (const stop of stops) await stop();
  fs.rmSync(empty, { recursive: true, force: true });
});

async function get(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return { type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

function built(rel) {
  return fs.readFileSync(path.join(repoRoot, rel));
}

test('the console serves the dashboard built into the binary, from an empty folder', async () => {
  const port = await freePort();
  const consoleProc = await startProcess(
    ['console', '--listen', `127.0.0.1:${port}`, '--database', ':memory:', '--admin-token', 'e2e'],
    { ready: /console listening/, cwd: empty },
  );
  stops.push(() => consoleProc.stop());
  assert.doesNotMatch(consoleProc.output(), /without the dashboard/);
  const index = await get(`http://127.0.0.1:${port}/`);
  assert.match(index.type, /^text\/html/);
  assert.deepEqual(index.body, built('web/dashboard/dist/index.html'));
  // The script the page loads, and a client-side route answered with the page.
  const script = index.body.toString().match(/src="\.?\/(assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, 'the dashboard page names its script');
  const js = await get(`http://127.0.0.1:${port}/${script}`);
  assert.match(js.type, /javascript/);
  assert.deepEqual(js.body, built(`web/dashboard/dist/${script}`));
  assert.deepEqual((await get(`http://127.0.0.1:${port}/super-peers`)).body, index.body);
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 200);
});

test('the origin serves the player, hls.js and the SDK bundles built into the binary', async () => {
  const media = path.join(empty, 'media');
  fs.mkdirSync(media);
  fs.writeFileSync(path.join(media, 'hello.txt'), 'media');
  const port = await freePort();
  const origin = await startProcess(['origin', '--root', 'media', '--listen', `127.0.0.1:${port}`], {
    ready: /origin listening/,
    cwd: empty,
  });
  stops.push(() => origin.stop());
  const base = `http://127.0.0.1:${port}`;
  const expected = {
    '/player/': 'web/player/index.html',
    '/vendor/hls.js/hls.min.js': 'node_modules/hls.js/dist/hls.min.js',
    '/vendor/swarmcast/hlsjs.iife.js': 'sdk/packages/hlsjs/dist/hlsjs.iife.js',
    '/vendor/swarmcast-shaka/shaka.iife.js': 'sdk/packages/shaka/dist/shaka.iife.js',
    '/vendor/swarmcast-core/core.iife.js': 'sdk/packages/core/dist/core.iife.js',
    '/vendor/swarmcast-media/media.iife.js': 'sdk/packages/media/dist/media.iife.js',
    '/vendor/swarmcast-media/sw.js': 'sdk/packages/media/dist/sw.js',
  };
  for (const [url, file] of Object.entries(expected)) {
    assert.deepEqual((await get(base + url)).body, built(file), url);
  }
  // The media folder is still served at the root, and source maps are not carried.
  assert.equal((await get(`${base}/hello.txt`)).body.toString(), 'media');
  assert.equal((await fetch(`${base}/vendor/swarmcast/hlsjs.iife.js.map`)).status, 404);
});
