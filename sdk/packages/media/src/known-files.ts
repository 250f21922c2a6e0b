/**
 * The length and type of files this browser opened, by URL (localStorage, the newest
 * {@link MAX_FILES}). With them a returning viewer's file is proxied at once and its pieces
 * kept on disk play without a request to the origin; without them the worker's first request
 * learns them.
 */

const KEY = "swarmcast-media-files";
const MAX_FILES = 64;

export type FileFacts = { length: number; type: string };

type Stored = Record<string, FileFacts & { at: number }>;

function load(): Stored {
  try {
    const v = JSON.parse(globalThis.localStorage?.getItem(KEY) ?? "{}") as unknown;
    return v && typeof v === "object" ? (v as Stored) : {};
  } catch {
    return {}; // no storage (private mode, a worker) or a damaged entry: nothing known
  }
}

function save(s: Stored): void {
  try {
    globalThis.localStorage?.setItem(KEY, JSON.stringify(s));
  } catch {
    // storage full or refused: the next visit learns the file again
  }
}

export function knownFile(url: string): FileFacts | undefined {
  const f = load()[url];
  return f && Number.isSafeInteger(f.length) && f.length >= 0 && typeof f.type === "string" ? { length: f.length, type: f.type } : undefined;
}

export function rememberFile(url: string, facts: FileFacts): void {
  const s = load();
  s[url] = { ...facts, at: Date.now() };
  const urls = Object.keys(s).sort((a, b) => (s[b]?.at ?? 0) - (s[a]?.at ?? 0));
  for (const old of urls.slice(MAX_FILES)) delete s[old];
  save(s);
}

export function forgetFile(url: string): void {
  const s = load();
  if (!(url in s)) return;
  delete s[url];
  save(s);
}
