// The console's dashboard in real Chromium against a real `swarmcast console`: login, super
// peer registry and health, and (when this build has the tracker and super peer) a channel
// seeded from the dashboard whose worker serves two player tabs. Screenshots at desktop and
// phone width go to e2e/artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, repoRoot, startOrigin, startProcess, startTracker, swarmcastBin } from '../lib/servers.mjs';
import { launchBrowser, openPage } from '../lib/browser.mjs';

const ADMIN = 'e2e-admin-token';
const SP_TOKEN = 'e2e-sp-token';
const artifacts = path.join(repoRoot, 'e2e/artifacts');
const dashboard = path.join(repoRoot, 'web/dashboard/dist');
const has = (cmd) => spawnSync(swarmcastBin(), [cmd, '--help']).status === 0;
// The demo player page (web/player: hls.js with our SDK) and what it loads.
const playerMounts = {
  '/player': path.join(repoRoot, 'web/player'),
  '/vendor/hls.js': path.join(repoRoot, 'node_modules/hls.js/dist'),
  '/vendor/swarmcast': path.join(repoRoot, 'sdk/packages/hlsjs/dist'),
};
const fullStack = has('tracker') && has('superpeer') && Object.values(playerMounts).every((d) => fs.existsSync(d));

let consoleProc;
let consoleUrl;
let ctx;
let origin;
let tracker;
let trackerWs;
let master;
let masterUrl;
let dir;

before(async () => {
  assert.ok(fs.existsSync(path.join(dashboard, 'index.html')), 'build the dashboard first: npm run build -w web/dashboard');
  fs.mkdirSync(artifacts, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-console-'));
  // Super peers and the origin all run on 127.0.0.1: the console may call them there.
  const args = ['console', '--listen', '127.0.0.1:0', '--database', path.join(dir, 'console.db'), '--admin-token', ADMIN, '--dashboard', dashboard, '--health-interval', '1', '--super-peer-host', '127.0.0.1', '--origin-host', '127.0.0.1'];
  if (fullStack) {
    origin = await startOrigin({ mounts: playerMounts });
    // Viewers re-announce every 15 s (default 120 s): a tab whose first connection to the
    // worker failed on this busy machine gets another chance within the test's time.
    tracker = await startTracker({ args: ['--interval', '15'] });
    trackerWs = tracker.url;
    const port = await freePort();
    fs.writeFileSync(path.join(dir, '.env'), `listenPort=${port}\nlistenHost=127.0.0.1\naccessToken=${SP_TOKEN}\nsignal1=${trackerWs}\ncacheDir=${dir}/cache\noriginHosts=127.0.0.1\n`);
    master = await startProcess(['superpeer', '--env-file', path.join(dir, '.env')], { ready: /REST API on http/ });
    masterUrl = `http://127.0.0.1:${port}`;
    args.push('--tracker', trackerWs.replace('ws://', 'http://'));
  }
  consoleProc = await startProcess(args, { ready: /console listening on http:\/\/[\d.:]+/ });
  consoleUrl = consoleProc.output().match(/console listening on (http:\/\/[\d.:]+)/)[1];
  ctx = await launchBrowser();
});

after(async () => {
  await ctx?.close();
  await consoleProc?.stop();
  await master?.stop();
  await tracker?.stop();
  await origin?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function login(page) {
  // Start signed out (the browser keeps the token of an earlier test).
  await page.goto(consoleUrl);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.fill('input[name=token]', 'not-the-token');
  await page.click('button[type=submit]');
  await page.getByText('That token is not right.').waitFor();
  await page.fill('input[name=token]', ADMIN);
  await page.click('button[type=submit]');
  await page.locator('nav.tabs').waitFor();
}

async function register(page, { url, bandwidth, token, label }) {
  await page.goto(`${consoleUrl}/#super-peers`);
  const form = page.locator('form.grid-form').first();
  await form.locator('input[name=url]').fill(url);
  await form.locator('input[name=bandwidth]').fill(String(bandwidth));
  if (token) await form.locator('input[name=token]').fill(token);
  await form.locator('input[name=label]').fill(label);
  await form.locator('button[type=submit]').click();
  const card = page.locator('[data-testid=super-peer]', { hasText: label });
  await card.waitFor();
  return card;
}

async function screenshots(page, name) {
  await page.setViewportSize({ width: 1360, height: 900 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(artifacts, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(artifacts, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize({ width: 1360, height: 900 });
}

test('login, then an unreachable super peer shows as Stopped with its error', async () => {
  const page = await openPage(ctx, 'about:blank');
  await login(page);
  const closed = await freePort(); // nothing listens there
  const card = await register(page, { url: `http://127.0.0.1:${closed}`, bandwidth: 200, label: 'unreachable-e2e' });
  await card.locator('[data-testid=status]', { hasText: 'Stopped' }).waitFor();
  const error = await card.locator('[data-testid=error]').textContent();
  assert.match(error, /connect/i);

  // The registry is persisted: it is there after a reload, and the API agrees.
  await page.reload();
  await page.locator('[data-testid=super-peer]', { hasText: 'unreachable-e2e' }).waitFor();
  const list = await (await fetch(`${consoleUrl}/api/super-peers`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json();
  assert.equal(list.find((s) => s.label === 'unreachable-e2e')?.status, 'stopped');
  await screenshots(page, 'console-super-peers-stopped');
  // The one 401 is the wrong token tried on purpose.
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), [], 'no page errors');
  await page.close();
});

let seeded; // { page, card, worker, manifest, workers } once the channel is seeded

test(
  'a real super peer shows Running; a channel seeded by hand gets a worker on the tracker',
  { skip: !fullStack && 'this build has no swarmcast tracker / superpeer (or their player page) yet' },
  async () => {
    const page = await openPage(ctx, 'about:blank');
    await login(page);
    const card = await register(page, { url: masterUrl, bandwidth: 1000, token: SP_TOKEN, label: 'e2e-super-peer' });
    await card.locator('[data-testid=status]', { hasText: 'Running' }).waitFor({ timeout: 15_000 });

    // Manual mode, then seed the live channel by hand from the super peer's card.
    await page.locator('label.switch').click();
    await page.locator('.switch', { hasText: 'Manual seeding' }).waitFor();
    const manifest = `${origin.url}/live/hls-ts/index.m3u8`;
    await card.locator('form.seed-form input[type=url]').fill(manifest);
    await card.locator('form.seed-form button[type=submit]').click();
    const worker = card.locator('[data-testid=worker]').first();
    await worker.waitFor({ timeout: 30_000 });
    assert.match(await worker.textContent(), /live\/hls-ts\/index\.m3u8/);

    const workers = async () => {
      const list = await (await fetch(`${consoleUrl}/api/super-peers`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json();
      return list.find((s) => s.label === 'e2e-super-peer')?.workers ?? [];
    };
    for (let i = 0; i < 120 && !(await workers())[0]?.signal; i++) await page.waitForTimeout(500);
    const [w] = await workers();
    assert.equal(w?.signal, trackerWs, `worker on the tracker: ${JSON.stringify(w)}`);
    assert.equal(w.channel, manifest);

    await page.goto(`${consoleUrl}/#decisions`);
    await page.locator('[data-testid=decision]', { hasText: 'seeded by hand' }).first().waitFor();
    await page.goto(`${consoleUrl}/#super-peers`);
    await worker.waitFor();
    await screenshots(page, 'console-worker-seeded');
    assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), [], 'no page errors');
    seeded = { page, card, worker, manifest, workers };
  },
);

test(
  "the seeded channel's worker has peers > 0 while two player tabs watch",
  { skip: !fullStack && 'this build has no swarmcast tracker / superpeer (or the player page and SDK build) yet' },
  async () => {
    assert.ok(seeded, 'the previous test seeded a channel');
    const { page, worker, manifest, workers } = seeded;
    // The demo player page: hls.js with our SDK, on the seeded stream and our tracker.
    const url = `${origin.url}/player/?src=${encodeURIComponent(manifest)}&tracker=${encodeURIComponent(trackerWs)}`;
    const tabs = [await openPage(ctx, url), await openPage(ctx, url)];
    // The row's buttons must stay the same elements across the view's refreshes: one rebuilt
    // under the pointer loses the click.
    const stop = await worker.locator('[data-action=worker-stop]').elementHandle();
    await page.evaluate(() => {
      window.__redraws = 0;
      new MutationObserver(() => { window.__redraws++; }).observe(document.querySelector('.sp-list'), { subtree: true, childList: true, characterData: true });
    });
    try {
      for (const tab of tabs) await tab.waitForFunction(() => document.querySelector('video').currentTime > 0, null, { timeout: 60_000 });
      // The dashboard refreshes every 3 s; wait for the worker to report connected peers.
      const deadline = Date.now() + 90_000;
      let peers = 0;
      while (Date.now() < deadline) {
        peers = Number(await worker.locator('[data-testid=peers]').textContent());
        if (peers > 0) break;
        await page.waitForTimeout(1000);
      }
      const tabPeers = await Promise.all(tabs.map((t) => t.locator('#peers').textContent()));
      assert.ok(peers > 0, `worker peers in the dashboard: ${peers}; tabs' peers: ${tabPeers}; workers: ${JSON.stringify((await workers()).map((w) => w.raw))}`);
      await page.waitForFunction(() => window.__redraws > 0);
      assert.ok(await stop.evaluate((b) => b.isConnected), 'the worker\'s Stop button is still the one on the page after a refresh redrew the row');
      await screenshots(page, 'console-worker-serving');
      for (const tab of tabs) assert.deepEqual(tab.errors, [], 'no player page errors');
    } finally {
      for (const tab of tabs) await tab.close();
      await page.close();
    }
  },
);

test(
  'a channel listed by URL from the dashboard is matched to its swarm and stays listed',
  { skip: !fullStack && 'this build has no origin to list a channel of' },
  async () => {
    const page = await openPage(ctx, 'about:blank');
    await login(page);
    await page.goto(`${consoleUrl}/#channels`);
    const form = page.locator('[data-testid=list-channel]');
    await form.locator('input[type=url]').fill(`${origin.url}/live/hls-ts/index.m3u8`);
    await form.locator('button[type=submit]').click();
    const row = page.locator('[data-testid=listed-channel]', { hasText: 'live/hls-ts/index.m3u8' });
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.textContent(), /matched/);
    // A URL that is not a manifest is listed with the reason it matches nothing.
    await form.locator('input[type=url]').fill(`${origin.url}/no-such-channel.m3u8`);
    await form.locator('button[type=submit]').click();
    const bad = page.locator('[data-testid=listed-channel]', { hasText: 'no-such-channel' });
    await bad.waitFor({ timeout: 15_000 });
    assert.match(await bad.textContent(), /HTTP 404/);
    await page.reload();
    await page.locator('[data-testid=listed]').nth(1).waitFor();
    await screenshots(page, 'console-channel-list');
    assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), [], 'no page errors');
    await page.close();
  },
);
