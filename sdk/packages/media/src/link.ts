/**
 * What the page and the ServiceWorker say to each other, and the proxied URL that carries a
 * file to the worker. Shared by both sides; pure.
 *
 * The page's engine registers itself with the worker by posting `hello` with one end of a
 * MessageChannel; over that port the worker asks for pieces (`piece`, `cancel`) and the page
 * answers (`data`, `error`) or leaves (`bye`). A proxied URL names the file and the engine to
 * ask, and the file's length and type when the page knows them (a file it opened before).
 * When it does not, the worker learns them from its first request to the origin, which also
 * brings the first piece the element wants (one request, as a plain `<video src>` makes), and
 * tells the page (`opened` with that piece, or `failed`); a page that was not linked yet at that
 * request (its hello came late), or linked again since, is told at the next piece it is asked for.
 */

export const HELLO = "swarmcast-media/hello";
/**
 * Worker -> page (`client.postMessage`): a proxied URL names an engine the worker does not know
 * (the browser restarted the worker, which lost its ports, or the request overtook the hello):
 * the page whose engine it is says hello again.
 */
export const HELLO_AGAIN = "swarmcast-media/hello-again";
export const WELCOME = "swarmcast-media/welcome";

/** Page -> worker, on `postMessage` to the controller, with the port. */
export type Hello = { type: typeof HELLO; engine: string; pieceLength: number; minBufferCount: number };

/** Worker -> page over the port. */
export type WorkerMessage =
  /** `scope`: the worker's registration scope, under which proxied URLs live. */
  | { t: "welcome"; version: string; scope: string }
  | { t: "piece"; id: number; url: string; index: number }
  | { t: "cancel"; id: number }
  /** The origin's answer to the worker's first request for a file: its length and type, and piece `index` (transferred). */
  | { t: "opened"; url: string; length: number; type: string; index: number; data: ArrayBuffer }
  /** The file can't be shared in pieces: the element was sent to its own URL. `code` as in `exception` (none: nothing is wrong). */
  | { t: "failed"; url: string; code?: "HTTP_EXPT" | "MEDIA_EXPT"; message: string };

/** Page -> worker over the port. */
export type PageMessage = { t: "data"; id: number; data: ArrayBuffer } | { t: "error"; id: number; message: string } | { t: "bye" };

/** The file behind a proxied URL; length and type undefined until learnt from the origin. */
export type ProxiedFile = { url: string; length?: number; type?: string; engine: string };

/** A file whose length and type are known. */
export type KnownFile = ProxiedFile & { length: number; type: string };

const PATH = "swarmcast-media/";

/** The proxied URL of a file, under the worker's scope; its last path component is the file's name. */
export function proxiedUrl(scope: string, f: ProxiedFile): string {
  const name = new URL(f.url).pathname.split("/").pop() || "media";
  const u = new URL(PATH + encodeURIComponent(name), scope);
  u.searchParams.set("src", f.url);
  if (f.length !== undefined) u.searchParams.set("len", String(f.length));
  if (f.type !== undefined) u.searchParams.set("type", f.type);
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
  const len = u.searchParams.get("len");
  const length = len === null ? undefined : Number(len);
  const engine = u.searchParams.get("e");
  if (!src || !engine || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) return undefined;
  try {
    new URL(src);
  } catch {
    return undefined;
  }
  if (length === undefined) return { url: src, engine };
  return { url: src, length, type: u.searchParams.get("type") || "application/octet-stream", engine };
}
