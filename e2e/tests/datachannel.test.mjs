// Two Chromium tabs open an RTCDataChannel to each other over loopback and move 10 MB intact.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from '../lib/servers.mjs';
import { launchBrowser, openPage, waitForState } from '../lib/browser.mjs';

let origin;
let ctx;
before(async () => {
  origin = await startOrigin();
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await origin?.stop();
});

test('two tabs exchange 10 MB over a loopback data channel', async () => {
  const [a, b] = [
    await openPage(ctx, `${origin.url}/e2e/datachannel.html`),
    await openPage(ctx, `${origin.url}/e2e/datachannel.html`),
  ];
  const offer = await a.evaluate(() => window.makeOffer());
  assert.match(offer, /127\.0\.0\.1/, 'the offer carries a loopback candidate');
  const answer = await b.evaluate((sdp) => window.acceptOffer(sdp), offer);
  await a.evaluate((sdp) => window.acceptAnswer(sdp), answer);
  await waitForState(a, (s) => s.open, { what: 'channel open on the offerer' });
  await waitForState(b, (s) => s.open, { what: 'channel open on the answerer' });

  const total = 10 * 1024 * 1024;
  const sent = await a.evaluate((n) => window.sendRandom(n, 12345), total);
  await waitForState(b, (s) => s.received >= total || s.error, { what: '10 MB received', timeoutMs: 120_000 });
  const received = await b.evaluate(() => window.receivedDigest());
  assert.equal((await b.evaluate(() => window.__state)).received, total);
  assert.equal(received, sent, 'SHA-256 of the received bytes equals the sent ones');
  assert.deepEqual([a.errors, b.errors], [[], []]);
});
