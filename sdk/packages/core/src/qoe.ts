/**
 * The QoE control group: a share of viewers (`controlGroupRatio`) plays over HTTP only, through
 * the same player and loader, so that the site can compare playback with and without P2P.
 * Every viewer reports its startup time, rebuffering, bitrate played and group with its stats.
 */
import type { PlaybackQuality } from "./media-watch.js";

export type QoeGroup = "p2p" | "control";

/** The QoE settings of the config (kept together so they travel as one block). */
export type QoeConfig = {
  /**
   * Share of viewers (0..1) put in the control group: HTTP only (no P2P download, no upload),
   * to measure what P2P does to playback. Drawn once per viewer and kept (across reloads when
   * localStorage is available), so a viewer does not hop groups. Default 0.
   */
  controlGroupRatio?: number;
  /** Free label (<= 20 chars) reported with the viewer's QoE, e.g. a player version or A/B arm. */
  tag?: string;
};

/** The `qoe` object of a stats report (docs/tracker.md, "QoE control group"). */
export type QoeReport = {
  group: QoeGroup;
  tag: string;
  /** Absent until playback started. */
  startupMs?: number;
  playMs: number;
  rebufferMs: number;
  rebuffers: number;
  /** Bitrate played integrated over time played: average kbit/s = playedKbit * 1000 / playMs. */
  playedKbit: number;
};

/** What the player shows now, read once a second. */
export type PlayerSample = { quality: PlaybackQuality; playing: boolean; bitrateKbps?: number };

const DRAW_KEY = "swarmcast-qoe-draw";
const MAX_TAG = 20;

/** The viewer's draw in [0, 1): from localStorage, else kept for the page's life. */
let pageDraw: number | undefined;

type DrawStore = Pick<Storage, "getItem" | "setItem">;

function localStore(): DrawStore | undefined {
  try {
    return typeof localStorage !== "undefined" ? localStorage : undefined;
  } catch {
    return undefined; // storage blocked (e.g. third-party iframe): keep it for the page only
  }
}

/** The viewer's uniform draw, made once and kept; the group follows from it and the ratio. */
export function viewerDraw(store: DrawStore | undefined = localStore(), random: () => number = Math.random): number {
  try {
    const kept = Number.parseFloat(store?.getItem(DRAW_KEY) ?? "");
    if (kept >= 0 && kept < 1) return (pageDraw = kept);
  } catch {
    /* unreadable: draw again */
  }
  const draw = pageDraw ?? random();
  pageDraw = draw;
  try {
    store?.setItem(DRAW_KEY, String(draw));
  } catch {
    /* full or blocked: the page keeps it */
  }
  return draw;
}

/** The group for a draw: a viewer stays in the control group while the ratio does not shrink below its draw. */
export function qoeGroup(ratio: number | undefined, draw: number): QoeGroup {
  const r = typeof ratio === "number" && Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
  return draw < r ? "control" : "p2p";
}

/** The tag as the tracker accepts it: at most 20 characters, no control characters. */
export function cleanTag(tag: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return [...(tag ?? "").replace(/[\u0000-\u001f\u007f-\u009f]/g, "")].slice(0, MAX_TAG).join("");
}

/** Play time and bitrate played, integrated from once-a-second samples of the player. */
export class QoeMeter {
  readonly group: QoeGroup;
  readonly tag: string;
  private source?: () => PlayerSample;
  private last?: number;
  private playMs = 0;
  private playedKbit = 0;
  private quality: PlaybackQuality = { rebuffers: 0, rebufferMs: 0, playing: false };

  constructor(config: QoeConfig, draw: number = viewerDraw()) {
    this.group = qoeGroup(config.controlGroupRatio, draw);
    this.tag = cleanTag(config.tag);
  }

  /** The player integration tells how to read the player. */
  watch(source: () => PlayerSample): void {
    this.source = source;
  }

  /** Called about once a second: the time since the last sample counts as played if the player plays now. */
  sample(now: number = performance.now()): void {
    const s = this.source?.();
    if (!s) return;
    this.quality = s.quality;
    const dt = this.last === undefined ? 0 : Math.max(0, now - this.last);
    this.last = now;
    if (!s.playing) return;
    this.playMs += dt;
    if (s.bitrateKbps && Number.isFinite(s.bitrateKbps)) this.playedKbit += (s.bitrateKbps * dt) / 1000;
  }

  report(): QoeReport {
    const q = this.source?.().quality ?? this.quality;
    return {
      group: this.group,
      tag: this.tag,
      startupMs: q.startupMs === undefined ? undefined : Math.round(q.startupMs),
      playMs: Math.round(this.playMs),
      rebufferMs: Math.round(q.rebufferMs),
      rebuffers: q.rebuffers,
      playedKbit: Math.round(this.playedKbit),
    };
  }
}

/** The `qoe` object as the tracker reads it. */
export function qoeJson(r: QoeReport): Record<string, unknown> {
  return {
    group: r.group,
    ...(r.tag ? { tag: r.tag } : {}),
    ...(r.startupMs === undefined ? {} : { startup_ms: Math.min(r.startupMs, 3_600_000) }),
    play_ms: r.playMs,
    rebuffer_ms: r.rebufferMs,
    played_kbit: r.playedKbit,
  };
}
