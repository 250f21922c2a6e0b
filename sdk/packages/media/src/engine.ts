/**
 * P2PEngineMedia: progressive files (MP4, WebM, MP3, ...) shared between viewers. The page asks
 * `getProxiedUrl(url)` for the URL to give its `<video>`/`<audio>`; the ServiceWorker answers the
 * element's requests for it piece by piece, and asks this engine for each piece. The engine is
 * thin over `@swarmcast/core`: a file is one swarm whose segments are its pieces, so memory,
 * peers, HTTP, deadlines, integrity checks and stats are the core's; this file adds the media
 * element and the worker link. Pieces go to the core's disk cache like any VOD segment.
 */
import { P2PEngine, PlayerEngine, type P2PConfig, type Playback } from "@swarmcast/core";
import { proxiedUrl } from "./link.js";
import { DEFAULT_PIECE_LENGTH, fileShortId, pieceRange, pieceSegments } from "./pieces.js";
import { probe } from "./probe.js";
import { WorkerLink } from "./worker-link.js";

export type MediaP2PConfig = Omit<P2PConfig, "channelId"> & {
  /** The swarm's name: a function of the file's URL, or one fixed string (for a page's one file). Default: the URL without query. */
  channelId?: string | ((url: string) => string);
  /** Bytes of every piece but the last. Default 512 KiB. */
  pieceLength?: number;
  /** The `<video>`/`<audio>` element (or its id). Default: the first in the document. */
  mediaElem?: HTMLMediaElement | string;
  /** The ServiceWorker script. Default './sw.js'. */
  swFile?: string;
  /** Its scope. Default './'. */
  swScope?: string;
  /** Pieces the worker fetches ahead of the one the element reads. Default 0. */
  minBufferCount?: number;
};

const FIRST_PEERS_PATIENCE_MS = 3000;

type OpenFile = { url: string; length: number; type: string; version: string; proxied: string; timed: boolean };

export class P2PEngineMedia extends PlayerEngine {
  static readonly version = P2PEngine.version;
  static readonly protocolVersion = P2PEngine.protocolVersion;

  /** WebRTC data channels, ServiceWorkers and response streams are all available. */
  static isSupported(): boolean {
    return P2PEngine.isSupported() && P2PEngine.isServiceWorkerSupported() && typeof ReadableStream !== "undefined";
  }
  static isWebRTCSupported(): boolean {
    return P2PEngine.isWebRTCSupported();
  }
  static isServiceWorkerSupported(): boolean {
    return P2PEngine.isServiceWorkerSupported();
  }
  /** The same as isServiceWorkerSupported, under the name existing pages already call. */
  static isSeviceWorkerSupported(): boolean {
    return P2PEngine.isServiceWorkerSupported();
  }

  private readonly pieceLength: number;
  private readonly link?: WorkerLink;
  private readonly files = new Map<string, OpenFile>();
  private readonly elemOption?: HTMLMediaElement | string;
  /** Names this engine to the worker in proxied URLs. */
  private readonly engineId = randomId();
  private destroyed = false;

  constructor(config: MediaP2PConfig = {}) {
    const { channelId, pieceLength, mediaElem, swFile, swScope, minBufferCount, ...rest } = config;
    super({
      ...rest,
      // Where the media engine's documented defaults differ from the core's.
      logLevel: rest.logLevel === true ? "warn" : (rest.logLevel ?? "error"),
      showSlogan: rest.showSlogan ?? false,
      channelId: typeof channelId === "string" ? () => channelId : channelId,
      // The element reads ~10 s ahead at startup, before a peer could connect: those pieces
      // give the first peers a moment, within their deadlines.
      scheduler: { firstPeersPatienceMs: FIRST_PEERS_PATIENCE_MS, ...rest.scheduler },
    });
    this.pieceLength = pieceLength && pieceLength > 0 ? Math.floor(pieceLength) : DEFAULT_PIECE_LENGTH;
    this.elemOption = mediaElem;
    this.core.setPlaybackSource(() => this.playback());
    // Where earlier versions kept pieces: the one cache of the core holds them now.
    if (typeof indexedDB !== "undefined") indexedDB.deleteDatabase("swarmcast-media");
    if (P2PEngineMedia.isServiceWorkerSupported()) {
      this.link = new WorkerLink({
        swFile: swFile ?? "./sw.js",
        swScope: swScope ?? "./",
        hello: { engine: this.engineId, pieceLength: this.pieceLength, minBufferCount: Math.max(0, Math.floor(minBufferCount ?? 0)) },
        log: this.core.log,
        piece: (url, index, signal) => this.piece(url, index, signal),
        failed: (message) => this.core.reportException({ code: "SW_EXPT", message }),
      });
      // Registers the worker and, when one already controls the page, says hello now: the
      // first getProxiedUrl then waits for the probe only.
      void this.link.ready();
    }
  }

  /**
   * The URL to play `url` from: a proxied URL the ServiceWorker answers from pieces, or `url`
   * itself when that can't be (no worker in control yet, a file that is missing, not media,
   * unreadable across origins or of unknown length: `exception` says which).
   */
  async getProxiedUrl(url: string): Promise<string> {
    const abs = new URL(url, typeof location !== "undefined" ? location.href : undefined).href;
    if (!this.link || this.destroyed) return url;
    const known = this.files.get(abs);
    const [scope, info] = await Promise.all([this.link.ready(), known ? undefined : probe(abs)]);
    if (info && !info.ok) {
      if (info.code) this.core.reportException({ code: info.code, message: info.message });
      else this.core.log.info(info.message);
      return url;
    }
    if (!scope) {
      this.core.log.info("no ServiceWorker in control of this page yet: plain HTTP for", abs);
      return url;
    }
    if (known) return known.proxied;
    if (!info?.ok || this.destroyed) return url;
    const proxied = proxiedUrl(scope, { url: abs, length: info.length, type: info.type, engine: this.engineId });
    const file: OpenFile = { url: abs, length: info.length, type: info.type, version: `${info.length}`, proxied, timed: false };
    this.files.set(abs, file);
    this.core.setManifestUrl(abs);
    this.core.addStream({ runtimeUrl: abs, type: "main", shortId: fileShortId(this.pieceLength) });
    this.core.updateStream(abs, pieceSegments(abs, info.length, this.pieceLength), false);
    this.bindElement();
    this.media.loadStarted();
    return proxied;
  }

  // ---- pieces for the worker ----------------------------------------------------------------

  /**
   * Piece `index` of an open file: memory, the disk cache, then peers or HTTP by the core's
   * deadline rule. The swarm is joined and pieces offered to peers even when a tab plays
   * everything from disk.
   */
  private async piece(url: string, index: number, signal: AbortSignal): Promise<Uint8Array> {
    const file = this.files.get(url);
    if (!file || this.destroyed) throw new Error(`${url} is not open`);
    const range = pieceRange(index, file.length, this.pieceLength);
    const r = await this.core.loadSegment(url, index, { url, byteRange: range }, signal);
    return r.data.slice(); // transferred to the worker: the core keeps its own
  }

  // ---- the media element --------------------------------------------------------------------

  private element(): HTMLMediaElement | undefined {
    const e = this.elemOption;
    if (typeof e === "string") return (document.getElementById(e) as HTMLMediaElement | null) ?? undefined;
    if (e) return e;
    return typeof document !== "undefined" ? (document.querySelector("video, audio") as HTMLMediaElement | null) ?? undefined : undefined;
  }

  private bindElement(): void {
    const media = this.element();
    if (!media || media === this.media.element) return;
    this.media.element?.removeEventListener("durationchange", this.onDuration);
    this.media.element?.removeEventListener("error", this.onMediaError);
    this.media.attach(media);
    media.addEventListener("durationchange", this.onDuration);
    media.addEventListener("error", this.onMediaError);
  }

  /**
   * The playhead for the scheduler. Unlike a live stream's, a file's timeline is known once the
   * element has its duration (piece times follow from it), and `currentTime` is where reading
   * starts even before the first frame plays: from then on only the pieces due within the HTTP
   * budget go to the origin at startup, and the rest may come from peers in time.
   */
  private playback(): Playback {
    const pb = this.media.playback();
    if (pb.started === false && this.playingFile()?.timed) return { ...pb, started: true };
    return pb;
  }

  /** The file's average bitrate, from its length and duration (QoE report). */
  protected override bitrateKbps(): number | undefined {
    const f = this.playingFile();
    const d = this.media.element?.duration;
    return f && d && Number.isFinite(d) && d > 0 ? (f.length * 8) / d / 1000 : undefined;
  }

  private playingFile(): OpenFile | undefined {
    const src = this.media.element?.currentSrc;
    for (const f of this.files.values()) if (f.proxied === src) return f;
    return undefined;
  }

  /** Piece times follow the duration once the element knows it (deadlines count from them). */
  private readonly onDuration = () => {
    const f = this.playingFile();
    const d = this.media.element?.duration;
    if (!f || d === undefined) return;
    this.core.updateStream(f.url, pieceSegments(f.url, f.length, this.pieceLength, d), false);
    f.timed = Number.isFinite(d) && d > 0;
  };

  /** Whatever went wrong on the proxied URL, the element goes on from the file's own URL. */
  private readonly onMediaError = () => {
    const media = this.media.element;
    const f = this.playingFile();
    if (!media || !f) return;
    const at = media.currentTime;
    const playing = !media.paused;
    this.core.reportException({ code: "MEDIA_EXPT", message: `${f.url} failed through the ServiceWorker (${media.error?.message ?? media.error?.code}): played from its own URL` });
    media.src = f.url;
    media.currentTime = at;
    if (playing) void media.play().catch(() => {});
  };

  // ---- events and controls (the core's) -----------------------------------------------------


  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.link?.close();
    const media = this.media.element;
    media?.removeEventListener("durationchange", this.onDuration);
    media?.removeEventListener("error", this.onMediaError);
    this.media.detach();
    this.core.destroy();
  }
}

function randomId(): string {
  const a = new Uint8Array(8);
  crypto.getRandomValues(a);
  return [...a].map((b) => b.toString(16).padStart(2, "0")).join("");
}
