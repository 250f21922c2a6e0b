// P2PEngineMedia in Chromium: progressive files played through the ServiceWorker, shared between
// tabs by pieces, each piece from a peer checked against the digests `swarmcast hash` published
// for the file. Each test gets a fresh browser (its own ServiceWorker and IndexedDB) and a file
// in a folder of its own, so that the origin's count of that folder is the file's origin bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startOrigin, startTracker } from '../lib/servers.mjs';
import { launchBrowser, waitForState } from '../lib/browser.mjs';
import { checkServed, mediaSummary, openMedia, pieceFolders, playedAtLeast, probeFile, state } from './media-support.mjs';

const KiB = 1024;
let origin;
let tracker;
let folders;
before(async () => {
  folders = await pieceFolders({
    mp4: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    liar: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    webm: { file: 'progressive.webm', pieceLength: 512 * KiB },
    // A 60 s MP3 is under 1 MB: pieces of 64 KiB (4 s each) give its swarm something to share.
    mp3: { file: 'audio.mp3', pieceLength: 64 * KiB },
    leave: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    disk: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    restart: { file: 'progressive.mp4', pieceLength: 512 * KiB },
    late: { file: 'progressive.mp4', pieceLength: 512 * KiB },
  });
  origin = await startOrigin({ mounts: { '/m': folders.dir } });
  tracker = await startTracker();
});
after(async () => {
  await tracker?.stop();
  await origin?.stop();
  folders?.remove();
});

async function withBrowser(fn) {
  const ctx = await launchBrowser();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** Bytes the origin served of folder `/m/<name>/` (the one file in it, and its digests). */
async function originBytes(name) {
  return (await origin.stats(`/m/${name}/`)).total.bytes;
}

/**
 * Three tabs play `/m/<name>/<file>`, each opened once the one before has played 2 s, and all
 * play `seconds`. Two tabs elect one of them to fetch each piece from the origin first, so the
 * first two share both ways; the third finds the file in the swarm and must take most of its
 * bytes from the other two. Together they must cost the origin well under two copies of the
 * file (three without P2P), and every element must have played what it was given.
 */
async function threeTabs(ctx, name, file, params, seconds) {
  const src = `/m/${name}/${file}`;
  const { bytes, duration } = probeFile(path.join(folders.dir, name, file));
  const p = { tracker: tracker.url, disk: '0', channel: `${name}-tabs`, ...params };
  const tabs = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await playedAtLeast(tabs[i - 1], 2);
    tabs.push(await openMedia(ctx, origin, src, p));
  }
  for (const t of [...tabs].reverse()) await playedAtLeast(t, seconds);
  const states = await Promise.all(tabs.map(state));
  for (const s of states) {
    assert.ok(s.proxied, `played through the worker; ${mediaSummary(s)}`);
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.equal(s.rebuffers, 0, `no stall; ${mediaSummary(s)}`);
    assert.ok(Math.abs(s.duration - duration) < 0.1, `the element's duration ${s.duration} s is the file's ${duration} s`);
    if (s.kind === 'video') assert.ok(s.frames >= 10 * seconds, `frames decoded: ${s.frames} in ${s.currentTime} s`);
    assert.equal(s.bytes.badSegments + s.bytes.unverified, 0, `every piece from peers matched the published digests; ${mediaSummary(s)}`);
  }
  const [sa, sb, sc] = states;
  assert.ok(sb.bytes.p2pDown > 0 && sa.bytes.p2pUp > 0, `the first two share; A ${mediaSummary(sa)} B ${mediaSummary(sb)}`);
  assert.ok(sc.bytes.p2pDown > sc.bytes.httpDown, `the third took most of its bytes from the others; ${mediaSummary(sc)}`);
  const fromOrigin = await originBytes(name);
  const share = (x) => `${((100 * x.bytes.p2pDown) / (x.bytes.p2pDown + x.bytes.httpDown)).toFixed(0)} %`;
  console.log(`${file}: P2P share A ${share(sa)}, B ${share(sb)}, C ${share(sc)}; origin ${(fromOrigin / bytes).toFixed(2)}x the file for three tabs`);
  assert.ok(fromOrigin < 1.5 * bytes, `origin served ${fromOrigin} bytes for three tabs of a ${bytes}-byte file`);
  return { tabs, states };
}

/** Every part of every piece the worker gave the elements is the origin's byte for byte. */
async function assertServedIsOrigins(pages) {
  const checker = await checkServed(pages);
  assert.ok(checker.checked > 0, 'the worker answered the elements');
  assert.deepEqual(checker.mismatches, [], checker.summary());
  assert.deepEqual(checker.mediaErrors(), [], checker.summary());
  return checker;
}

test('three tabs share an MP4 by pieces; every byte played is the origin\'s; seeks to the middle and to the last second play', async () => {
  await withBrowser(async (ctx) => {
    const { tabs, states } = await threeTabs(ctx, 'mp4', 'progressive.mp4', {}, 8);
    const [a, , b] = tabs;
    const sa = states[0];
    assert.equal(sa.protocolVersion, 'v2');
    assert.ok(sa.supported && sa.swVersionSupported, 'support statics');
    // Seek the third tab to the middle (a Range request from there), then to the last second.
    const duration = (await state(b)).duration;
    const mid = duration / 2;
    await b.evaluate((t) => window.__seek(t), mid);
    await playedAtLeast(b, mid + 2, 'playing after the seek to the middle');
    await b.evaluate((t) => window.__seek(t), duration - 1);
    const last = await waitForState(b, (s) => s.ended || s.errors.length > 0, { what: 'the end after the seek to the last second' });
    assert.deepEqual(last.errors, [], mediaSummary(last));
    assert.ok(last.currentTime >= duration - 0.1, `played to the end; ${mediaSummary(last)}`);
    const checker = await assertServedIsOrigins(tabs);
    console.log(`mp4: ${checker.summary()}; C ${mediaSummary(last)}`);
  });
});

test('a lying peer\'s pieces never reach the element: checked against the digests, its sender banned', async () => {
  await withBrowser(async (ctx) => {
    const p = { tracker: tracker.url, disk: '0', channel: 'mp4-liar' };
    const src = '/m/liar/progressive.mp4';
    const liar = await openMedia(ctx, origin, src, { ...p, lie: 'flip' });
    await playedAtLeast(liar, 2);
    const victim = await openMedia(ctx, origin, src, p);
    const liarId = (await state(liar)).peerId;
    const s = await waitForState(victim, (x) => x.errors.length > 0 || (x.currentTime >= 8 && x.bytes?.banned > 0), { what: 'the victim playing 8 s and banning the liar', timeoutMs: 90_000 });
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.equal(s.rebuffers, 0, `no stall; ${mediaSummary(s)}`);
    assert.ok(s.bytes.badSegments >= 1, `a bad piece was caught; ${mediaSummary(s)}`);
    assert.ok(s.exceptionMessages.some((m) => m.startsWith('PEER_EXPT') && m.includes(liarId) && /SHA-256/.test(m)), mediaSummary(s));
    await assertServedIsOrigins([victim]);
  });
});

test('three tabs share an MP3 in <audio>', async () => {
  await withBrowser(async (ctx) => {
    const { tabs, states } = await threeTabs(ctx, 'mp3', 'audio.mp3', { kind: 'audio', piece: String(64 * KiB) }, 8);
    assert.ok(states.every((s) => s.kind === 'audio'));
    await assertServedIsOrigins(tabs);
  });
});

test('three tabs share a WebM', async () => {
  await withBrowser(async (ctx) => {
    const { tabs } = await threeTabs(ctx, 'webm', 'progressive.webm', {}, 8);
    await assertServedIsOrigins(tabs);
  });
});

test('the peer a tab is taking pieces from closes: no stall, the rest comes from the origin', async () => {
  await withBrowser(async (ctx) => {
    const p = { tracker: tracker.url, disk: '0', channel: 'mp4-leave' };
    const src = '/m/leave/progressive.mp4';
    const a = await openMedia(ctx, origin, src, p);
    await playedAtLeast(a, 2);
    const b = await openMedia(ctx, origin, src, p);
    await waitForState(b, (s) => s.bytes?.p2pDown > 0, { what: 'B taking pieces from A' });
    await a.close();
    const at = (await state(b)).currentTime;
    const s = await playedAtLeast(b, at + 8, 'B playing 8 s after A left');
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.equal(s.rebuffers, 0, `no stall; ${mediaSummary(s)}`);
    await assertServedIsOrigins([b]);
  });
});

test('a reload plays what was watched from IndexedDB: no origin bytes for a cached piece', async () => {
  await withBrowser(async (ctx) => {
    const p = { p2p: '0', channel: 'mp4-disk' };
    const page = await openMedia(ctx, origin, '/m/disk/progressive.mp4', p);
    const first = await playedAtLeast(page, 6);
    assert.deepEqual(first.errors, [], mediaSummary(first));
    const cached = new Set(first.loaded.map((x) => Number(x.split(':')[0])));
    const before = await originBytes('disk');
    await page.reload();
    const again = await playedAtLeast(page, 3, '3 s played after the reload');
    assert.deepEqual(again.errors, [], mediaSummary(again));
    assert.ok(again.proxied, mediaSummary(again));
    // Pieces from the disk cache are loaded from memory ("cache") once adopted.
    const fetched = again.loaded.filter((x) => !x.endsWith(':cache')).map((x) => Number(x.split(':')[0]));
    assert.ok(cached.has(0) && again.loaded.includes('0:cache'), `the first piece came from disk; before ${first.loaded}, after ${again.loaded}`);
    assert.deepEqual(fetched.filter((i) => cached.has(i)), [], `no cached piece loaded again; after the reload: ${again.loaded}`);
    const piece = 512 * KiB;
    const spent = (await originBytes('disk')) - before;
    assert.ok(spent <= fetched.length * piece + 64 * KiB, `origin bytes after the reload (${spent}) are those of the ${fetched.length} pieces not cached`);
    await assertServedIsOrigins([page]);
  });
});

test('the browser stops the ServiceWorker mid-play: the page says hello again, and pieces come through its engine', async () => {
  await withBrowser(async (ctx) => {
    const p = { tracker: tracker.url, disk: '0', channel: 'mp4-restart' };
    const page = await openMedia(ctx, origin, '/m/restart/progressive.mp4', p);
    await playedAtLeast(page, 2);
    // What the browser does to an idle worker: it ends, and the next request starts a new one,
    // which knows no page engine.
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const before = (await state(page)).served.length;
    await page.evaluate(() => window.__seek(30));
    const s = await playedAtLeast(page, 33, 'playing on after the worker was stopped');
    const after = s.served.slice(before);
    assert.deepEqual(s.errors, [], mediaSummary(s));
    // The new worker learns the file again from its first request (one piece by HTTP, as on a
    // first visit); every other piece comes through the page's engine, not from the worker alone.
    const byWorker = after.filter((via) => via !== 'page');
    assert.ok(after.length > 2 && byWorker.length <= 1, `pieces after the restart came through the page's engine: ${after}`);
    await assertServedIsOrigins([page]);
  });
});

test('a hello that comes after the worker served the element: the page is told of the file, its engine serves the rest and joins the swarm', async () => {
  await withBrowser(async (ctx) => {
    const p = { tracker: tracker.url, disk: '0', channel: 'mp4-late' };
    const src = '/m/late/progressive.mp4';
    const early = await openMedia(ctx, origin, src, p);
    await playedAtLeast(early, 2);
    // What a loaded machine can do: the worker gives up waiting for the hello (2 s) and answers
    // the element's first request by HTTP; the hello (and the one the worker asked for again)
    // arrive after it.
    const late = await openMedia(ctx, origin, src, { ...p, lateHello: '1' });
    const first = await playedAtLeast(late, 2);
    assert.equal(first.served[0], 'http', `the first piece went without the page's engine: ${first.served}`);
    const before = first.served.length;
    await late.evaluate(() => window.__seek(30));
    const s = await waitForState(late, (x) => x.errors.length > 0 || (x.currentTime >= 33 && x.peers.length > 0), { what: 'playing on from 30 s with a peer', timeoutMs: 60_000 });
    const after = s.served.slice(before);
    assert.deepEqual(s.errors, [], mediaSummary(s));
    assert.ok(after.length > 2 && after.every((via) => via === 'page'), `pieces after the hello came through the page's engine: ${after}`);
    assert.ok(s.bytes.p2pDown + s.bytes.httpDown > 0, `the page's engine loads the file; ${mediaSummary(s)}`);
    await assertServedIsOrigins([early, late]);
  });
});

/** Serves one file with byte ranges and without CORS headers, on another port: another origin. */
async function noCorsServer(file) {
  const data = fs.readFileSync(file);
  const server = http.createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    const headers = { 'Content-Type': 'video/mp4', 'Accept-Ranges': 'bytes', 'Content-Length': end - start + 1 };
    if (m) headers['Content-Range'] = `bytes ${start}-${end}/${data.length}`;
    res.writeHead(m ? 206 : 200, headers);
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('bad input: a missing file, a file that is not media, a cross-origin file without CORS: an exception, and the URL played as it is', async () => {
  const other = await noCorsServer(path.join(folders.dir, 'mp4', 'progressive.mp4'));
  try {
    await withBrowser(async (ctx) => {
      const p = { tracker: tracker.url, disk: '0' };
      const cases = [
        { src: '/m/mp4/missing.mp4', code: 'HTTP_EXPT', plays: false },
        { src: '/e2e/media-sw.js', code: 'MEDIA_EXPT', plays: false },
        { src: `${other.url}/progressive.mp4`, code: 'HTTP_EXPT', plays: true },
      ];
      for (const c of cases) {
        const page = await openMedia(ctx, origin, c.src, p);
        const s = await waitForState(page, (x) => x.exceptions.length > 0 && x.src !== null, { what: `an exception for ${c.src}` });
        assert.deepEqual(s.exceptions, [c.code], `${c.src}: ${mediaSummary(s)}`);
        // The worker's first request found it out and sent the element to the file's own URL.
        if (c.plays) {
          const played = await playedAtLeast(page, 2, `${c.src} playing over plain HTTP`);
          assert.deepEqual(played.errors, [], mediaSummary(played));
        }
        const after = await state(page);
        assert.deepEqual(after.served, [], `the worker handed the element no piece of ${c.src}`);
        assert.deepEqual(after.exceptions, [c.code], `one exception for ${c.src}: ${mediaSummary(after)}`);
        // Asked again, the engine gives the file's own URL at once.
        const again = await page.evaluate((src) => window.__engine.getProxiedUrl(src), c.src);
        assert.equal(again, c.src, `${c.src} is given as it is once known not to be shareable`);
        await page.close();
      }
    });
  } finally {
    await other.close();
  }
});
