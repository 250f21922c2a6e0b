/**
 * The ServiceWorker script (`sw.js`): register it, or `importScripts` it from the site's own
 * worker. It answers the requests of proxied URLs (P2PEngineMedia.getProxiedUrl) and lets every
 * other request through untouched. It takes control of open pages at once (skipWaiting,
 * clients.claim), so the page that registered it is served from its next file on.
 *
 * Exposed as `MediaProxy` (`MediaProxy.version`; `MediaProxy.hooks.onServed` sees every part
 * of a piece answered, for diagnostics).
 */
import { DEFAULT_PIECE_LENGTH } from "../pieces.js";
import { HELLO, parseProxiedUrl, type Hello } from "../link.js";
import { EngineLink } from "./engines.js";
import { answer, type Served } from "./proxy.js";

declare const __SWARMCAST_VERSION__: string;
declare const self: ServiceWorkerGlobalScope;

export const version: string = typeof __SWARMCAST_VERSION__ === "string" ? __SWARMCAST_VERSION__ : "0.0.0-dev";

export const hooks: { onServed?: (s: Served) => void } = {};

const engines = new Map<string, EngineLink>();

function isHello(d: unknown): d is Hello {
  const h = d as Hello;
  return !!h && h.type === HELLO && typeof h.engine === "string" && Number.isSafeInteger(h.pieceLength) && h.pieceLength > 0;
}

self.addEventListener("install", () => void self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("message", (e) => {
  const port = e.ports[0];
  if (!isHello(e.data) || !port) return;
  const hello = e.data;
  engines.get(hello.engine)?.close();
  const link = new EngineLink(port, hello, () => {
    if (engines.get(hello.engine) === link) engines.delete(hello.engine);
  });
  engines.set(hello.engine, link);
  link.send({ t: "welcome", version });
});

self.addEventListener("fetch", (e) => {
  const file = parseProxiedUrl(e.request.url);
  if (!file) return; // not ours: the browser fetches it as usual
  const link = engines.get(file.engine);
  const pieceLength = link?.hello.pieceLength ?? DEFAULT_PIECE_LENGTH;
  const readAhead = Math.max(0, Math.min(8, link?.hello.minBufferCount ?? 0));
  e.respondWith(answer(e.request, file, link, { pieceLength, readAhead, onServed: (s) => hooks.onServed?.(s) }, e.clientId));
});
