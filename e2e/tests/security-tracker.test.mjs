// The tracker's abuse limits through its command line, with a client that is not ours: a
// private tracker built from a channel list (the origin's playlist read to derive the swarm),
// viewer tokens signed in Node.js exactly as docs/tracker.md shows a site's backend doing it
// (an expired one refused with 401, a fresh one held to its channel), and an announce rate
// limit that refuses and counts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startOrigin, startTracker } from '../lib/servers.mjs';

const SECRET = 'shared-with-the-site';

/** The documented signing recipe. */
function viewerToken(secret, channel, ttlSeconds) {
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const sig = crypto.createHmac('sha256', secret).update(`swarmcast-viewer-token\n${channel}\n${expires}`).digest('base64url');
  return `${expires}.${Buffer.from(channel).toString('base64url')}.${sig}`;
}

/** The info hash players derive for a media playlist loaded directly (one main stream). */
function infoHashOf(manifestUrl) {
  const sha1 = (s) => crypto.createHash('sha1').update(s).digest();
  const shortId = sha1('0--------').toString('base64');
  return sha1(`v2-${manifestUrl}-main-${shortId}`).subarray(0, 15).toString('base64');
}

/** Opens a WebSocket; resolves with it, or rejects with the HTTP status and body. */
function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

/** Sends a message and resolves with the next frame. */
function ask(ws, msg) {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))));
    ws.send(JSON.stringify(msg));
  });
}

const announce = (infoHash, peerId) => ({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started', numwant: 0, offers: [] });

let origin;
let tracker;
let dir;
let channel;
let other;
const sockets = [];

before(async () => {
  origin = await startOrigin();
  channel = `${origin.url}/hls-ts/index.m3u8`;
  other = `${origin.url}/hls-fmp4/index.m3u8`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarmcast-private-'));
  fs.writeFileSync(path.join(dir, 'channels.txt'), `# the operator's channels\n${channel}\n${other}\n`);
  tracker = await startTracker({
    args: ['--token-secret', SECRET, '--channels', path.join(dir, 'channels.txt'), '--announce-rate', '0.001,3'],
  });
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await tracker?.stop();
  await origin?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('an expired viewer token is refused with 401, a fresh one opens its channel only', async () => {
  assert.match(tracker.output(), /private tracker: serving only the swarms/);
  await assert.rejects(connect(`${tracker.url}/?token=${viewerToken(SECRET, channel, -5)}`), (e) => {
    assert.equal(e.status, 401);
    assert.match(e.body, /the viewer token expired/);
    return true;
  });
  await assert.rejects(connect(`${tracker.url}/?token=${viewerToken('guessed', channel, 600)}`), (e) => e.status === 401);

  const ws = await connect(`${tracker.url}/?token=${viewerToken(SECRET, channel, 600)}`);
  sockets.push(ws);
  const joined = await ask(ws, announce(infoHashOf(channel), '-SC0001-aaaaaaaaaaaa'));
  assert.equal(joined.interval, 120, JSON.stringify(joined));
  const refused = await ask(ws, announce(infoHashOf(other), '-SC0001-aaaaaaaaaaaa'));
  assert.match(refused['failure reason'], /viewer token/);
  const unknown = await ask(ws, announce(infoHashOf(`${origin.url}/not/listed.m3u8`), '-SC0001-aaaaaaaaaaaa'));
  assert.match(unknown['failure reason'], /unknown info_hash/);

  const metrics = await (await fetch(`${tracker.url.replace('ws://', 'http://')}/metrics`)).text();
  assert.match(metrics, /tracker_rejected_connections_total\{reason="token_expired"\} 1/);
  assert.match(metrics, /tracker_refused_messages_total\{reason="other_channel"\} 1/);
  assert.match(metrics, /tracker_refused_messages_total\{reason="unknown_swarm"\} 1/);
});

test('announces over --announce-rate are refused and counted', async () => {
  const ws = await connect(`${tracker.url}/?token=${viewerToken(SECRET, '', 600)}`);
  sockets.push(ws);
  const hash = infoHashOf(other);
  for (let i = 0; i < 3; i++) {
    const r = await ask(ws, announce(hash, '-SC0001-bbbbbbbbbbbb'));
    assert.equal(r.interval, 120, JSON.stringify(r));
  }
  const refused = await ask(ws, announce(hash, '-SC0001-bbbbbbbbbbbb'));
  assert.match(refused['failure reason'], /too many announces: at most 0\.001 per second \(bursts of 3\) on one connection/);
  const metrics = await (await fetch(`${tracker.url.replace('ws://', 'http://')}/metrics`)).text();
  assert.match(metrics, /tracker_refused_messages_total\{reason="announce_rate_connection"\} 1/);
});
