/**
 * Shaka's own HLS parser, with one addition: once it has parsed a manifest, the engine bound to
 * the player learns where the parser keeps its media sequence numbers (a map of media sequence
 * to start time per content type; not part of Shaka's API, found the way P2P Media Loader's
 * Shaka integration finds it). HLS segment ids are media sequence numbers, which no other
 * interface passes to plugins. Everything else is the wrapped parser's, unchanged.
 */
import type shakaNamespace from "shaka-player/dist/shaka-player.compiled";

type Shaka = typeof shakaNamespace;
export type SequenceMaps = { video?: Map<number, number>; audio?: Map<number, number> };

/** The content-type → (media sequence → start time) map among the parser's own fields. */
function findSequenceMaps(parser: object): SequenceMaps | undefined {
  for (const value of Object.values(parser)) {
    if (!(value instanceof Map) || !["video", "audio", "text", "image"].every((k) => value.has(k))) continue;
    return { video: value.get("video"), audio: value.get("audio") };
  }
  return undefined;
}

/** A parser factory for Shaka's HLS MIME types; `onParsed` gets the player's networking engine. */
export function hlsParserFactory(shaka: Shaka, onParsed: (net: unknown, maps: () => SequenceMaps | undefined) => void): () => shakaNamespace.extern.ManifestParser {
  return () => {
    const inner = new shaka.hls.HlsParser();
    return new Proxy(inner, {
      get(target, prop) {
        if (prop === "start") {
          return async (uri: string, playerInterface: shakaNamespace.extern.ManifestParser.PlayerInterface) => {
            const manifest = await target.start(uri, playerInterface);
            onParsed(playerInterface.networkingEngine, () => findSequenceMaps(target));
            return manifest;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}
