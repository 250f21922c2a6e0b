// The QoE control group end to end: two SDK tabs on one stream, one forced into the control
// group (controlGroupRatio 1) and one into P2P (ratio 0). The control tab plays over HTTP only
// (it never joins the swarm, downloads nothing from peers and uploads nothing); both tabs'
// reports reach the tracker with their groups and tags, and the console's API and dashboard
// show both groups side by side with the viewers each figure rests on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startOrigin, startProcess } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, startTracker, state, summary } from './sdk-support.mjs';

const ADMIN = 'e2e-admin-token';
const dashboard = path.join(repoRoot, 'web/dashboard/dist');
const SRC = '/live/hls-ts/index.m3u8';

let origin;
let tracker;
let consoleProc;
let consoleUrl;
let ctx;
let dir;
before(async () => {
  assert.ok(fs.existsSync(path.join(dashboard, 'index.html')), 'build the dashboard first: npm run build -w web/dashboard');
  origin = await startOrigin();
  tracker = await startTracker();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-qoe-'));
  consoleProc = await startProcess(
    ['console', '--listen', '127.0.0.1:0', '--database', path.join(dir, 'console.db'), '--admin-token', ADMIN, '--dashboard', dashboard,
      '--tracker', tracker.url.replace('ws://', 'http://'), '--traffic-interval', '1'],
    { ready: /console listening on http:\/\/[\d.:]+/ },
  );
  consoleUrl = consoleProc.output().match(/console listening on (http:\/\/[\d.:]+)/)[1];
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await consoleProc?.stop();
  await tracker?.stop();
  await origin?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls `f` every 500 ms until it returns something truthy (at most `tries` times). */
async function until(f, tries = 60) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await f();
    if (last?.ok) return last;
    await sleep(500);
  }
  return last;
}

test('a control-group tab plays over HTTP only, and both groups reach the tracker and the console', async () => {
  const channel = `${origin.url}${SRC}`;
  const http = tracker.url.replace('ws:', 'http:');
  const common = { statsInterval: '1000', level: '0' };
  const control = await openPlayer(ctx, origin, SRC, tracker.url, { params: { ...common, controlGroupRatio: '1', tag: 'ctl-e2e' } });
  const p2p = await openPlayer(ctx, origin, SRC, tracker.url, { params: { ...common, controlGroupRatio: '0', tag: 'p2p-e2e' } });
  try {
    for (const tab of [control, p2p]) await waitForState(tab, (s) => (s.currentTime > 2 && s.qoe?.playMs > 0) || s.fatal, { what: 'playback' });

    // Both reports at the tracker, each in its group with its tag.
    const qoe = await until(async () => {
      const body = await (await fetch(`${http}/qoe?channel=${encodeURIComponent(channel)}`)).json();
      const c = body.channels[0];
      return { ok: c?.p2p.viewers === 1 && c?.control.viewers === 1 && c.p2p.started === 1 && c.control.started === 1 && c.p2p.played === 1 && c.control.played === 1, body, c };
    });
    assert.ok(qoe.ok, `tracker /qoe: ${JSON.stringify(qoe.body)}`);
    const { c } = qoe;
    const tags = c.tags.map((t) => `${t.group}/${t.tag}`).sort();
    assert.deepEqual(tags, ['control/ctl-e2e', 'p2p/p2p-e2e']);
    assert.equal(c.control.p2p_bytes, 0, 'the control group downloads nothing from peers');
    assert.equal(c.control.upload_bytes, 0, 'the control group uploads nothing');
    assert.ok(c.control.http_bytes > 0 && c.p2p.http_bytes > 0, JSON.stringify(c));
    assert.ok(c.control.startup_ms > 0 && c.p2p.startup_ms > 0, JSON.stringify(c));
    assert.ok(c.control.bitrate_kbps > 0, `the control tab's bitrate played: ${JSON.stringify(c.control)}`);

    // The control tab never joined the swarm: the tracker knows one peer, the P2P tab.
    const swarms = await (await fetch(`${http}/channels`)).json();
    const peers = swarms.channels.filter((s) => s.channel === channel).reduce((n, s) => n + s.peers, 0);
    assert.equal(peers, 1, `peers in the channel's swarms: ${JSON.stringify(swarms)}`);
    const [sc, sp] = [await state(control), await state(p2p)];
    assert.equal(sc.qoe.group, 'control', summary(sc));
    assert.equal(sp.qoe.group, 'p2p', summary(sp));
    assert.equal(sc.bytes.p2pDown, 0, `control tab took no P2P bytes: ${summary(sc)}`);
    assert.equal(sc.bytes.p2pUp, 0, `control tab uploaded nothing: ${summary(sc)}`);
    assert.equal(sc.serverConnected, false, 'the control tab opened no tracker socket');
    // enableP2P() keeps a control viewer on HTTP.
    assert.equal(await control.evaluate(() => { window.__engine.enableP2P(); return window.__engine.p2pEnabled; }), false);
    for (const s of [sc, sp]) assert.equal(s.fatal, null, summary(s));

    // The console's API: both groups of the channel with their viewer counts.
    const auth = { headers: { Authorization: `Bearer ${ADMIN}` } };
    const api = await until(async () => {
      const body = await (await fetch(`${consoleUrl}/api/qoe`, auth)).json();
      const ch = body.channels.find((x) => x.channel === channel);
      return { ok: ch?.p2p.viewers === 1 && ch?.control.viewers === 1 && ch.p2p.played === 1 && ch.control.played === 1, body, ch };
    });
    assert.ok(api.ok, `console /api/qoe: ${JSON.stringify(api.body)}`);
    assert.equal(api.ch.control.p2p_share, 0);

    // The dashboard's Channels page: a row per group, each figure with its viewers.
    const page = await openPage(ctx, consoleUrl);
    await page.evaluate((t) => localStorage.setItem('swarmcast-console-token', t), ADMIN);
    await page.goto(`${consoleUrl}/#channels`);
    await page.reload();
    await page.locator('nav.tabs').waitFor();
    for (const group of ['p2p', 'control']) {
      const row = page.locator(`[data-testid=qoe-group][data-group=${group}]`);
      await row.waitFor({ timeout: 15_000 });
      assert.match(await row.locator('[data-testid=qoe-viewers]').textContent(), /^1 now/);
      assert.match(await row.locator('[data-testid=qoe-startup]').textContent(), /\d+ (ms|s) · 1 viewer$/);
      assert.match(await row.locator('[data-testid=qoe-bitrate]').textContent(), /bps · 1 viewer$/);
    }
    assert.match(await page.locator('[data-testid=qoe-group][data-group=control] [data-testid=qoe-share]').textContent(), /^0(\.0)?% · 1 viewer$/);
    fs.mkdirSync(path.join(repoRoot, 'e2e/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'e2e/artifacts/console-qoe-desktop.png'), fullPage: true });
    assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), [], 'no dashboard errors');
    await page.close();
  } finally {
    await control.close();
    await p2p.close();
  }
});
