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
import { bufferedAheadS } from "./playhead.js";
import { forgetFile, knownFile, rememberFile } from "./known-files.js";
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

/** A file given to the element: length and type undefined until the worker's first request learnt them. */
type OpenFile = { url: string; length?: number; type?: string; proxied: string; timed: boolean };

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
  /** Files that can't be proxied (the worker said why): played from their own URLs. */
  private readonly plain = new Set<string>();
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
        opened: (m) => this.opened(m.url, m.length, m.type, m.index, new Uint8Array(m.data)),
        fileFailed: (m) => this.fileFailed(m.url, m.code, m.message),
      });
      // Registers the worker and, when one already controls the page, says hello now: the
      // first getProxiedUrl then waits for the probe only.
      void this.link.ready();
    }
  }

  /**
   * The URL to play `url` from: a proxied URL the ServiceWorker answers from pieces, or `url`
   * itself when that can't be (no worker in control yet, or a file found before to be missing,
   * not media, unreadable across origins or of unknown length).
   *
   * No request is made here: the worker's first request for the file asks the origin for the
   * first piece the element wants, and learns from the answer whether the file can be shared
   * (if not, the element is sent to the file's own URL and `exception` says why). A file this
   * browser opened before (its length and type remembered) is proxied with them, so pieces kept
   * on disk play without asking the origin; a check of the file runs in the background.
   */
  async getProxiedUrl(url: string): Promise<string> {
    const abs = new URL(url, typeof location !== "undefined" ? location.href : undefined).href;
    if (!this.link || this.destroyed || this.plain.has(abs)) return url;
    const known = this.files.get(abs);
    if (known) return known.proxied;
    const scope = this.link.ownScope() ?? (await this.link.ready());
    if (!scope) {
      this.core.log.info("no ServiceWorker in control of this page yet: plain HTTP for", abs);
      return url;
    }
    if (this.destroyed) return url;
    const raced = this.files.get(abs);
    if (raced) return raced.proxied;
    // Remembered facts only pay with the disk cache: without it the first request is faster.
    const seen = this.core.config.diskLimitBytes > 0 ? knownFile(abs) : undefined;
    const file: OpenFile = { url: abs, length: seen?.length, type: seen?.type, proxied: proxiedUrl(scope, { url: abs, length: seen?.length, type: seen?.type, engine: this.engineId }), timed: false };
    this.files.set(abs, file);
    if (seen) {
      this.openStream(file);
      void this.recheck(file);
    }
    this.bindElement();
    this.media.loadStarted();
    return file.proxied;
  }

  /** The file's pieces become the segments of its swarm. */
  private openStream(file: OpenFile): void {
    if (file.length === undefined) return;
    const d = this.playingFile() === file ? this.media.element?.duration : undefined;
    this.core.setManifestUrl(file.url);
    this.core.addStream({ runtimeUrl: file.url, type: "main", shortId: fileShortId(this.pieceLength) });
    this.core.updateStream(file.url, pieceSegments(file.url, file.length, this.pieceLength, d), false);
    file.timed = d !== undefined && Number.isFinite(d) && d > 0;
  }

  /** The worker's first request found the file: its swarm opens, with the piece that request brought. */
  private opened(url: string, length: number, type: string, index: number, data: Uint8Array): void {
    const file = this.files.get(url);
    if (!file || this.destroyed || file.length !== undefined) return;
    file.length = length;
    file.type = type;
    if (this.core.config.diskLimitBytes > 0) rememberFile(url, { length, type });
    this.openStream(file);
    if (index >= 0 && data.length > 0) this.core.adoptSegment(url, index, data, "http");
  }

  /** The worker found the file can't be proxied and sent the element to its own URL. */
  private fileFailed(url: string, code: "HTTP_EXPT" | "MEDIA_EXPT" | undefined, message: string): void {
    if (!this.files.delete(url)) return;
    this.plain.add(url);
    forgetFile(url);
    if (code) this.core.reportException({ code, message });
    else this.core.log.info(message);
  }

  /**
   * A remembered file is checked against the origin once opened: when it changed (another
   * length or type) or went away, it is forgotten, and an element playing it goes on from the
   * file's own URL.
   */
  private async recheck(file: OpenFile): Promise<void> {
    const now = await probe(file.url);
    if (this.destroyed || (now.ok && now.length === file.length && now.type === file.type)) return;
    forgetFile(file.url);
    this.core.log.info(`${file.url} changed since this browser opened it: played from its own URL`);
    if (this.playingFile() === file) this.fallBack(file);
    this.files.delete(file.url);
  }

  // ---- pieces for the worker ----------------------------------------------------------------

  /**
   * Piece `index` of an open file: memory, the disk cache, then peers or HTTP by the core's
   * deadline rule. The swarm is joined and pieces offered to peers even when a tab plays
   * everything from disk.
   */
  private async piece(url: string, index: number, signal: AbortSignal): Promise<Uint8Array> {
    const file = this.files.get(url);
    if (!file || file.length === undefined || this.destroyed) throw new Error(`${url} is not open`);
    const range = pieceRange(index, file.length, this.pieceLength);
    const media = this.media.element;
    const dueInS = media && this.playingFile() === file ? bufferedAheadS(media) : undefined;
    const r = await this.core.loadSegment(url, index, { url, byteRange: range }, signal, { dueInS });
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
    return f?.length !== undefined && d && Number.isFinite(d) && d > 0 ? (f.length * 8) / d / 1000 : undefined;
  }

  private playingFile(): OpenFile | undefined {
    const src = this.media.element?.currentSrc;
    for (const f of this.files.values()) if (f.proxied === src) return f;
    return undefined;
  }

  /** Piece times follow the duration once the element knows it (deadlines count from them). */
  private readonly onDuration = () => {
    const f = this.playingFile();
    if (f) this.openStream(f);
  };

  /** Whatever went wrong on the proxied URL, the element goes on from the file's own URL. */
  private readonly onMediaError = () => {
    const media = this.media.element;
    const f = this.playingFile();
    if (!media || !f) return;
    this.core.reportException({ code: "MEDIA_EXPT", message: `${f.url} failed through the ServiceWorker (${media.error?.message ?? media.error?.code}): played from its own URL` });
    this.fallBack(f);
  };

  /** The element goes on from the file's own URL, where it was. */
  private fallBack(f: OpenFile): void {
    const media = this.media.element;
    if (!media) return;
    const at = media.currentTime;
    const playing = !media.paused;
    media.src = f.url;
    media.currentTime = at;
    if (playing) void media.play().catch(() => {});
  }

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
