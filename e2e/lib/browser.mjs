// Debian's Chromium driven by playwright-core, set up so WebRTC works over loopback.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  // Loopback ICE candidates are only gathered with this flag and media permission granted.
  '--allow-loopback-in-peer-connection',
];

/**
 * A fresh Chromium with its own profile. Camera and microphone are granted to every origin,
 * which makes Chromium expose raw 127.0.0.1 candidates instead of nothing.
 * Close it with `ctx.close()`; the profile folder is removed then. `executablePath` replaces
 * Chromium with a wrapper that starts it (the network bench's, which runs it in a namespace).
 */
export async function launchBrowser({ extraArgs = [], executablePath = chromiumPath } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath,
    headless: true,
    args: [...FLAGS, ...extraArgs],
    permissions: ['camera', 'microphone'],
  });
  const close = ctx.close.bind(ctx);
  ctx.close = async () => {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return ctx;
}

/**
 * A fresh Chromium as a `Browser` (no persistent profile), for tests that need the browser's own
 * CDP session (`browser.newBrowserCDPSession()`: its processes, for memory). Open a context with
 * `browser.newContext({ permissions: ['camera', 'microphone'] })` for WebRTC as above.
 */
export async function launchChromium({ extraArgs = [] } = {}) {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: [...FLAGS, ...extraArgs] });
}

/**
 * Opens `url` in a new tab and collects console errors and page crashes into `page.errors`;
 * with SWARMCAST_E2E_CONSOLE set, every console message is printed, timed and tagged with the tab.
 */
export async function openPage(ctx, url) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  const tag = `${url.split('?')[0].split('/').pop()} ${ctx.pages().length}`;
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
    if (process.env.SWARMCAST_E2E_CONSOLE) console.log(`${new Date().toISOString()} [${tag}] ${m.type()}: ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

/** Polls `window.__state` until `predicate(state)` holds; returns that state. */
export async function waitForState(page, predicate, { timeoutMs = 60_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let state;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => window.__state);
    if (state && predicate(state)) return state;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(state)}`);
}
