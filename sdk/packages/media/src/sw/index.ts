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
import { HELLO, HELLO_AGAIN, parseProxiedUrl, type Hello, type ProxiedFile } from "../link.js";
import { EngineLink } from "./engines.js";
import { answer, openFile, type Opening, type Served } from "./proxy.js";

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
  link.send({ t: "welcome", version, scope: self.registration.scope });
  silent.delete(hello.engine);
  for (const w of awaited.get(hello.engine) ?? []) w(link);
  awaited.delete(hello.engine);
});

/**
 * How long a proxied URL's request waits for its engine's hello. The request may come first (a
 * page that knows the worker is ours gives the element the URL without waiting for the worker's
 * answer), or the browser may have restarted this worker, which then knows no engine: the page
 * the request comes from is asked to say hello again. An engine that still says nothing (its
 * page left) is not waited for twice: its pieces come by HTTP from here.
 */
const HELLO_WAIT_MS = 2000;
const awaited = new Map<string, Array<(l: EngineLink | undefined) => void>>();
const silent = new Set<string>();

function engineLink(id: string, clientId: string): Promise<EngineLink | undefined> {
  const known = engines.get(id);
  if (known || silent.has(id)) return Promise.resolve(known);
  if (!awaited.has(id) && clientId) {
    void self.clients
      .get(clientId)
      .then((c) => c?.postMessage({ type: HELLO_AGAIN, engine: id }))
      .catch(() => {});
  }
  return new Promise((resolve) => {
    const waiters = awaited.get(id) ?? [];
    waiters.push(resolve);
    awaited.set(id, waiters);
    setTimeout(() => {
      if (!awaited.get(id)?.includes(resolve)) return;
      silent.add(id);
      for (const w of awaited.get(id) ?? []) w(undefined);
      awaited.delete(id);
    }, HELLO_WAIT_MS);
  });
}

/**
 * Files of unknown length being opened or opened, by engine and URL, with the piece length their
 * first request cut by (the engine's, or the default when its hello had not come); the oldest
 * forgotten first.
 */
type FileOpening = { pieceLength: number; opening: Promise<Opening> };
const openings = new Map<string, FileOpening>();
const MAX_OPENINGS = 256;

/** The first request for a file asks the origin; later ones reuse its answer. */
function opening(file: ProxiedFile, req: Request, pieceLength: number): FileOpening {
  const key = `${file.engine} ${file.url}`;
  const known = openings.get(key);
  if (known) return known;
  const o = { pieceLength, opening: openFile(file, req.headers.get("Range"), pieceLength) };
  openings.set(key, o);
  if (openings.size > MAX_OPENINGS) openings.delete(openings.keys().next().value as string);
  // Later requests only need the file: the piece goes to the page, and is not kept here.
  void o.opening.then((r) => {
    if (openings.get(key) === o) openings.set(key, { pieceLength, opening: Promise.resolve(r.ok ? { ok: true, file: r.file } : r) });
  });
  return o;
}

/**
 * Tells the page what the origin said of a file, once per link, whenever a request for it finds
 * the page linked: the first request may have come before the page's hello, or the page may have
 * said hello again since (a new port), and the page opens the file's swarm only when told.
 */
function tell(link: EngineLink, url: string, o: Opening, cutBy: number): void {
  if (!link.markTold(url)) return;
  if (!o.ok) return link.send({ t: "failed", url, code: o.code, message: o.message });
  const first = o.first && cutBy === link.hello.pieceLength ? o.first : undefined;
  const data = first ? first.data.slice().buffer : new ArrayBuffer(0);
  link.send({ t: "opened", url, length: o.file.length, type: o.file.type, index: first?.index ?? -1, data }, [data]);
}

/** The engine's link now, if it cuts files into pieces of `pieceLength` as this answer does. */
function linkNow(engine: string, pieceLength: number): EngineLink | undefined {
  const link = engines.get(engine);
  return link?.isOpen && link.hello.pieceLength === pieceLength ? link : undefined;
}

async function respond(req: Request, file: ProxiedFile, link: EngineLink | undefined, clientId: string): Promise<Response> {
  const pieceLength = link?.hello.pieceLength ?? DEFAULT_PIECE_LENGTH;
  const readAhead = Math.max(0, Math.min(8, link?.hello.minBufferCount ?? 0));
  const opts = { pieceLength, readAhead, onServed: (s: Served) => hooks.onServed?.(s) };
  if (file.length !== undefined && file.type !== undefined) {
    return answer(req, { ...file, length: file.length, type: file.type }, () => linkNow(file.engine, pieceLength), opts, clientId);
  }
  const { pieceLength: cutBy, opening: pending } = opening(file, req, pieceLength);
  const o = await pending;
  const told = () => {
    const l = linkNow(file.engine, pieceLength);
    if (l) tell(l, file.url, o, cutBy);
    return l;
  };
  told();
  // Whatever is wrong with it, the element goes to the file's own URL, as without the engine.
  if (!o.ok) return Response.redirect(file.url, 302);
  return answer(req, o.file, told, opts, clientId, cutBy === pieceLength ? o.first : undefined);
}

self.addEventListener("fetch", (e) => {
  const file = parseProxiedUrl(e.request.url);
  if (!file) return; // not ours: the browser fetches it as usual
  e.respondWith(engineLink(file.engine, e.clientId).then((link) => respond(e.request, file, link, e.clientId)));
});
