// How much a data channel's sender has committed beyond what `bufferedAmount` shows: bytes the
// browser's SCTP stack took (its congestion window, filled up to the access link's queue) and
// the link still carries. A cancelled upload's bytes there cross the uplink all the same, so the
// simulator models this queue (bench/sim/src/net.ts, SCTP_QUEUE_S) from what this measures.
//
// Two Chromiums, each in its own namespace of the bench's `--net` network, one data channel
// between them; the sender's upload capped by `tbf` (one cap per run). The sender keeps
// `bufferedAmount` at 64 KiB (the SDK's high-water mark) with 16 KiB messages; every 100 ms the
// bytes written, minus `bufferedAmount`, minus the bytes received are what is in the stack and
// on the link. Prints the median over the sending phase, in bytes and in seconds of the cap.
//
//   scripts/in-netns.sh node bench/swarm/net/sctp-queue.mjs [--caps 420,5000,20000] [--seconds 4]
import { parseArgs } from 'node:util';
import { launchBrowser } from '../../../e2e/lib/browser.mjs';
import { buildViewerNetwork } from './viewer-net.mjs';

const { values } = parseArgs({ options: { caps: { type: 'string', default: '420,5000,20000' }, seconds: { type: 'string', default: '4' } } });
const caps = values.caps.split(',').map(Number);
const seconds = Number(values.seconds);
if (caps.some((c) => !(c > 0)) || !(seconds > 1)) throw new Error('--caps takes upload caps in kbit/s (420,5000), --seconds more than 1');
const HIGH_WATER = 64 * 1024;

/** Page code: waits for ICE gathering to finish, so the description carries every candidate. */
const GATHERED = `window.gathered = () => new Promise((resolve) => {
  if (window.pc.iceGatheringState === 'complete') return resolve();
  window.pc.addEventListener('icegatheringstatechange', () => window.pc.iceGatheringState === 'complete' && resolve());
});`;

async function measure(capKbps) {
  const net = await buildViewerNetwork([
    { kind: 'sender', delayMs: 10, loss: 0, upKbps: capKbps, downKbps: 100_000 },
    { kind: 'receiver', delayMs: 10, loss: 0, upKbps: 100_000, downKbps: 100_000 },
  ]);
  const contexts = [];
  try {
    for (const v of net.viewers) contexts.push(await launchBrowser({ executablePath: v.executable }));
    const [sender, receiver] = await Promise.all(contexts.map(async (c) => c.pages()[0] ?? c.newPage()));
    await Promise.all([sender, receiver].map((p) => p.evaluate(GATHERED)));
    await receiver.evaluate(() => {
      window.pc = new RTCPeerConnection();
      window.received = 0;
      window.pc.ondatachannel = (e) => {
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (m) => (window.received += m.data.byteLength);
      };
    });
    const offer = await sender.evaluate(async () => {
      window.pc = new RTCPeerConnection();
      window.dc = window.pc.createDataChannel('probe');
      await window.pc.setLocalDescription();
      await window.gathered();
      return window.pc.localDescription.toJSON();
    });
    const answer = await receiver.evaluate(async (o) => {
      await window.pc.setRemoteDescription(o);
      await window.pc.setLocalDescription();
      await window.gathered();
      return window.pc.localDescription.toJSON();
    }, offer);
    await sender.evaluate(async (a) => {
      await window.pc.setRemoteDescription(a);
      if (window.dc.readyState !== 'open') await new Promise((r) => (window.dc.onopen = r));
    }, answer);
    await sender.evaluate((highWater) => {
      const dc = window.dc;
      const message = new Uint8Array(16 * 1024);
      window.written = 0;
      dc.bufferedAmountLowThreshold = highWater / 4;
      window.fill = () => {
        while (!window.stopped && dc.bufferedAmount < highWater) {
          dc.send(message);
          window.written += message.length;
        }
      };
      dc.onbufferedamountlow = window.fill;
      window.fill();
    }, HIGH_WATER);
    const samples = [];
    const began = Date.now();
    while (Date.now() - began < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 100));
      // Both at once: the receiver's count and the sender's, a few milliseconds apart at most.
      const [[written, buffered], received] = await Promise.all([
        sender.evaluate(() => (window.fill(), [window.written, window.dc.bufferedAmount])),
        receiver.evaluate(() => window.received),
      ]);
      if (Date.now() - began > 1000) samples.push({ committed: written - buffered - received, received });
    }
    await sender.evaluate(() => (window.stopped = true));
    const sorted = samples.map((s) => s.committed).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const first = samples[0];
    const last = samples.at(-1);
    const rate = (last.received - first.received) / ((samples.length - 1) * 0.1);
    return { capKbps, median, rate };
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
    net.teardown();
  }
}

console.log('| upload cap | received, kB/s | beyond bufferedAmount, median | in seconds of the cap |');
console.log('|---|---|---|---|');
for (const cap of caps) {
  const r = await measure(cap);
  const capBytes = (cap * 1000) / 8;
  console.log(`| ${cap} kbit/s | ${(r.rate / 1000).toFixed(0)} | ${(r.median / 1024).toFixed(0)} KiB | ${(r.median / capBytes).toFixed(2)} s |`);
}
