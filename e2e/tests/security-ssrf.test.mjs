// Server-side request forgery against real servers, with real private and metadata addresses:
// the test adds 10.66.0.1 and 169.254.169.254 to the loopback interface of its own network
// namespace (scripts/in-netns.sh) and listens there, counting connections. A super peer asked
// to seed a channel there, directly or through a redirect from an allowed origin, answers 403
// and starts no worker, and the listeners see no connection; allowed explicitly, the same
// address is reached (so the count could fail).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { ownNetworkNamespace, startSuperPeer } from '../lib/servers.mjs';

const PRIVATE = '10.66.0.1';
const METADATA = '169.254.169.254';
const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg1.ts\n#EXT-X-ENDLIST\n';

function addAddress(ip) {
  try {
    execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch (e) {
    if (!/exists/i.test(String(e.stderr))) throw e;
  }
}

/** An HTTP server on `host` that counts connections; `answer(req, res)` responds. */
function listen(host, answer) {
  return new Promise((resolve) => {
    let connections = 0;
    const srv = http.createServer(answer);
    srv.on('connection', () => connections++);
    srv.listen(0, host, () =>
      resolve({ url: `http://${host}:${srv.address().port}`, count: () => connections, close: () => srv.close() }),
    );
  });
}

const playlist = (req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl' });
  res.end(PLAYLIST);
};
const redirectTo = (location) => (req, res) => {
  res.writeHead(302, { Location: location });
  res.end();
};

const skip = ownNetworkNamespace() ? false : 'needs its own network namespace (scripts/in-netns.sh) to add addresses';
const servers = [];
const masters = [];

before(async () => {
  if (skip) return;
  addAddress(PRIVATE);
  addAddress(METADATA);
});

after(async () => {
  for (const m of masters) await m.stop();
  for (const s of servers) s.close();
});

async function server(host, answer) {
  const s = await listen(host, answer);
  servers.push(s);
  return s;
}

const b64 = (s) => Buffer.from(s).toString('base64');

test('seeds that lead to private or metadata addresses are refused and reach nothing', { skip }, async () => {
  const internal = await server(PRIVATE, playlist);
  const metadata = await server(METADATA, playlist);
  const toInternal = await server('127.0.0.1', redirectTo(`${internal.url}/live/index.m3u8`));
  const toMetadata = await server('127.0.0.1', redirectTo(`${metadata.url}/latest/meta-data/`));
  // Any public host, and the stand-in origins on 127.0.0.1.
  const master = await startSuperPeer({ accessToken: 't', signal1: 'ws://127.0.0.1:9', originHosts: '*,127.0.0.1' });
  masters.push(master);
  const cases = [
    [`${internal.url}/live/index.m3u8`, `${PRIVATE} is a private address`],
    [`${metadata.url}/latest/meta-data/`, `${METADATA} is a cloud metadata address`],
    [`${toInternal.url}/live/index.m3u8`, `redirect refused: ${PRIVATE} is a private address`],
    [`${toMetadata.url}/live/index.m3u8`, `redirect refused: ${METADATA} is a cloud metadata address`],
  ];
  for (const [url, why] of cases) {
    const r = await master.call('POST', '/seed', { list: [{ channel: b64(url), live: true }] });
    assert.equal(r.status, 403, `${url}: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.error.startsWith('list[0].channel: ') && r.body.error.includes(why), r.body.error);
    assert.match(r.body.error, /originHosts/, 'the error says what to configure');
  }
  assert.equal(toInternal.count() + toMetadata.count(), 2, 'the redirects were requested once each');
  assert.equal(internal.count(), 0, 'no connection reached the private address');
  assert.equal(metadata.count(), 0, 'no connection reached the metadata address');
  const stats = (await master.call('GET', '/stats')).body;
  assert.deepEqual(stats.workers, [], 'no worker started');
});

test('the same private address, listed in originHosts, is reached', { skip }, async () => {
  const internal = await server(PRIVATE, playlist);
  const master = await startSuperPeer({ accessToken: 't', signal1: 'ws://127.0.0.1:9', originHosts: `127.0.0.1,${PRIVATE}` });
  masters.push(master);
  const r = await master.call('POST', '/seed', { list: [{ channel: b64(`${internal.url}/live/index.m3u8`), live: true }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.channels[0].action, 'started');
  assert.ok(internal.count() >= 1, 'the allowed address was reached');
});
