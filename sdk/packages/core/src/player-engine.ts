/**
 * What every player integration (hls.js, Shaka, progressive files) offers the page on top of
 * the core engine: events, P2P switches and stats, delegated to the core, and playback
 * quality from the watched media element. Integrations extend it with their player binding.
 */
import { P2PEngine, type EngineEvents, type Stats } from "./engine.js";
import type { P2PConfig } from "./config.js";
import { MediaWatch, type PlaybackQuality } from "./media-watch.js";
import type { QoeGroup, QoeReport } from "./qoe.js";

export abstract class PlayerEngine {
  readonly core: P2PEngine;
  /** The player's media element: playhead, startup and rebuffers. */
  protected readonly media: MediaWatch;

  constructor(config: P2PConfig) {
    this.core = new P2PEngine(config);
    this.media = new MediaWatch(() => this.core.reportRebuffer());
    this.core.qoe.watch(() => ({ quality: this.media.get(), playing: this.media.playingNow, bitrateKbps: this.bitrateKbps() }));
  }

  /** The bitrate the player plays now, kbit/s (for the QoE report); undefined when unknown. */
  protected bitrateKbps(): number | undefined {
    return undefined;
  }

  /** The viewer's QoE group: `control` plays over HTTP only for the whole session. */
  get qoeGroup(): QoeGroup {
    return this.core.qoe.group;
  }

  /** What this viewer reports for the QoE comparison: group, tag, startup, rebuffering, bitrate played. */
  getQoe(): QoeReport {
    return this.core.qoe.report();
  }

  on<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): this {
    this.core.on(event, fn);
    return this;
  }
  once<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): this {
    this.core.once(event, fn);
    return this;
  }
  off<K extends keyof EngineEvents>(event: K, fn?: EngineEvents[K]): this {
    this.core.off(event, fn);
    return this;
  }
  enableP2P(): void {
    this.core.enableP2P();
  }
  disableP2P(): void {
    this.core.disableP2P();
  }
  /** Drops all peers and tracker connections and starts P2P afresh. */
  restartP2p(): void {
    this.core.restartP2p();
  }
  restartP2P(): void {
    this.core.restartP2p();
  }
  get p2pEnabled(): boolean {
    return this.core.p2pEnabled;
  }
  getStats(): Stats & { rebuffers: number; peers: number } {
    return this.core.getStats();
  }
  getPeerId(): string | undefined {
    return this.core.getPeerId();
  }
  getPeers(): string[] {
    return this.core.getPeers();
  }
  /** Startup time and rebuffering seen on the media element. */
  getPlaybackQuality(): PlaybackQuality {
    return this.media.get();
  }
}
