/**
 * One WebSocket to a tracker (with failover URLs: main, then backup), shared by every swarm the
 * engine joins. Announces each swarm with fresh offers on connect and on the tracker's interval,
 * routes relayed offers/answers by info_hash, reconnects with jittered backoff.
 */
import type { Logger } from "../logger.js";
import {
  announceMessage,
  parseTrackerMessage,
  reconnectDelay,
  type OutgoingOffer,
} from "./messages.js";

export type SwarmSubscription = {
  infoHash: string;
  peerId: string;
  /** Offers to attach to the next announce (may be empty when the swarm has enough peers). */
  makeOffers(): Promise<OutgoingOffer[]>;
  onOffer(remotePeerId: string, offerId: string, sdp: string, via: TrackerConnection): void;
  onAnswer(remotePeerId: string, offerId: string, sdp: string): void;
  onPeerCounts?(complete?: number, incomplete?: number): void;
};

export type TrackerConnectionEvents = {
  connected(url: string): void;
  disconnected(url: string, reason: string): void;
  failure(reason: string): void;
};

const DEFAULT_INTERVAL_S = 30;
const MIN_INTERVAL_S = 10;
const MAX_INTERVAL_S = 120;

type SwarmState = { sub: SwarmSubscription; timer?: ReturnType<typeof setTimeout>; started: boolean; announcing: boolean; intervalS: number };

export class TrackerConnection {
  private ws?: WebSocket;
  private urlIndex = 0;
  private attempt = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private destroyed = false;
  private readonly swarms = new Map<string, SwarmState>();
  private trackerId?: string;

  constructor(
    private readonly urls: string[],
    private readonly log: Logger,
    private readonly events: TrackerConnectionEvents,
  ) {
    this.connect();
  }

  get url(): string {
    return this.urls[this.urlIndex] as string;
  }

  get connected(): boolean {
    return this.ws?.readyState === 1;
  }

  join(sub: SwarmSubscription): void {
    const existing = this.swarms.get(sub.infoHash);
    if (existing) clearTimeout(existing.timer);
    this.swarms.set(sub.infoHash, { sub, started: false, announcing: false, intervalS: DEFAULT_INTERVAL_S });
    if (this.connected) void this.announce(sub.infoHash);
  }

  leave(infoHash: string): void {
    const s = this.swarms.get(infoHash);
    if (!s) return;
    clearTimeout(s.timer);
    this.swarms.delete(infoHash);
    if (this.connected) this.send(announceMessage({ infoHash, peerId: s.sub.peerId, offers: [], event: "stopped" }));
  }

  /** Announce now (e.g. when the swarm lost peers) instead of waiting for the interval. */
  announceSoon(infoHash: string): void {
    const s = this.swarms.get(infoHash);
    if (!s || !this.connected || s.announcing) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => void this.announce(infoHash), 500 + Math.random() * 1000);
  }

  send(text: string): boolean {
    if (!this.connected) return false;
    try {
      this.ws?.send(text);
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.reconnectTimer);
    for (const s of this.swarms.values()) clearTimeout(s.timer);
    for (const h of [...this.swarms.keys()]) this.leave(h);
    this.swarms.clear();
    this.ws?.close();
    this.ws = undefined;
  }

  private connect(): void {
    if (this.destroyed) return;
    const url = this.url;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.scheduleReconnect(`cannot open ${url}: ${String(err)}`);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.log.info("tracker connected", url);
      this.events.connected(url);
      for (const s of this.swarms.values()) {
        s.started = false;
        void this.announce(s.sub.infoHash);
      }
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") this.onMessage(ev.data);
    };
    ws.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      for (const s of this.swarms.values()) clearTimeout(s.timer);
      const reason = opened ? `closed (${ev.code})` : "connection failed";
      this.log.warn("tracker", url, reason);
      this.events.disconnected(url, reason);
      this.scheduleReconnect(reason);
    };
  }

  private scheduleReconnect(reason: string): void {
    if (this.destroyed) return;
    this.attempt++;
    // Fail over to the next URL (main -> backup -> main ...) after each failed attempt.
    if (this.urls.length > 1) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delay = reconnectDelay(this.attempt - 1);
    this.log.debug("tracker reconnect in", delay, "ms to", this.url, "after", reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private async announce(infoHash: string): Promise<void> {
    const s = this.swarms.get(infoHash);
    if (!s || !this.connected || s.announcing) return;
    s.announcing = true;
    clearTimeout(s.timer);
    try {
      const offers = await s.sub.makeOffers();
      if (this.swarms.get(infoHash) !== s || !this.connected) return;
      this.send(
        announceMessage({
          infoHash,
          peerId: s.sub.peerId,
          offers,
          event: s.started ? undefined : "started",
          trackerId: this.trackerId,
        }),
      );
      s.started = true;
    } catch (err) {
      this.log.warn("announce failed", err);
    } finally {
      s.announcing = false;
      if (this.swarms.get(infoHash) === s && this.connected) {
        s.timer = setTimeout(() => void this.announce(infoHash), s.intervalS * 1000);
      }
    }
  }

  private onMessage(text: string): void {
    const ev = parseTrackerMessage(text);
    switch (ev.kind) {
      case "ignored":
        this.log.debug("tracker message ignored:", ev.why);
        return;
      case "failure":
        this.log.warn("tracker failure", ev.reason);
        this.events.failure(ev.reason);
        return;
      case "announce-response": {
        const s = this.swarms.get(ev.infoHash);
        if (!s) return;
        if (ev.trackerId) this.trackerId = ev.trackerId;
        if (ev.interval) {
          const intervalS = Math.min(MAX_INTERVAL_S, Math.max(MIN_INTERVAL_S, ev.interval));
          if (intervalS !== s.intervalS && !s.announcing) {
            s.intervalS = intervalS;
            clearTimeout(s.timer);
            s.timer = setTimeout(() => void this.announce(ev.infoHash), intervalS * 1000);
          }
          s.intervalS = intervalS;
        }
        if (ev.warning) this.log.warn("tracker warning", ev.warning);
        s.sub.onPeerCounts?.(ev.complete, ev.incomplete);
        return;
      }
      case "offer":
        this.swarms.get(ev.infoHash)?.sub.onOffer(ev.peerId, ev.offerId, ev.sdp, this);
        return;
      case "answer":
        this.swarms.get(ev.infoHash)?.sub.onAnswer(ev.peerId, ev.offerId, ev.sdp);
        return;
    }
  }
}
