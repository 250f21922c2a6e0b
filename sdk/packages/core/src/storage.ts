/** In-memory segment store with a byte limit. */

export type StoredSegment = {
  swarmId: string;
  id: number;
  data: Uint8Array;
  startTime: number;
  endTime: number;
  lastAccess: number;
};

export class MemoryStorage {
  private readonly items = new Map<string, StoredSegment>();
  private bytes = 0;
  /**
   * Each swarm's ids (newest first) and earliest end, until the swarm's next change: a swarm
   * asks on every announce, prefetch and live eviction.
   */
  private readonly summaries = new Map<string, { ids: readonly number[]; earliestEnd: number }>();

  constructor(public limitBytes: number) {}

  static key(swarmId: string, id: number): string {
    return `${swarmId}|${id}`;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  get(swarmId: string, id: number, now = Date.now()): Uint8Array | undefined {
    const s = this.items.get(MemoryStorage.key(swarmId, id));
    if (s) s.lastAccess = now;
    return s?.data;
  }

  has(swarmId: string, id: number): boolean {
    return this.items.has(MemoryStorage.key(swarmId, id));
  }

  /** The swarm's segment ids, newest first: the ids most worth announcing. */
  ids(swarmId: string): readonly number[] {
    return this.summary(swarmId).ids;
  }

  private summary(swarmId: string): { ids: readonly number[]; earliestEnd: number } {
    let sum = this.summaries.get(swarmId);
    if (!sum) {
      const ids: number[] = [];
      let earliestEnd = Infinity;
      for (const s of this.items.values()) {
        if (s.swarmId !== swarmId) continue;
        ids.push(s.id);
        earliestEnd = Math.min(earliestEnd, s.endTime);
      }
      sum = { ids: ids.sort((a, b) => b - a), earliestEnd };
      this.summaries.set(swarmId, sum);
    }
    return sum;
  }

  /**
   * Stores a segment, then evicts until under the limit: first what `evictable` marks (behind
   * the playhead), least recently used first, then anything else LRU. Returns evicted entries.
   */
  put(seg: Omit<StoredSegment, "lastAccess">, evictable: (s: StoredSegment) => boolean = () => false, now = Date.now()): StoredSegment[] {
    const key = MemoryStorage.key(seg.swarmId, seg.id);
    const old = this.items.get(key);
    if (old) this.bytes -= old.data.length;
    this.items.set(key, { ...seg, lastAccess: now });
    this.bytes += seg.data.length;
    this.summaries.delete(seg.swarmId);
    const evicted: StoredSegment[] = [];
    if (this.bytes <= this.limitBytes) return evicted;
    const byAge = [...this.items.values()].filter((s) => s !== this.items.get(key)).sort((a, b) => a.lastAccess - b.lastAccess);
    const order = [...byAge.filter(evictable), ...byAge.filter((s) => !evictable(s))];
    for (const s of order) {
      if (this.bytes <= this.limitBytes) break;
      this.delete(s.swarmId, s.id);
      evicted.push(s);
    }
    return evicted;
  }

  /** Removes the swarm's segments that end before `time` (seconds); returns them. */
  evictEndedBefore(swarmId: string, time: number): StoredSegment[] {
    const out: StoredSegment[] = [];
    if (!(this.summary(swarmId).earliestEnd < time)) return out;
    for (const s of [...this.items.values()]) {
      if (s.swarmId === swarmId && s.endTime < time) {
        this.delete(s.swarmId, s.id);
        out.push(s);
      }
    }
    return out;
  }

  delete(swarmId: string, id: number): void {
    const key = MemoryStorage.key(swarmId, id);
    const s = this.items.get(key);
    if (!s) return;
    this.bytes -= s.data.length;
    this.items.delete(key);
    this.summaries.delete(swarmId);
  }

  clear(): void {
    this.items.clear();
    this.summaries.clear();
    this.bytes = 0;
  }
}
