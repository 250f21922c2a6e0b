// The real bittorrent-tracker 11.2.3 client (the one P2P Media Loader uses) against
// `swarmcast tracker`: announce, offer/answer exchange, scrape, and error frames.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';
import WebSocket from 'ws';
import { startTracker } from '../lib/servers.mjs';

// bittorrent-tracker imports webrtc-polyfill, whose Node build needs the native
// node-datachannel; Node has no WebRTC anyway. Resolve it to a module that hands out a
// minimal in-memory RTCPeerConnection (defined below) producing offers and answers, so the
// real client code drives the signaling (no connection is ever made).
const noWebRtc =
  'data:text/javascript,const w=globalThis.__fakeWrtc;export const RTCPeerConnection=w.RTCPeerConnection,RTCSessionDescription=w.RTCSessionDescription,RTCIceCandidate=w.RTCIceCandidate;export default w';
register(
  'data:text/javascript,' +
    encodeURIComponent(
      `export async function resolve(specifier, context, next) {
         if (specifier === 'webrtc-polyfill') return { url: ${JSON.stringify(noWebRtc)}, shortCircuit: true };
         return next(specifier, context);
       }`,
    ),
);

let sdpCounter = 0;
class FakePeerConnection {
  constructor() {
    this.localDescription = null;
    this.remoteDescription = null;
    this.signalingState = 'stable';
    this.iceGatheringState = 'new';
    this.iceConnectionState = 'new';
    this.connectionState = 'new';
  }
  createDataChannel(label) {
    return { label, readyState: 'connecting', close() {}, send() {} };
  }
  async createOffer() {
    return { type: 'offer', sdp: `v=0\r\no=- ${++sdpCounter} 2 IN IP4 127.0.0.1\r\ns=fake offer\r\n` };
  }
  async createAnswer() {
    return { type: 'answer', sdp: `v=0\r\no=- ${++sdpCounter} 2 IN IP4 127.0.0.1\r\ns=fake answer\r\n` };
  }
  async setLocalDescription(d) {
    this.localDescription = d;
    // Non-trickle: the null candidate says ICE gathering is complete.
    setTimeout(() => this.onicecandidate?.({ candidate: null }), 0);
  }
  async setRemoteDescription(d) {
    this.remoteDescription = d;
  }
  async addIceCandidate() {}
  getTransceivers() {
    return [];
  }
  getSenders() {
    return [];
  }
  getStats() {
    return Promise.resolve(new Map());
  }
  close() {}
}
const fakeWrtc = {
  RTCPeerConnection: FakePeerConnection,
  RTCSessionDescription: class {
    constructor(d) {
      Object.assign(this, d);
    }
  },
  RTCIceCandidate: class {
    constructor(c) {
      Object.assign(this, c);
    }
  },
};

globalThis.__fakeWrtc = fakeWrtc;
const { default: Client } = await import('bittorrent-tracker');

const infoHash = Buffer.from('LF5ru/aNcTeuFIVnksyB').toString('hex');
const peerA = Buffer.from('-PM0203-aaaaaaaaaaaa').toString('hex');
const peerB = Buffer.from('-PM0203-bbbbbbbbbbbb').toString('hex');

let tracker;
let url;
const clients = [];
before(async () => {
  tracker = await startTracker();
  url = tracker.url;
});
after(async () => {
  for (const c of clients) c.destroy();
  await tracker?.stop();
});

function makeClient(peerId) {
  const client = new Client({ infoHash, peerId, announce: [url], port: 6881 });
  client.errors = [];
  client.on('error', (e) => client.errors.push(String(e)));
  client.on('warning', (e) => client.errors.push(`warning: ${e}`));
  clients.push(client);
  return client;
}

const once = (emitter, event, ms = 15_000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });

test('two real clients exchange an offer and an answer through the tracker', async () => {
  const a = makeClient(peerA);
  const firstUpdate = once(a, 'update');
  a.start();
  const [update] = await firstUpdate;
  assert.equal(update.incomplete, 1);
  assert.equal(update.complete, 0);

  const b = makeClient(peerB);
  const offerReachedA = once(a, 'peer');
  const answerReachedB = once(b, 'peer');
  const updateB = once(b, 'update');
  b.start();
  assert.equal((await updateB)[0].incomplete, 2);
  // A got one of B's offers (peer.id is the offerer), answered it, and B got the answer.
  const [offerPeer] = await offerReachedA;
  assert.equal(offerPeer.id, peerB);
  const [answerPeer] = await answerReachedB;
  assert.equal(answerPeer.id, peerA);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});

test('scrape through the real client', async () => {
  const b = clients[1];
  const scraped = once(b, 'scrape');
  b.scrape();
  const [data] = await scraped;
  assert.equal(data.infoHash, infoHash);
  assert.equal(data.incomplete, 2);
  assert.equal(data.complete, 0);
});

test('a malformed frame gets an error frame and the socket stays open', async () => {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  const next = () => once(ws, 'message').then(([data]) => JSON.parse(String(data)));
  let reply = next();
  ws.send('{"action":"announce","info_hash":');
  let frame = await reply;
  assert.equal(frame.action, 'announce');
  assert.equal(frame.info_hash, '');
  assert.match(frame['failure reason'], /invalid JSON/);

  reply = next();
  ws.send(JSON.stringify({ action: 'announce', info_hash: 'LF5ru/aNcTeuFIVnksyB', peer_id: 'too short' }));
  frame = await reply;
  assert.equal(frame.action, 'announce');
  assert.equal(frame.info_hash, 'LF5ru/aNcTeuFIVnksyB');
  assert.ok(frame['failure reason']);

  // Still open: a well-formed announce, as bittorrent-tracker writes it, is answered.
  reply = next();
  ws.send(
    JSON.stringify({
      numwant: 0, uploaded: 0, downloaded: 0, event: 'started', action: 'announce',
      info_hash: 'ANOTHERSWARM\u00e9\u00ff\u0000xxxxx', peer_id: '-PM0203-cccccccccccc', offers: [],
    }),
  );
  frame = await reply;
  assert.equal(frame.action, 'announce');
  assert.equal(frame.info_hash, 'ANOTHERSWARM\u00e9\u00ff\u0000xxxxx', 'binary info_hash echoed exactly');
  assert.equal(frame.incomplete, 1);
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close();
});
