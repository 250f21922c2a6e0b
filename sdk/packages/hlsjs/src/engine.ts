/**
 * hls.js integration: binds a P2PEngine to an `Hls` instance. The engine installs its fragment
 * loader in the instance's config, learns variants from MANIFEST_LOADED (one swarm per variant
 * and audio track, as P2P Media Loader does), segments from LEVEL_UPDATED / AUDIO_TRACK_LOADED,
 * the playhead and rebuffers from the media element. Playlists and init segments stay on HTTP.
 */
import Hls from "hls.js";
import type {
  AudioTrackLoadedData,
  ErrorData,
  FragmentLoaderContext,
  HlsConfig,
  Loader,
  LoaderCallbacks,
  LoaderConfiguration,
  LoaderContext,
  LoaderStats,
  LevelUpdatedData,
  ManifestLoadedData,
} from "hls.js";
import { P2PEngine, PlayerEngine, hlsAudioShortId, hlsVideoShortId, type P2PConfig, type SegmentInfo } from "@swarmcast/core";
import { runtimeKey, segmentsFromFragments } from "./segments.js";

export type HlsP2PConfig = P2PConfig & {
  /** Bind to this Hls instance right away. */
  hlsjsInstance?: Hls;
  /**
   * Live: how many segments behind the edge to play when the page did not set
   * liveSyncDurationCount / liveSyncDuration. More gives peers more time. Default 5.
   */
  liveSyncSegments?: number;
};

type Ref = { streamUrl: string; id: number };

function newStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

/** hls.js errors that say a segment's bytes could not be used (not network or stall handling). */
const SEGMENT_ERRORS = new Set<string>([
  Hls.ErrorDetails.FRAG_PARSING_ERROR,
  Hls.ErrorDetails.FRAG_DECRYPT_ERROR,
  Hls.ErrorDetails.BUFFER_APPEND_ERROR,
  Hls.ErrorDetails.BUFFER_APPENDING_ERROR,
]);

export class HlsJsP2PEngine extends PlayerEngine {
  static readonly version = P2PEngine.version;
  static readonly protocolVersion = P2PEngine.protocolVersion;

  /** hls.js (MSE) and WebRTC are both available. Check this before native HLS playback. */
  static isSupported(): boolean {
    return Hls.isSupported() && P2PEngine.isSupported();
  }

  static isWebRTCSupported(): boolean {
    return P2PEngine.isWebRTCSupported();
  }

  static isMSESupported(): boolean {
    return P2PEngine.isMSESupported();
  }

  static isServiceWorkerSupported(): boolean {
    return P2PEngine.isServiceWorkerSupported();
  }

  /** The same as isServiceWorkerSupported, under the name existing pages already call. */
  static isSeviceWorkerSupported(): boolean {
    return P2PEngine.isServiceWorkerSupported();
  }

  /** One call: a new Hls instance with P2P wired in. */
  static createHls(hlsConfig: Partial<HlsConfig> = {}, p2pConfig: HlsP2PConfig = {}): { hls: Hls; engine: HlsJsP2PEngine } {
    const engine = new HlsJsP2PEngine(p2pConfig);
    const hls = new Hls({ ...hlsConfig, ...engine.getHlsConfig() });
    engine.bindHls(hls);
    return { hls, engine };
  }

  private hls?: Hls;
  private readonly refs = new Map<string, Ref>();
  private readonly liveSyncSegments: number;

  constructor(config: HlsP2PConfig = {}) {
    const { hlsjsInstance, liveSyncSegments, ...p2p } = config;
    super(p2p);
    this.liveSyncSegments = liveSyncSegments ?? 5;
    if (hlsjsInstance) this.bindHls(hlsjsInstance);
  }

  /** Config entries to pass to `new Hls(...)` (only needed when not binding an existing instance). */
  getHlsConfig(): { fLoader: new (config: HlsConfig) => Loader<FragmentLoaderContext> } {
    return { fLoader: this.fragmentLoaderClass() };
  }

  bindHls(hls: Hls): void {
    if (this.hls === hls) return;
    this.unbind();
    this.hls = hls;
    hls.config.fLoader = this.fragmentLoaderClass() as unknown as HlsConfig["fLoader"];
    const user = hls.userConfig ?? {};
    if (user.liveSyncDurationCount === undefined && user.liveSyncDuration === undefined) {
      hls.config.liveSyncDurationCount = this.liveSyncSegments;
    }
    hls.on(Hls.Events.MANIFEST_LOADED, this.onManifestLoaded);
    hls.on(Hls.Events.LEVEL_UPDATED, this.onPlaylist);
    hls.on(Hls.Events.AUDIO_TRACK_LOADED, this.onPlaylist);
    hls.on(Hls.Events.MEDIA_ATTACHED, this.onMediaAttached);
    hls.on(Hls.Events.MEDIA_DETACHING, this.onMediaDetaching);
    hls.on(Hls.Events.MANIFEST_LOADING, this.onManifestLoading);
    hls.on(Hls.Events.DESTROYING, this.onHlsDestroying);
    hls.on(Hls.Events.ERROR, this.onHlsError);
    hls.on(Hls.Events.FRAG_CHANGED, this.onFragChanged);
    if (hls.media) this.media.attach(hls.media);
    this.core.setPlaybackSource(() => {
      const pb = this.media.playback();
      return pb.started === false && this.startPosition !== undefined ? { ...pb, startAt: this.startPosition } : pb;
    });
  }

  /** The bitrate of the fragment playing, from its bytes and duration (QoE report). */
  private fragKbps?: number;

  /**
   * The declared bitrate of the level playing (QoE report); a media playlist loaded directly
   * declares none, and then the fragment playing tells.
   */
  protected override bitrateKbps(): number | undefined {
    const hls = this.hls;
    const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : undefined;
    return level?.bitrate ? level.bitrate / 1000 : this.fragKbps;
  }

  private readonly onFragChanged = (_e: string, data: { frag: { duration: number; stats: { total: number } } }) => {
    const { duration, stats } = data.frag;
    if (duration > 0 && stats.total > 0) this.fragKbps = (stats.total * 8) / duration / 1000;
  };

  // ---- events and controls (delegated to the core engine) -----------------------------------


  destroy(): void {
    this.unbind();
    this.core.destroy();
  }

  // ---- hls.js wiring ------------------------------------------------------------------------

  private unbind(): void {
    const hls = this.hls;
    if (!hls) return;
    hls.off(Hls.Events.MANIFEST_LOADED, this.onManifestLoaded);
    hls.off(Hls.Events.LEVEL_UPDATED, this.onPlaylist);
    hls.off(Hls.Events.AUDIO_TRACK_LOADED, this.onPlaylist);
    hls.off(Hls.Events.MEDIA_ATTACHED, this.onMediaAttached);
    hls.off(Hls.Events.MEDIA_DETACHING, this.onMediaDetaching);
    hls.off(Hls.Events.MANIFEST_LOADING, this.onManifestLoading);
    hls.off(Hls.Events.DESTROYING, this.onHlsDestroying);
    hls.off(Hls.Events.ERROR, this.onHlsError);
    hls.off(Hls.Events.FRAG_CHANGED, this.onFragChanged);
    this.media.detach();
    this.hls = undefined;
  }

  private readonly onHlsDestroying = () => this.unbind();

  private readonly onHlsError = (_e: string, data: ErrorData) => {
    const frag = data.frag;
    if (SEGMENT_ERRORS.has(data.details) && frag && typeof frag.sn === "number") {
      const start = frag.byteRangeStartOffset;
      const end = frag.byteRangeEndOffset;
      const ref = this.lookup(frag.url, start, end);
      const why = data.reason ?? data.error?.message;
      if (ref) this.core.reportPlaybackError(ref.streamUrl, ref.id, why ? `${data.details}: ${why}` : data.details);
    }
    if (!data.fatal) return;
    this.core.reportException({ code: "HLSJS_EXPT", message: `${data.type}/${data.details}`, stack: data.error?.stack });
  };

  private readonly onManifestLoading = () => {
    this.media.loadStarted();
    this.firstSegmentFetched = false;
    this.startPosition = undefined;
  };

  private firstSegmentFetched = false;
  /** Where hls.js will start playing (media time), known with the first media playlist. */
  private startPosition?: number;

  /**
   * Startup: as soon as the first media playlist is known, fetch the segment hls.js will start
   * with (live: the one at its live sync position; VOD: at its start position), by HTTP. hls.js
   * asks for it only after setting up its media buffers; by then the bytes are on their way.
   */
  private fetchFirstSegment(url: string, segments: SegmentInfo[], live: boolean): void {
    const hls = this.hls;
    if (!hls || this.firstSegmentFetched || this.media.playing || !segments.length) return;
    const configured = hls.config.startPosition;
    const pos = live ? hls.liveSyncPosition : configured > 0 ? configured : (segments[0] as SegmentInfo).startTime;
    if (pos === null || !Number.isFinite(pos)) return;
    // hls.js skips a fragment that ends within maxFragLookUpTolerance of the position.
    const tolerance = hls.config.maxFragLookUpTolerance ?? 0.25;
    const first = segments.find((s) => s.endTime - tolerance > pos);
    if (!first) return;
    this.firstSegmentFetched = true;
    this.startPosition = pos;
    this.core.fetchAhead(url, first.id);
  }

  private readonly onManifestLoaded = (_e: string, data: ManifestLoadedData) => {
    const nd = data.networkDetails as unknown;
    let responseUrl: string | undefined;
    if (typeof XMLHttpRequest !== "undefined" && nd instanceof XMLHttpRequest) responseUrl = nd.responseURL;
    else if (typeof Response !== "undefined" && nd instanceof Response) responseUrl = nd.url;
    this.core.setManifestUrl(data.url, responseUrl);
    for (const level of data.levels) {
      const url = Array.isArray(level.url) ? (level.url[0] as string) : level.url;
      this.core.addStream({ runtimeUrl: url, type: "main", shortId: hlsVideoShortId(level as Parameters<typeof hlsVideoShortId>[0]) });
    }
    for (const track of data.audioTracks ?? []) {
      const url = Array.isArray(track.url) ? (track.url[0] as string) : track.url;
      if (url) this.core.addStream({ runtimeUrl: url, type: "secondary", shortId: hlsAudioShortId(track as Parameters<typeof hlsAudioShortId>[0]) });
    }
  };

  private readonly onPlaylist = (_e: string, data: LevelUpdatedData | AudioTrackLoadedData) => {
    const { url, fragments, live } = data.details;
    if (!this.core.hasStream(url)) return;
    const { segments, keys } = segmentsFromFragments(fragments as never, live);
    segments.forEach((s, i) => this.refs.set(keys[i] as string, { streamUrl: url, id: s.id }));
    this.core.updateStream(url, segments, live);
    if ("level" in data) this.fetchFirstSegment(url, segments, live);
    // Keep the lookup table bounded on long live sessions.
    if (this.refs.size > 5000) {
      const drop = this.refs.size - 4000;
      let n = 0;
      for (const k of this.refs.keys()) {
        if (n++ >= drop) break;
        this.refs.delete(k);
      }
    }
  };

  private readonly onMediaAttached = (_e: string, data: { media: HTMLMediaElement }) => this.media.attach(data.media);
  private readonly onMediaDetaching = () => this.media.detach();

  lookup(url: string, rangeStart?: number, rangeEnd?: number): Ref | undefined {
    return this.refs.get(runtimeKey(url, rangeStart, rangeEnd));
  }

  private fragmentLoaderClass(): new (config: HlsConfig) => Loader<FragmentLoaderContext> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const engine = this;
    return class SwarmcastFragmentLoader implements Loader<FragmentLoaderContext> {
      context: FragmentLoaderContext | null = null;
      stats: LoaderStats = newStats();
      private fallback?: Loader<LoaderContext>;
      private controller?: AbortController;
      private callbacks: LoaderCallbacks<FragmentLoaderContext> | null = null;
      constructor(private readonly hlsConfig: HlsConfig) {}

      load(context: FragmentLoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<FragmentLoaderContext>): void {
        this.context = context;
        this.callbacks = callbacks;
        const ref = context.frag.sn === "initSegment" || context.part ? undefined : engine.lookup(context.url, context.rangeStart, context.rangeEnd);
        if (!ref) {
          // Init segments, LL-HLS parts and anything we don't know: the stock loader.
          const Default = this.hlsConfig.loader as unknown as new (c: HlsConfig) => Loader<LoaderContext>;
          this.fallback = new Default(this.hlsConfig);
          this.fallback.stats = this.stats;
          this.fallback.load(context, config, callbacks as unknown as LoaderCallbacks<LoaderContext>);
          return;
        }
        const controller = (this.controller = new AbortController());
        const stats = this.stats;
        stats.loading.start = performance.now();
        const byteRange = context.rangeEnd !== undefined && context.rangeStart !== undefined && context.rangeEnd > context.rangeStart ? { start: context.rangeStart, end: context.rangeEnd - 1 } : undefined;
        engine.core
          .loadSegment(ref.streamUrl, ref.id, { url: context.url, byteRange }, controller.signal)
          .then((r) => {
            if (controller.signal.aborted || !this.callbacks) return;
            const now = performance.now();
            // Report a load time no shorter than HTTP would take, so peer speed doesn't
            // mislead hls.js's bandwidth estimate into picking a level HTTP can't sustain.
            const httpBps = Math.max(1, engine.core.getHttpThroughput());
            const floorMs = r.source === "http" ? 0 : (r.data.length / httpBps) * 1000;
            const duration = Math.max(now - stats.loading.start, floorMs, 1);
            stats.loading.start = now - duration;
            stats.loading.first = stats.loading.start + Math.min(duration, 10);
            stats.loading.end = now;
            stats.loaded = stats.total = r.data.length;
            stats.chunkCount = 1;
            // A copy: hls.js may transfer the buffer to its worker, which would empty our store.
            const data = r.data.slice().buffer;
            this.callbacks.onSuccess({ url: context.url, data }, stats, context, null);
          })
          .catch((err: unknown) => {
            if (controller.signal.aborted || !this.callbacks) return;
            const status = typeof (err as { status?: unknown }).status === "number" ? (err as { status: number }).status : 0;
            this.callbacks.onError({ code: status, text: err instanceof Error ? err.message : String(err) }, context, null, stats);
          });
      }

      abort(): void {
        if (this.fallback) return this.fallback.abort();
        if (!this.controller || this.controller.signal.aborted) return;
        this.controller.abort();
        this.stats.aborted = true;
        const cb = this.callbacks;
        if (cb?.onAbort && this.context) cb.onAbort(this.stats, this.context, null);
      }

      destroy(): void {
        if (this.fallback) this.fallback.destroy();
        this.controller?.abort();
        this.callbacks = null;
        this.context = null;
      }
    };
  }
}
