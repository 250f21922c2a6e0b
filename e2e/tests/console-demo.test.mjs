// `swarmcast demo` as a new user meets it, in real Chromium: the dashboard shows the demo's
// super peer Running; two player tabs (hls.js + our SDK) make the live channel hot, the
// console seeds it on the super peer by itself, the worker serves the tabs and the traffic
// chart gets viewers; a worker stopped from the page comes back. Screenshots go to
// e2e/artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, repoRoot, startProcess } from '../lib/servers.mjs';
import { launchBrowser, openPage } from '../lib/browser.mjs';

const artifacts = path.join(repoRoot, 'e2e/artifacts');
const TOKEN = 'demo';
const SEED_SECS = 3;

let demo;
let ports;
let dir;
let ctx;

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-demo-'));
  ports = { origin: await freePort(), tracker: await freePort(), console: await freePort(), superpeer: await freePort() };
  demo = await startProcess(
    ['demo', '--assets', repoRoot, '--state-dir', dir, '--seed-interval', String(SEED_SECS),
      '--origin-port', String(ports.origin), '--tracker-port', String(ports.tracker),
      '--console-port', String(ports.console), '--superpeer-port', String(ports.superpeer)],
    { ready: /REST API on http[\s\S]*origin listening|origin listening[\s\S]*REST API on http/ },
  );
  ctx = await launchBrowser();
});

after(async () => {
  await ctx?.close();
  await demo?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const consoleUrl = () => `http://127.0.0.1:${ports.console}`;

async function api(route) {
  const r = await fetch(`${consoleUrl()}/api${route}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200, `GET /api${route}`);
  return r.json();
}

/** Polls `f` until it returns something truthy (bounded); returns that. */
async function until(what, f, { timeoutMs = 90_000, page } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await f();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${page ? `; page errors: ${page.errors}` : ''}`);
}

async function screenshot(page, name) {
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

test('the demo: super peer Running, the watched live channel seeded by itself, a stopped worker comes back', async () => {
  const page = await openPage(ctx, consoleUrl());
  page.on('dialog', (d) => d.accept());
  await page.fill('input[name=token]', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('nav.tabs').waitFor();
  await page.goto(`${consoleUrl()}/#super-peers`);
  const card = page.locator('[data-testid=super-peer]', { hasText: 'demo' });
  await card.locator('[data-testid=status]', { hasText: 'Running' }).waitFor({ timeout: 30_000 });

  // Two viewers of the looping live stream, on the player page the demo prints.
  const player = `http://127.0.0.1:${ports.origin}/player/?tracker=ws://127.0.0.1:${ports.tracker}`;
  const tabs = [await openPage(ctx, player), await openPage(ctx, player)];
  try {
    for (const tab of tabs) await tab.waitForFunction(() => document.querySelector('video').currentTime > 0, null, { timeout: 60_000 });

    // Seeded automatically, and the page shows the worker serving the tabs.
    const worker = card.locator('[data-testid=worker]').first();
    await worker.waitFor({ timeout: 90_000 });
    assert.match(await worker.textContent(), /live\/hls-ts\/index\.m3u8/);
    await until('the worker to serve the tabs', async () => Number(await worker.locator('[data-testid=peers]').textContent()) > 0, { page });
    const channels = await api('/channels');
    const live = channels.channels.find((c) => c.channel.endsWith('/live/hls-ts/index.m3u8'));
    assert.ok(live?.seeded_on?.length, `seeded: ${JSON.stringify(channels)}`);
    assert.equal(live.last_decision.by, 'auto');
    assert.match(live.last_decision.reason, /live: the playlist has no EXT-X-ENDLIST/);
    await screenshot(page, 'console-demo-super-peers');

    // The traffic history has the viewers and their HTTP bytes. Bytes are deltas between two
    // polls of the tracker (the first sight of a channel is the baseline), so they come later.
    await until('viewers and their HTTP bytes in the traffic history', async () => {
      const t = await api('/traffic?range=3600');
      const viewers = Math.max(0, ...t.series.viewers.filter((v) => v !== null));
      return viewers >= 2 && t.series.http_bytes.some((b) => b > 0);
    });
    await page.goto(`${consoleUrl()}/#overview`);
    await page.locator('.uplot').first().waitFor();
    await screenshot(page, 'console-demo-overview');

    // Stop the worker from the page: automatic seeding brings the channel back.
    await page.goto(`${consoleUrl()}/#super-peers`);
    const pid = await worker.getAttribute('data-pid');
    await worker.locator('button', { hasText: 'Stop' }).click();
    await page.locator('#toast', { hasText: 'automatic seeding starts' }).waitFor();
    const back = card.locator(`[data-testid=worker]:not([data-pid="${pid}"])`);
    await back.waitFor({ timeout: 60_000 });
    assert.match(await back.textContent(), /live\/hls-ts\/index\.m3u8/);
    const decisions = await api(`/decisions?channel=${encodeURIComponent(live.channel)}`);
    assert.deepEqual(decisions.slice(0, 2).map((d) => [d.action, d.by]), [['seed', 'auto'], ['stop', 'operator']]);
    await screenshot(page, 'console-demo-worker-back');
    assert.deepEqual(page.errors, [], 'no dashboard errors');
  } finally {
    for (const tab of tabs) await tab.close();
    await page.close();
  }
});
