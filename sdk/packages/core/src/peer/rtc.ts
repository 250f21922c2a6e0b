/**
 * RTCPeerConnection glue, compatible with bittorrent-tracker/simple-peer peers (P2P Media Loader):
 * non-trickle SDP (all candidates inside, gathering capped at 5 s, `a=ice-options:trickle`
 * removed), the offerer creates one ordered reliable data channel with a random 40-hex label,
 * binary messages.
 */
import { SEND_LOW_WATER } from "./peer-session.js";

export const ICE_GATHERING_TIMEOUT_MS = 5000;

export function stripTrickle(sdp: string): string {
  return sdp.replace(/a=ice-options:trickle\s\n/g, "").replace(/a=ice-options:trickle\r?\n/g, "");
}

function randomHexLabel(): string {
  const b = new Uint8Array(20);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function iceGatheringComplete(pc: RTCPeerConnection, timeoutMs = ICE_GATHERING_TIMEOUT_MS): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      pc.removeEventListener("icecandidate", onCandidate);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent) => {
      if (!e.candidate) done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
    pc.addEventListener("icecandidate", onCandidate);
  });
}

export function prepareChannel(dc: RTCDataChannel): void {
  dc.binaryType = "arraybuffer";
  dc.bufferedAmountLowThreshold = SEND_LOW_WATER;
}

export type PendingOffer = { pc: RTCPeerConnection; channel: RTCDataChannel; sdp: string };

/** A new connection with its data channel and a complete (non-trickle) offer. */
export async function createOffer(config: RTCConfiguration): Promise<PendingOffer> {
  const pc = new RTCPeerConnection(config);
  try {
    const channel = pc.createDataChannel(randomHexLabel());
    prepareChannel(channel);
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    const sdp = stripTrickle(pc.localDescription?.sdp ?? "");
    return { pc, channel, sdp };
  } catch (err) {
    pc.close();
    throw err;
  }
}

export async function acceptAnswer(pending: PendingOffer, sdp: string): Promise<void> {
  await pending.pc.setRemoteDescription({ type: "answer", sdp });
}

/** Answers a remote offer; the channel arrives through `ondatachannel`. */
export async function answerOffer(
  config: RTCConfiguration,
  offerSdp: string,
): Promise<{ pc: RTCPeerConnection; sdp: string; channel: Promise<RTCDataChannel> }> {
  const pc = new RTCPeerConnection(config);
  const channel = new Promise<RTCDataChannel>((resolve) => {
    pc.ondatachannel = (e) => {
      prepareChannel(e.channel);
      resolve(e.channel);
    };
  });
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await iceGatheringComplete(pc);
    return { pc, sdp: stripTrickle(pc.localDescription?.sdp ?? ""), channel };
  } catch (err) {
    pc.close();
    throw err;
  }
}

/** Resolves when the channel is open, rejects on close or after `timeoutMs`. */
export function channelOpen(dc: RTCDataChannel, timeoutMs: number): Promise<void> {
  if (dc.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("data channel open timeout")), timeoutMs);
    dc.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    });
    dc.addEventListener("close", () => {
      clearTimeout(timer);
      reject(new Error("data channel closed"));
    });
  });
}
