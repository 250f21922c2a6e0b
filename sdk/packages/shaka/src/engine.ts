/**
 * Shaka Player integration: binds a P2PEngine to a `shaka.Player`, the way Shaka plugins are
 * registered. `ShakaP2PEngine.registerPlugins(shaka)` installs our networking scheme plugin
 * for http(s) once per page; it hands every request to Shaka's own fetch plugin except the
 * media segments of a player bound to an engine, which a request filter marks with the stream
 * and segment reference Shaka is fetching. The engine declares one swarm per video and audio
 * stream of the manifest (as P2P Media Loader's Shaka integration numbers them, see
 * streams.ts), keeps each swarm's segment list in step with Shaka's segment indexes, and reads
 * the playhead and rebuffers from the media element. Manifests, init segments and text go over
 * HTTP as Shaka fetches them. It also installs Shaka's DASH and HLS parsers wrapped, so that the
 * engine sees the variants as parsed and, for HLS, media sequence numbers (parsers.ts).
 */
import { HttpError, P2PEngine, PlayerEngine, type IdRules, type P2PConfig, type SegmentInfo } from "@swarmcast/core";
import type shakaNamespace from "shaka-player/dist/shaka-player.compiled";
import { DeliveredSegments } from "./delivered.js";
import { registerParsers, type Parsed, type SequenceMaps } from "./parsers.js";
import { dashSegments, HlsSequenceIds, lastMediaSequence, rangeFromHeader, runtimeKey, streamsOfVariants, type SegmentReferenceLike, type StreamDecl } from "./streams.js";

type Shaka = typeof shakaNamespace;
type Player = shakaNamespace.Player;
type Request = shakaNamespace.extern.Request;
type Response = shakaNamespace.extern.Response;
type Stream = shakaNamespace.extern.Stream;

export type ShakaP2PConfig = P2PConfig & {
  /** Bind to this player right away. */
  player?: Player;
  /**
   * Live: seconds behind the live edge to play when the page did not configure
   * `manifest.defaultPresentationDelay` (and the manifest suggests none). More gives peers more
   * time. Default 10.
   */
  liveDelay?: number;
  /**
   * How streams are named: "pml-2.2" (default) as the published p2p-media-loader-shaka (2.2.2)
   * does, or "pml-2.3" as P2P Media Loader's hls.js integration 2.3 and our hls.js engine do, so
   * that Shaka viewers of an HLS stream share swarms with hls.js viewers (see sdk/README.md).
   */
  idRules?: IdRules;
};

/** What the request filter leaves on a media-segment request for the scheme plugin. */
type Mark = { engine: ShakaP2PEngine; stream: Stream; ref: SegmentReferenceLike };
const MARK = Symbol("swarmcast");
type MarkedRequest = Request & { [MARK]?: Mark };

/** One stream of the manifest: its swarm key and the ids of its segments by request key. */
type Declared = StreamDecl & { key: string; ids: Map<string, number>; hls: HlsSequenceIds; first?: unknown; last?: unknown; count: number };

/** The engine bound to each player's networking engine, for the HLS parser. */
const ENGINES = new WeakMap<object, ShakaP2PEngine>();

function shakaGlobal(): Shaka | undefined {
  return (globalThis as { shaka?: Shaka }).shaka;
}

export class ShakaP2PEngine extends PlayerEngine {
  static readonly version = P2PEngine.version;
  static readonly protocolVersion = P2PEngine.protocolVersion;

  /**
   * Installs the networking scheme plugin for http and https (once per page, before players
   * load). Requests of players without an engine go to Shaka's fetch plugin unchanged.
   */
  static registerPlugins(shaka: Shaka | undefined = shakaGlobal()): void {
    if (!shaka) throw new Error("Shaka Player not found: pass it to registerPlugins or load it first");
    const { NetworkingEngine, HttpFetchPlugin } = shaka.net;
    const plugin: shakaNamespace.extern.SchemePlugin = (uri, request, type, progress, headers, config) => {
      const mark = (request as MarkedRequest)[MARK];
      const own = mark && type === NetworkingEngine.RequestType.SEGMENT ? mark.engine.load(shaka, uri, request, mark, progress) : undefined;
      return own ?? HttpFetchPlugin.parse(uri, request, type, progress, headers, config);
    };
    NetworkingEngine.registerScheme("http", plugin, NetworkingEngine.PluginPriority.APPLICATION, true);
    NetworkingEngine.registerScheme("https", plugin, NetworkingEngine.PluginPriority.APPLICATION, true);
    registerParsers(shaka, (parsed) => {
      if (parsed.net && typeof parsed.net === "object") ENGINES.get(parsed.net)?.setParsed(parsed);
    });
  }

  /** Puts Shaka's own plugins back. */
  static unregisterPlugins(shaka: Shaka | undefined = shakaGlobal()): void {
    if (!shaka) return;
    const { NetworkingEngine, HttpFetchPlugin } = shaka.net;
    for (const scheme of ["http", "https"]) NetworkingEngine.registerScheme(scheme, HttpFetchPlugin.parse, NetworkingEngine.PluginPriority.PREFERRED, true);
    registerParsers(shaka);
  }

  /** Shaka Player (MSE) and WebRTC are both available. */
  static isSupported(shaka: Shaka | undefined = shakaGlobal()): boolean {
    return !!shaka && shaka.Player.isBrowserSupported() && P2PEngine.isSupported();
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

  private player?: Player;
  private readonly liveDelay: number;
  private readonly idRules: IdRules;
  private declared = new Map<number, Declared>();
  private readonly delivered = new DeliveredSegments();
  /** The manifest's variants, read once per load (Shaka warns on every getManifest call). */
  private variants?: readonly shakaNamespace.extern.Variant[];
  private manifestUrlSet = false;
  private sequenceMaps: () => SequenceMaps | undefined = () => undefined;
  private readonly syncTimer: ReturnType<typeof setInterval>;
  /** The bound player's `streaming.rebufferingGoal`, read once per load (its config is a copy per call). */
  private rebufferingGoal?: number;

  constructor(config: ShakaP2PConfig = {}) {
    const { player, liveDelay, idRules, ...p2p } = config;
    super(p2p);
    this.liveDelay = liveDelay ?? 10;
    this.idRules = idRules ?? "pml-2.2";
    this.core.setPlaybackSource(() => {
      const pb = this.media.playback();
      // Shaka starts playing once it has buffered its rebuffering goal: all of it is due now.
      return pb.started === false ? { ...pb, startupBufferS: this.rebufferingGoal } : pb;
    });
    this.syncTimer = setInterval(() => this.syncAll(), 1000);
    if (player) this.bindShakaPlayer(player);
  }

  /** The bandwidth of the variant playing (QoE report). */
  protected override bitrateKbps(): number | undefined {
    const bps = this.player?.getStats().streamBandwidth;
    return bps && Number.isFinite(bps) ? bps / 1000 : undefined;
  }

  bindShakaPlayer(player: Player): void {
    if (this.player === player) return;
    this.unbind();
    this.player = player;
    this.rebufferingGoal = player.getConfiguration().streaming.rebufferingGoal;
    const net = player.getNetworkingEngine();
    if (net) ENGINES.set(net, this);
    net?.registerRequestFilter(this.onRequest);
    net?.registerResponseFilter(this.onResponse);
    if (player.getConfiguration().manifest.defaultPresentationDelay === 0) {
      player.configure("manifest.defaultPresentationDelay", this.liveDelay);
    }
    for (const [event, fn] of this.playerEvents()) player.addEventListener(event, fn);
    const media = player.getMediaElement();
    if (media) this.media.attach(media);
  }

  // ---- events and controls (delegated to the core engine) -----------------------------------


  destroy(): void {
    clearInterval(this.syncTimer);
    this.unbind();
    this.core.destroy();
  }

  // ---- Shaka wiring -------------------------------------------------------------------------

  private playerEvents(): [string, (e: Event) => void][] {
    return [
      ["loading", this.onLoading],
      ["loaded", this.onLoaded],
      ["manifestparsed", this.onLoaded],
      ["trackschanged", this.onLoaded],
      ["error", this.onError],
    ];
  }

  private unbind(): void {
    const player = this.player;
    if (!player) return;
    const net = player.getNetworkingEngine();
    if (net) ENGINES.delete(net);
    net?.unregisterRequestFilter(this.onRequest);
    net?.unregisterResponseFilter(this.onResponse);
    for (const [event, fn] of this.playerEvents()) player.removeEventListener(event, fn);
    this.media.detach();
    this.player = undefined;
  }

  private readonly onLoading = () => {
    this.media.loadStarted();
    this.rebufferingGoal = this.player?.getConfiguration().streaming.rebufferingGoal;
    this.manifestUrlSet = false;
    this.declared = new Map();
    this.variants = undefined;
    this.sequenceMaps = () => undefined;
    const media = this.player?.getMediaElement();
    if (media) this.media.attach(media);
  };

  private readonly onLoaded = () => {
    const media = this.player?.getMediaElement();
    if (media) this.media.attach(media);
    this.syncAll();
  };

  private readonly onError = (e: Event) => {
    const detail = (e as Event & { detail?: { category?: number; code?: number; severity?: number; data?: unknown[]; message?: string; stack?: string } }).detail;
    // A media error (category 3: appending, decoding) that names a segment we handed over is
    // counted against where that segment came from.
    const hit = detail?.category === 3 ? this.delivered.namedBy(detail.data) : undefined;
    if (hit) this.core.reportPlaybackError(hit.stream, hit.id, `shaka ${detail?.code ?? "?"}`);
    // Severity 2 is CRITICAL: the player stopped.
    if (detail?.severity !== 2) return;
    this.core.reportException({ code: "SHAKA_EXPT", message: `shaka error ${detail.code ?? "?"}${detail.message ? `: ${detail.message}` : ""}`, stack: detail.stack });
  };

  /** Marks media-segment requests with their stream and reference. */
  private readonly onRequest = (_type: unknown, request: Request, context?: shakaNamespace.extern.RequestContext) => {
    const ref = context?.segment as unknown as SegmentReferenceLike | null | undefined;
    const stream = context?.stream;
    if (!ref || !stream || typeof ref.getStartTime !== "function") return;
    (request as MarkedRequest)[MARK] = { engine: this, stream, ref };
  };

  /** The first manifest response of a load names the swarms (its final URL, without query). */
  private readonly onResponse = (type: number, response: Response) => {
    if (type !== 0 /* MANIFEST */ || this.manifestUrlSet) return;
    this.manifestUrlSet = true;
    this.core.setManifestUrl(response.originalUri, response.uri);
  };

  /**
   * The manifest as Shaka's parser returned it: its variants before the player drops any
   * (streams are numbered over all of them, as P2P Media Loader does), and for HLS where the
   * parser keeps the media sequence numbers of the playlists it loaded.
   */
  setParsed(parsed: Parsed): void {
    this.variants = parsed.variants;
    this.sequenceMaps = parsed.sequenceMaps;
    this.syncAll();
  }

  private isDash(): boolean {
    const type = (this.player as { getManifestType?: () => string | null } | undefined)?.getManifestType?.();
    return type === "DASH";
  }

  /** Declares the manifest's streams (once per load) and brings their segment lists up to date. */
  private syncAll(): void {
    if (!this.manifestUrlSet || !this.player) return;
    // The stream objects stay those of the manifest: Shaka updates their segment indexes.
    // Without the wrapped parsers (registerPlugins not called), the player's manifest.
    this.variants ??= this.player.getManifest()?.variants;
    const variants = this.variants;
    if (!variants) return;
    if (!this.declared.size) {
      for (const s of streamsOfVariants(variants, this.idRules)) {
        const key = `shaka-stream:${s.shakaId}`;
        this.declared.set(s.shakaId, { ...s, key, ids: new Map(), hls: new HlsSequenceIds(), count: 0 });
        this.core.addStream({ runtimeUrl: key, type: s.type, shortId: s.shortId, idRules: this.idRules });
      }
    }
    for (const v of variants) for (const s of [v.video, v.audio]) if (s) this.sync(s);
  }

  private sync(stream: Stream): Declared | undefined {
    const d = this.declared.get(stream.id);
    const index = stream.segmentIndex;
    if (!d || !index) return d;
    let refs: (SegmentReferenceLike | null)[];
    try {
      refs = [...(index as unknown as Iterable<SegmentReferenceLike | null>)].filter((r) => !!r);
    } catch {
      return d; // an index being replaced
    }
    if (refs[0] === d.first && refs[refs.length - 1] === d.last && refs.length === d.count) return d;
    const live = !!this.player?.isLive();
    let segments: SegmentInfo[];
    let keys: string[];
    if (this.isDash()) ({ segments, keys } = dashSegments(refs));
    else if (this.idRules === "pml-2.3" && !live) ({ segments, keys } = hlsVodSegments(refs as SegmentReferenceLike[]));
    else {
      // Media sequence numbers. P2P Media Loader's Shaka integration reads the video map for
      // audio streams too; the 2.3 rules (hls.js) number each playlist by its own.
      const maps = this.sequenceMaps();
      if (!maps) return d;
      const map = this.idRules === "pml-2.2" || stream.type !== "audio" ? maps.video : maps.audio;
      ({ segments, keys } = d.hls.update(refs as SegmentReferenceLike[], lastMediaSequence(map)));
    }
    d.first = refs[0];
    d.last = refs[refs.length - 1];
    d.count = refs.length;
    d.ids = new Map(keys.map((k, i) => [k, (segments[i] as SegmentInfo).id]));
    this.core.updateStream(d.key, segments, live);
    return d;
  }

  /** The scheme plugin's work for a marked media segment; undefined leaves it to HTTP. */
  load(shaka: Shaka, uri: string, request: Request, mark: Mark, progress: shakaNamespace.extern.ProgressUpdated): shakaNamespace.extern.IAbortableOperation<Response> | undefined {
    const range = rangeFromHeader(request.headers["Range"] ?? request.headers["range"]);
    const key = runtimeKey(mark.ref.getUris()[0] ?? uri, range);
    let declared = this.declared.get(mark.stream.id);
    if (declared && !declared.ids.has(key)) declared = this.sync(mark.stream);
    const id = declared?.ids.get(key);
    if (!declared || id === undefined) return undefined;
    const controller = new AbortController();
    const started = performance.now();
    const { Error: ShakaError } = shaka.util;
    const promise = this.core.loadSegment(declared.key, id, { url: uri, byteRange: range }, controller.signal).then(
      (r): Response => {
        // Report a load time no shorter than HTTP would take, so peer speed doesn't lead
        // Shaka's bandwidth estimate to a variant HTTP can't sustain.
        const httpBps = Math.max(1, this.core.getHttpThroughput());
        const floorMs = r.source === "http" ? 0 : (r.data.length / httpBps) * 1000;
        const timeMs = Math.max(performance.now() - started, floorMs, 1);
        // One progress report for the whole segment: what Shaka's bandwidth estimate reads.
        progress(timeMs, r.data.length, 0);
        this.delivered.add(uri, declared.key, id);
        return {
          uri,
          originalUri: uri,
          // A copy: the store keeps its own bytes whatever Shaka does with these.
          data: r.data.slice().buffer,
          headers: {},
          originalRequest: request,
          timeMs,
          fromCache: r.source === "cache",
          status: 200,
        };
      },
      (err: unknown) => {
        if (controller.signal.aborted) throw new ShakaError(ShakaError.Severity.RECOVERABLE, ShakaError.Category.NETWORK, ShakaError.Code.OPERATION_ABORTED);
        if (err instanceof HttpError && err.status) {
          throw new ShakaError(ShakaError.Severity.RECOVERABLE, ShakaError.Category.NETWORK, ShakaError.Code.BAD_HTTP_STATUS, uri, err.status, "", {}, 1);
        }
        throw new ShakaError(ShakaError.Severity.RECOVERABLE, ShakaError.Category.NETWORK, ShakaError.Code.HTTP_ERROR, uri, err, 1);
      },
    );
    return new shaka.util.AbortableOperation(promise, () => {
      controller.abort();
      return Promise.resolve();
    });
  }
}

/** HLS VOD through Shaka by the 2.3 rules: segments numbered by position from 0, as hls.js viewers do. */
function hlsVodSegments(refs: readonly SegmentReferenceLike[]): { segments: SegmentInfo[]; keys: string[] } {
  const segments: SegmentInfo[] = [];
  const keys: string[] = [];
  refs.forEach((ref, id) => {
    const url = ref.getUris()[0] as string;
    const end = ref.getEndByte();
    const byteRange = end !== null ? { start: ref.getStartByte(), end } : undefined;
    segments.push({ id, url, byteRange, startTime: ref.getStartTime(), endTime: ref.getEndTime() });
    keys.push(runtimeKey(url, byteRange));
  });
  return { segments, keys };
}
