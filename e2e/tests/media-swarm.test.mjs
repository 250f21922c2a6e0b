// P2PEngineMedia in Chromium: progressive files played through the ServiceWorker, shared between
// tabs by pieces. Each test gets a fresh browser (its own ServiceWorker and IndexedDB).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startTracker } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { checkServed, mediaSummary, openMedia, playedAtLeast, sleep, state } from './media-support.mjs';

let origin;
let tracker;
before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
});
after(async () => {
  await tracker?.stop();
  await origin?.stop();
});

async function withBrowser(fn) {
  const ctx = await launchBrowser();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/**
 * Tab A plays `src`, tab B joins a second later; both play `seconds`. B must take most of its
 * bytes from A, and every byte either element got must be the origin's.
 */
async function twoTabs(ctx, src, params, seconds) {
  const p = { tracker: tracker.url, disk: '0', ...params };
  const a = await openMedia(ctx, origin, src, p);
  await sleep(1000);
  const b = await openMedia(ctx, origin, src, p);
  for (const page of [a, b]) await playedAtLeast(page, seconds);
  const [sa, sb] = await Promise.all([a, b].map(state));
  for (const s of [sa, sb]) {
    assert.ok(s.proxied, `played through the worker; ${mediaSummary(s)}`);
    assert.deepEqual(s.errors, [], mediaSummary(s));
  }
  assert.ok(sb.bytes.p2pDown > sb.bytes.httpDown, `B took most of its bytes from A; ${mediaSummary(sb)}`);
  assert.ok(sa.bytes.p2pUp > 0, `A uploaded; ${mediaSummary(sa)}`);
  return { a, b, sa, sb };
}

async function assertServedIsOrigins(pages) {
  const checker = await checkServed(pages);
  assert.ok(checker.checked > 0, 'the worker answered the elements');
  assert.deepEqual(checker.mismatches, [], checker.summary());
  assert.deepEqual(checker.mediaErrors(), [], checker.summary());
  return checker;
}

test('two tabs share an MP4 by pieces; every byte played is the origin\'s; seeks to the middle and to the last second play', async () => {
  await withBrowser(async (ctx) => {
    const { a, b, sa } = await twoTabs(ctx, '/progressive.mp4', { channel: 'mp4-two-tabs' }, 8);
    assert.equal(sa.protocolVersion, 'v2');
    assert.ok(sa.supported && sa.swVersionSupported, 'support statics');
    // Seek B to the middle, then to the last second: both play on.
    const mid = (await state(b)).duration / 2;
    await b.evaluate((t) => window.__seek(t), mid);
    await playedAtLeast(b, mid + 2, 'playing after the seek to the middle');
    const end = (await state(b)).duration - 1;
    await b.evaluate((t) => window.__seek(t), end);
    const last = await waitForState(b, (s) => s.ended || s.errors.length > 0, { what: 'the end after the seek to the last second' });
    assert.deepEqual(last.errors, [], mediaSummary(last));
    const checker = await assertServedIsOrigins([a, b]);
    console.log(`mp4: ${checker.summary()}; B ${mediaSummary(last)}`);
  });
});

test('two tabs share an MP3 in <audio>', async () => {
  await withBrowser(async (ctx) => {
    const { a, b, sb } = await twoTabs(ctx, '/audio.mp3', { kind: 'audio', channel: 'mp3-two-tabs' }, 6);
    assert.equal(sb.kind, 'audio');
    await assertServedIsOrigins([a, b]);
  });
});

test('two tabs share a WebM', async () => {
  await withBrowser(async (ctx) => {
    const { a, b } = await twoTabs(ctx, '/progressive.webm', { channel: 'webm-two-tabs' }, 6);
    await assertServedIsOrigins([a, b]);
  });
});
