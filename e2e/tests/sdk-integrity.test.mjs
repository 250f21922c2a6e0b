// Lying peers in a swarm of our tabs, on the looping live channel whose digests the origin
// publishes (segments-sha256.json beside the playlist): one tab flips a byte of every segment
// it uploads, another cuts every segment short. Honest tabs must never hand a bad segment to
// hls.js (every played fragment is checked against the origin), must ban each liar after its
// first bad segment, and the tracker must count it. Then the same liar against a super peer,
// and a stream without published digests, where nothing changes.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, startSuperPeer, startTracker } from '../lib/servers.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { drainPlayed, PlayedChecker } from '../lib/played.mjs';
import { openPlayer, sleep, state } from './sdk-support.mjs';

const PLAY_S = Number(process.env.SWARMCAST_INTEGRITY_S ?? 60);
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()().catch(() => {});
});

async function servers() {
  const origin = await startOrigin({ liveWindow: 10 });
  cleanups.push(() => origin.stop());
  const tracker = await startTracker();
  cleanups.push(() => tracker.stop());
  const ctx = await launchBrowser();
  cleanups.push(() => ctx.close());
  return { origin, tracker, ctx };
}

const params = { statsInterval: '2000' };

/** Opens the liars first (so that they hold segments the others want), then the victims. */
async function openTabs(ctx, origin, src, tracker, liars, victims) {
  const liarTabs = [];
  for (const lie of liars) liarTabs.push(await openPlayer(ctx, origin, src, tracker.url, { params: { ...params, lie } }));
  await sleep(8000);
  const victimTabs = [];
  for (let i = 0; i < victims; i++) {
    victimTabs.push(await openPlayer(ctx, origin, src, tracker.url, { params }));
    await sleep(1000);
  }
  return { liarTabs, victimTabs };
}

async function playAndCheck(tabs) {
  const checker = new PlayedChecker();
  const start = Date.now();
  while (Date.now() - start < PLAY_S * 1000) {
    await sleep(5000);
    for (const [i, t] of tabs.entries()) await checker.add(i, await drainPlayed(t));
  }
  return checker;
}

/** The victims' verdicts on each liar: PEER_EXPT messages naming it, and whether it was banned. */
function verdicts(victimStates, liarIds) {
  return victimStates.map((s) => {
    const peerExceptions = s.exceptionMessages.filter((m) => m.startsWith('PEER_EXPT') && /SHA-256/.test(m));
    return {
      perLiar: liarIds.map((id) => peerExceptions.filter((m) => m.includes(id)).length),
      blamedOthers: peerExceptions.filter((m) => !liarIds.some((id) => m.includes(id))),
      banned: s.bytes?.banned ?? 0,
    };
  });
}

async function trackerMetric(tracker, name) {
  const text = await (await fetch(`${tracker.url.replace('ws:', 'http:')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? 0);
}

test('a flipping and a truncating liar are banned after their first bad segment; no victim plays a bad byte', { timeout: (PLAY_S + 180) * 1000 }, async (t) => {
  const { origin, tracker, ctx } = await servers();
  const src = `${origin.url}/live/hls-ts/index.m3u8`;
  const { liarTabs, victimTabs } = await openTabs(ctx, origin, src, tracker, ['flip', 'truncate'], 3);
  const checker = await playAndCheck(victimTabs);
  await sleep(3000); // one more stats report
  const liarIds = (await Promise.all(liarTabs.map(state))).map((s) => s.peerId);
  const victims = await Promise.all(victimTabs.map(state));
  const v = verdicts(victims, liarIds);
  t.diagnostic(checker.summary());
  t.diagnostic(`liars ${liarIds}; per victim, bad segments blamed on each liar: ${JSON.stringify(v.map((x) => x.perLiar))}, bans ${v.map((x) => x.banned)}`);
  t.diagnostic(`victims' P2P bytes ${victims.map((s) => s.bytes?.p2pDown)}`);

  assert.deepEqual(checker.mismatches, [], 'no victim was handed a bad segment');
  assert.deepEqual(checker.mediaErrors(), [], 'no hls.js media error');
  assert.ok(checker.checked >= victimTabs.length * (PLAY_S / 2) * 0.5, checker.summary());
  for (const [i, liar] of liarIds.entries()) {
    assert.ok(v.some((x) => x.perLiar[i] >= 1), `some victim caught liar ${liar}`);
  }
  for (const x of v) {
    assert.ok(x.perLiar.every((n) => n <= 1), `a liar is banned after its first bad segment: ${JSON.stringify(x)}`);
    assert.deepEqual(x.blamedOthers, [], 'no honest peer is blamed');
  }
  assert.ok(victims.every((s) => !s.peers.some((p) => liarIds.includes(p))), 'no victim is still connected to a liar');
  assert.ok(victims.reduce((n, s) => n + s.bytes.p2pDown, 0) > 0, 'the honest tabs still share with each other');
  assert.ok((await trackerMetric(tracker, 'tracker_bad_segments_total')) >= 2, 'the tracker counts bad segments');
  assert.ok((await trackerMetric(tracker, 'tracker_banned_peers_total')) >= 2, 'and bans');
});

test('a liar beside a super peer is banned; the super peer is never blamed', { timeout: (PLAY_S + 180) * 1000 }, async (t) => {
  const { origin, tracker, ctx } = await servers();
  const master = await startSuperPeer({ signal1: tracker.url, statsIntervalMs: 500 });
  cleanups.push(() => master.stop());
  const src = `${origin.url}/live/hls-ts/index.m3u8`;
  const seeded = await master.call('POST', '/seed', { list: [{ channel: Buffer.from(src).toString('base64url'), live: true }] });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  const pid = seeded.body.channels[0].pids[0];
  const worker = await master.poll(`/stats/${pid}`, (w) => w.signal && w.segments >= 3);
  const { liarTabs, victimTabs } = await openTabs(ctx, origin, src, tracker, ['flip'], 2);
  const checker = await playAndCheck(victimTabs);
  const liarId = (await state(liarTabs[0])).peerId;
  const victims = await Promise.all(victimTabs.map(state));
  const v = verdicts(victims, [liarId]);
  t.diagnostic(`${checker.summary()}; bad segments blamed on the liar per victim ${v.map((x) => x.perLiar[0])}; worker ${worker.peerId}`);
  assert.deepEqual(checker.mismatches, [], 'no victim was handed a bad segment');
  assert.deepEqual(checker.mediaErrors(), [], 'no hls.js media error');
  assert.ok(v.some((x) => x.perLiar[0] === 1), 'the liar was caught');
  for (const x of v) {
    assert.ok(x.perLiar[0] <= 1, 'banned after its first bad segment');
    assert.deepEqual(x.blamedOthers, [], 'the super peer and honest tabs are never blamed');
  }
  assert.ok(victims.every((s) => s.peers.includes(worker.peerId)), 'every victim keeps the super peer');
});

test('without published digests nothing changes: tabs share, nobody is blamed', { timeout: 180_000 }, async (t) => {
  const { origin, tracker, ctx } = await servers();
  const src = `${origin.url}/hls-ts/index.m3u8`; // VOD folder: no segments-sha256.json
  const a = await openPlayer(ctx, origin, src, tracker.url, { params });
  await sleep(3000);
  const b = await openPlayer(ctx, origin, src, tracker.url, { params });
  let s;
  for (let i = 0; i < 90; i++) {
    s = await Promise.all([a, b].map(state));
    if (s.every((x) => x.bytes?.p2pDown > 1_000_000 || x.bytes?.p2pUp > 1_000_000) && s[1].bytes.p2pDown > 1_000_000) break;
    await sleep(1000);
  }
  t.diagnostic(JSON.stringify(s.map((x) => x.bytes)));
  assert.ok(s[1].bytes.p2pDown > 1_000_000, 'the second tab took segments from the first');
  for (const x of s) {
    assert.equal(x.bytes.badSegments + x.bytes.unverified + x.bytes.banned, 0, JSON.stringify(x.bytes));
    assert.deepEqual(x.exceptions.filter((c) => c === 'PEER_EXPT'), []);
  }
});

test('with checks off, a garbled segment from a peer reaches hls.js and the error is counted against peers, up to the tracker', { timeout: 240_000 }, async (t) => {
  const { origin, tracker, ctx } = await servers();
  const src = `${origin.url}/live/hls-ts/index.m3u8`;
  const liar = await openPlayer(ctx, origin, src, tracker.url, { params: { ...params, lie: 'garble' } });
  await sleep(8000);
  const victim = await openPlayer(ctx, origin, src, tracker.url, { params: { ...params, integrity: '0' } });
  const liarId = (await state(liar)).peerId;
  let s;
  for (let i = 0; i < 90; i++) {
    s = await state(victim);
    if (s.bytes?.errorsPeer > 0) break;
    await sleep(1000);
  }
  await sleep(3000); // the next stats report
  const channel = (await (await fetch(`${tracker.url.replace('ws:', 'http:')}/channels`)).json()).channels.find((c) => c.errors_peer > 0);
  t.diagnostic(`victim ${JSON.stringify(s.bytes)}; ${s.exceptionMessages.filter((m) => m.startsWith('MEDIA_EXPT')).slice(0, 2)}`);
  assert.ok(s.bytes.errorsPeer > 0, 'the player error is counted against peers');
  assert.equal(s.bytes.errorsHttp, 0, 'and not against HTTP');
  assert.ok(s.exceptionMessages.some((m) => m.startsWith('MEDIA_EXPT') && m.includes(liarId)), 'the exception names the peer');
  assert.ok(channel, 'the tracker shows the channel\'s player errors from peers');
  assert.ok((await trackerMetric(tracker, 'tracker_playback_errors_total{source="peer"}')) > 0);
});
