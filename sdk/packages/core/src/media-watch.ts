/**
 * Watches a media element for the player integrations: where the playhead is (for the
 * scheduler), when playback first started (startup time from the load) and each rebuffer (a
 * stall after playback began that no seek caused).
 */
import type { Playback } from "./stream-swarm.js";

export type PlaybackQuality = { startupMs?: number; rebuffers: number; rebufferMs: number; playing: boolean };

export class MediaWatch {
  private media?: HTMLMediaElement;
  private readonly quality: PlaybackQuality = { rebuffers: 0, rebufferMs: 0, playing: false };
  private loadStartedAt?: number;
  private stallStartedAt?: number;
  private seeking = false;

  /** `onRebuffer` is called once per rebuffer. */
  constructor(private readonly onRebuffer: () => void = () => {}) {}

  /** The element watched, if any. */
  get element(): HTMLMediaElement | undefined {
    return this.media;
  }

  /** The player started loading a new source: startup is measured from here. */
  loadStarted(): void {
    this.loadStartedAt = performance.now();
  }

  get playing(): boolean {
    return this.quality.playing;
  }

  /** Frames are being played right now: started, not paused, ended, seeking or stalled. */
  get playingNow(): boolean {
    const m = this.media;
    return !!m && this.quality.playing && !m.paused && !m.ended && !this.seeking && this.stallStartedAt === undefined;
  }

  attach(media: HTMLMediaElement): void {
    if (this.media === media) return;
    this.detach();
    this.media = media;
    media.addEventListener("playing", this.onPlaying);
    media.addEventListener("waiting", this.onWaiting);
    media.addEventListener("seeking", this.onSeeking);
  }

  detach(): void {
    const m = this.media;
    if (!m) return;
    m.removeEventListener("playing", this.onPlaying);
    m.removeEventListener("waiting", this.onWaiting);
    m.removeEventListener("seeking", this.onSeeking);
    this.media = undefined;
  }

  /** The playhead, for the scheduler. */
  playback(): Playback {
    const m = this.media;
    const started = this.quality.playing;
    return m ? { position: m.currentTime, rate: m.playbackRate || 1, playing: !m.paused, started, waiting: this.stallStartedAt !== undefined } : { position: 0, rate: 1, playing: false, started: false };
  }

  /** Startup time and rebuffering so far. */
  get(): PlaybackQuality {
    const q = { ...this.quality };
    if (this.stallStartedAt !== undefined) q.rebufferMs += performance.now() - this.stallStartedAt;
    return q;
  }

  private readonly onPlaying = () => {
    const now = performance.now();
    if (!this.quality.playing) {
      this.quality.playing = true;
      if (this.loadStartedAt !== undefined) this.quality.startupMs = now - this.loadStartedAt;
    }
    if (this.stallStartedAt !== undefined) {
      this.quality.rebufferMs += now - this.stallStartedAt;
      this.stallStartedAt = undefined;
    }
    this.seeking = false;
  };

  private readonly onWaiting = () => {
    // A stall after playback began, not caused by a seek, is a rebuffer.
    if (!this.quality.playing || this.seeking || this.stallStartedAt !== undefined) return;
    this.stallStartedAt = performance.now();
    this.quality.rebuffers++;
    this.onRebuffer();
  };

  private readonly onSeeking = () => {
    this.seeking = true;
  };
}
