/**
 * Shaka's own DASH and HLS parsers, each with one addition: once it has parsed a manifest, the
 * engine bound to the player gets the manifest's variants as parsed, before the player drops
 * any (restrictions, codec choice), which is when P2P Media Loader's Shaka integration numbers
 * its streams too; and, for HLS, where the parser keeps its media sequence numbers (a map of
 * media sequence to start time per content type; not part of Shaka's API, found the way P2P
 * Media Loader's integration finds it), since HLS segment ids are media sequence numbers and no
 * other interface passes them to plugins. Everything else is the wrapped parser's, unchanged.
 */
import type shakaNamespace from "shaka-player/dist/shaka-player.compiled";

type Shaka = typeof shakaNamespace;
type Parser = shakaNamespace.extern.ManifestParser;
export type SequenceMaps = { video?: Map<number, number>; audio?: Map<number, number> };
/** What a wrapped parser reports, with the player's networking engine to find the engine by. */
export type Parsed = { net: unknown; variants: readonly shakaNamespace.extern.Variant[]; sequenceMaps: () => SequenceMaps | undefined };

export const DASH_MIMES = ["application/dash+xml", "video/vnd.mpeg.dash.mpd"];
export const HLS_MIMES = ["application/x-mpegurl", "application/vnd.apple.mpegurl"];

/** The content-type → (media sequence → start time) map among an HLS parser's own fields. */
function findSequenceMaps(parser: object): SequenceMaps | undefined {
  for (const value of Object.values(parser)) {
    if (!(value instanceof Map) || !["video", "audio", "text", "image"].every((k) => value.has(k))) continue;
    return { video: value.get("video"), audio: value.get("audio") };
  }
  return undefined;
}

/** A parser factory that wraps `make()`'s parsers and calls `onParsed` after each first parse. */
export function wrappedParserFactory(make: () => Parser, onParsed: (parsed: Parsed) => void): () => Parser {
  return () => {
    const inner = make();
    return new Proxy(inner, {
      get(target, prop) {
        if (prop === "start") {
          return async (uri: string, playerInterface: shakaNamespace.extern.ManifestParser.PlayerInterface) => {
            const manifest = await target.start(uri, playerInterface);
            onParsed({ net: playerInterface.networkingEngine, variants: manifest.variants.slice(), sequenceMaps: () => findSequenceMaps(target) });
            return manifest;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

/** Registers the wrapped parsers (or, with `onParsed` undefined, Shaka's own) for their MIME types. */
export function registerParsers(shaka: Shaka, onParsed?: (parsed: Parsed) => void): void {
  const { ManifestParser } = shaka.media;
  const dash = () => new shaka.dash.DashParser();
  const hls = () => new shaka.hls.HlsParser();
  for (const [mimes, make] of [[DASH_MIMES, dash], [HLS_MIMES, hls]] as const) {
    const factory = onParsed ? wrappedParserFactory(make, onParsed) : make;
    for (const mime of mimes) ManifestParser.registerParserByMime(mime, factory);
  }
}
