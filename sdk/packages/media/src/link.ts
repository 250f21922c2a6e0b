/**
 * What the page and the ServiceWorker say to each other, and the proxied URL that carries a
 * file to the worker. Shared by both sides; pure.
 *
 * The page's engine registers itself with the worker by posting `hello` with one end of a
 * MessageChannel; over that port the worker asks for pieces (`piece`, `cancel`) and the page
 * answers (`data`, `error`) or leaves (`bye`). A proxied URL names the file, its length and
 * type (from the page's probe) and the engine to ask, so the worker keeps no state of its own.
 */

export const HELLO = "swarmcast-media/hello";
export const WELCOME = "swarmcast-media/welcome";

/** Page -> worker, on `postMessage` to the controller, with the port. */
export type Hello = { type: typeof HELLO; engine: string; pieceLength: number; minBufferCount: number };

/** Worker -> page over the port. */
export type WorkerMessage =
  | { t: "welcome"; version: string }
  | { t: "piece"; id: number; url: string; index: number }
  | { t: "cancel"; id: number };

/** Page -> worker over the port. */
export type PageMessage = { t: "data"; id: number; data: ArrayBuffer } | { t: "error"; id: number; message: string } | { t: "bye" };

/** The file behind a proxied URL. */
export type ProxiedFile = { url: string; length: number; type: string; engine: string };

const PATH = "swarmcast-media/";

/** The proxied URL of a file, under the worker's scope; its last path component is the file's name. */
export function proxiedUrl(scope: string, f: ProxiedFile): string {
  const name = new URL(f.url).pathname.split("/").pop() || "media";
  const u = new URL(PATH + encodeURIComponent(name), scope);
  u.searchParams.set("src", f.url);
  u.searchParams.set("len", String(f.length));
  u.searchParams.set("type", f.type);
  u.searchParams.set("e", f.engine);
  return u.href;
}

/** The file a request URL proxies, or undefined when the URL is not one of ours. */
export function parseProxiedUrl(url: string): ProxiedFile | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!u.pathname.includes(`/${PATH}`)) return undefined;
  const src = u.searchParams.get("src");
  const length = Number(u.searchParams.get("len"));
  const engine = u.searchParams.get("e");
  if (!src || !engine || !Number.isSafeInteger(length) || length < 0) return undefined;
  try {
    new URL(src);
  } catch {
    return undefined;
  }
  return { url: src, length, type: u.searchParams.get("type") || "application/octet-stream", engine };
}
