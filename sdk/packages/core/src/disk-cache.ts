/**
 * A disk cache of segments in IndexedDB, shared by every tab of the site's origin: bounded in
 * bytes, least recently used out, kept across reloads. Three object stores: `data` (the bytes),
 * `entries` (size and last use, indexed by use: marking a segment used rewrites a few bytes,
 * not the segment) and `meta` (the total). A put and the evictions it causes run in one
 * transaction, so tabs writing at once stay within the bound together.
 */

type Entry = { key: string; size: number; used: number };

const DB_VERSION = 1;

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export class DiskCache {
  private constructor(
    private readonly db: IDBDatabase,
    readonly limitBytes: number,
  ) {}

  /**
   * Opens (or creates) the cache, its bound clipped to half the origin's storage quota. Undefined
   * where IndexedDB is missing or refused (private modes): callers go on without a disk cache.
   */
  static async open(limitBytes: number, name = "swarmcast-cache"): Promise<DiskCache | undefined> {
    if (typeof indexedDB === "undefined" || !(limitBytes > 0)) return undefined;
    try {
      const quota = (await navigator.storage?.estimate?.())?.quota;
      const limit = quota ? Math.min(limitBytes, Math.floor(quota / 2)) : limitBytes;
      const open = indexedDB.open(name, DB_VERSION);
      open.onupgradeneeded = () => {
        const db = open.result;
        db.createObjectStore("data");
        db.createObjectStore("entries", { keyPath: "key" }).createIndex("used", "used");
        db.createObjectStore("meta");
      };
      return new DiskCache(await req(open), limit);
    } catch {
      return undefined;
    }
  }

  /** The bytes stored under `key` (marked used now), or undefined. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const tx = this.db.transaction(["data", "entries"], "readwrite");
    const finished = done(tx);
    const data = await req(tx.objectStore("data").get(key) as IDBRequest<ArrayBuffer | undefined>);
    const entries = tx.objectStore("entries");
    const entry = data ? await req(entries.get(key) as IDBRequest<Entry | undefined>) : undefined;
    if (entry) entries.put({ ...entry, used: Date.now() });
    await finished;
    return data ? new Uint8Array(data) : undefined;
  }

  /** Stores `data` under `key`, then drops least recently used entries until within the bound. */
  async put(key: string, data: Uint8Array): Promise<void> {
    if (data.length > this.limitBytes) return;
    const tx = this.db.transaction(["data", "entries", "meta"], "readwrite");
    const finished = done(tx);
    const [store, entries, meta] = [tx.objectStore("data"), tx.objectStore("entries"), tx.objectStore("meta")];
    let total = ((await req(meta.get("total") as IDBRequest<number | undefined>)) ?? 0) as number;
    const old = await req(entries.get(key) as IDBRequest<Entry | undefined>);
    store.put(data.slice().buffer, key);
    entries.put({ key, size: data.length, used: Date.now() } satisfies Entry);
    total += data.length - (old?.size ?? 0);
    if (total > this.limitBytes) {
      const cursor = entries.index("used").openCursor();
      await new Promise<void>((resolve, reject) => {
        cursor.onerror = () => reject(cursor.error);
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c || total <= this.limitBytes) return resolve();
          const e = c.value as Entry;
          if (e.key !== key) {
            store.delete(e.key);
            c.delete();
            total -= e.size;
          }
          c.continue();
        };
      });
    }
    meta.put(total, "total");
    await finished;
  }

  /** The keys stored that start with `prefix` (without marking anything used). */
  async keys(prefix: string): Promise<string[]> {
    const tx = this.db.transaction("entries", "readonly");
    const range = IDBKeyRange.bound(prefix, prefix + "\uffff");
    return (await req(tx.objectStore("entries").getAllKeys(range))) as string[];
  }

  /** Bytes stored now (all tabs). */
  async usedBytes(): Promise<number> {
    const tx = this.db.transaction("meta", "readonly");
    return ((await req(tx.objectStore("meta").get("total") as IDBRequest<number | undefined>)) ?? 0) as number;
  }

  close(): void {
    this.db.close();
  }
}
