// Privacy: two Chromium tabs with the Swarmcast SDK configured relay-only
// (webRTCConfig.iceTransportPolicy "relay" and a TURN server, Debian's coturn on 127.0.0.1)
// share a VOD stream both ways. Every ICE candidate either tab offered or received is a relay
// candidate, the pairs in use are relay to relay, and the TURN server granted the
// allocations: neither tab learnt the other's own address, only the TURN server's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startTurnServer } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { openPlayer, sleep, startTracker, state, summary } from './sdk-support.mjs';

let origin;
let tracker;
let turn;
let ctx;
before(async () => {
  origin = await startOrigin();
  tracker = await startTracker();
  turn = await startTurnServer();
  ctx = await launchBrowser();
});
after(async () => {
  await ctx?.close();
  await turn?.stop();
  await tracker?.stop();
  await origin?.stop();
});

/** ICE candidates of every connected peer connection of a page: in its SDPs and in use. */
function candidates(page) {
  return page.evaluate(async () => {
    const types = (sdp) => [...(sdp ?? '').matchAll(/^a=candidate:.* typ (\w+)/gm)].map((m) => m[1]);
    const out = [];
    for (const pc of window.__peerConnections) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      const byId = new Map([...stats.values()].map((r) => [r.id, r]));
      const transport = [...stats.values()].find((r) => r.type === 'transport');
      const pair = byId.get(transport?.selectedCandidatePairId);
      out.push({
        local: types(pc.localDescription?.sdp),
        remote: types(pc.remoteDescription?.sdp),
        inUse: pair ? [byId.get(pair.localCandidateId)?.candidateType, byId.get(pair.remoteCandidateId)?.candidateType] : null,
      });
    }
    return out;
  });
}

test('relay-only SDK tabs connect through the TURN server and see only relay candidates', async () => {
  const params = { waitForPeer: 10000, turn: turn.urls, turnUser: turn.username, turnPass: turn.credential };
  const a = await openPlayer(ctx, origin, '/hls-ts/index.m3u8', tracker.url, { params });
  await sleep(1000);
  const b = await openPlayer(ctx, origin, '/hls-ts/index.m3u8', tracker.url, { params });
  const pages = [a, b];
  for (const p of pages) await waitForState(p, (s) => s.currentTime > 0 || s.fatal, { what: 'playback start' });
  const deadline = Date.now() + 120_000;
  let states;
  while (Date.now() < deadline) {
    states = await Promise.all(pages.map(state));
    if (states.every((s) => s.fatal || s.bytes?.p2pDown > 0)) break;
    await sleep(500);
  }
  const seen = await Promise.all(pages.map(candidates));
  for (const p of pages) await p.close();
  states.forEach((s, i) => {
    const tab = `tab ${'AB'[i]}: ${summary(s)}`;
    assert.equal(s.fatal, null, tab);
    assert.ok(s.bytes.p2pDown > 0, `downloaded from the other tab through the TURN server; ${tab}`);
  });
  seen.forEach((list, i) => {
    const tab = `tab ${'AB'[i]}: ${JSON.stringify(list)}`;
    assert.ok(list.length >= 1, `a connected peer connection; ${tab}`);
    for (const c of list) {
      assert.ok(c.local.length > 0 && c.local.every((t) => t === 'relay'), `only relay candidates offered; ${tab}`);
      assert.ok(c.remote.length > 0 && c.remote.every((t) => t === 'relay'), `only relay candidates received; ${tab}`);
      assert.deepEqual(c.inUse, ['relay', 'relay'], `the pair in use is relay to relay; ${tab}`);
    }
  });
  assert.ok(turn.allocations() >= 2, `the TURN server granted allocations:\n${turn.output().slice(-6000)}`);
});
