/**
 * Who is banned for a bad segment, as a pure ledger (the engine bans, logs and counts).
 *
 * - A segment one peer sent alone, or a part of one proven wrong, is that peer's fault: banned.
 * - A peer that shared a bad segment with other senders may be innocent: banned at the second.
 * - A peer that relayed the segment while still receiving it passed on what it was sent. An
 *   honest relay finds its own copy bad too and retracts what it relayed; a retracted segment is
 *   not held against it, before or after the failure shows here. A relay that never retracts is
 *   blamed as a sender that shared the segment, even where its part is proven wrong. Retractions excuse at most
 *   {@link MAX_EXCUSED} segments per peer, so a liar cannot keep sending bad bytes and retracting
 *   them.
 */

/** Bad segments shared with other senders (or relayed, unretracted) that get a peer banned. */
export const SHARED_BLAME_BAN = 2;
/** Bad segments a peer's retractions may excuse in a session. */
export const MAX_EXCUSED = 3;
/** Retractions remembered per peer, for failures that show after them. */
const RETRACTIONS_KEPT = 32;

export type Offence = {
  /** The segment (`swarm|id`), to match a retraction. */
  key: string;
  /** Every peer whose bytes were in it. */
  senders: string[];
  /** Each of `senders` sent wrong bytes (the parts were judged). */
  proven: boolean;
  /** The senders that relayed it to us while still receiving it. */
  relayed: ReadonlySet<string>;
};

export type Verdict = { peerId: string; ban: boolean; excused: boolean };

export class BlameLedger {
  private readonly shared = new Map<string, number>();
  private readonly excused = new Map<string, number>();
  /** Segments each peer retracted that have not failed here (yet). */
  private readonly retracted = new Map<string, string[]>();
  /** Relayed segments counted against each peer, which a late retraction may excuse. */
  private readonly relayedCounted = new Map<string, Set<string>>();

  /** A bad segment: what it means for each of its senders. */
  offence(o: Offence): Verdict[] {
    return o.senders.map((peerId) => {
      const relayed = o.relayed.has(peerId);
      if (relayed && this.takeRetraction(peerId, o.key)) return { peerId, ban: false, excused: true };
      // A relay's wrong bytes may be its sender's: even proven, they count as a shared segment.
      const own = (o.senders.length === 1 || o.proven) && !relayed;
      const count = own ? SHARED_BLAME_BAN : (this.shared.get(peerId) ?? 0) + 1;
      this.shared.set(peerId, count);
      if (relayed) this.remember(this.relayedCounted, peerId, o.key);
      return { peerId, ban: count >= SHARED_BLAME_BAN, excused: false };
    });
  }

  /**
   * The peer retracted what it relayed of segment `key`. True when that excuses a failure
   * already counted against it (one offence less).
   */
  retraction(peerId: string, key: string): boolean {
    const counted = this.relayedCounted.get(peerId);
    if (counted?.has(key)) {
      if (!this.excuse(peerId)) return false;
      counted.delete(key);
      this.shared.set(peerId, Math.max(0, (this.shared.get(peerId) ?? 0) - 1));
      return true;
    }
    const list = this.retracted.get(peerId) ?? [];
    if (!list.includes(key)) list.push(key);
    if (list.length > RETRACTIONS_KEPT) list.shift();
    this.retracted.set(peerId, list);
    return false;
  }

  private takeRetraction(peerId: string, key: string): boolean {
    const list = this.retracted.get(peerId);
    const at = list?.indexOf(key) ?? -1;
    if (!list || at < 0 || !this.excuse(peerId)) return false;
    list.splice(at, 1);
    return true;
  }

  private excuse(peerId: string): boolean {
    const n = this.excused.get(peerId) ?? 0;
    if (n >= MAX_EXCUSED) return false;
    this.excused.set(peerId, n + 1);
    return true;
  }

  private remember(m: Map<string, Set<string>>, peerId: string, key: string): void {
    const s = m.get(peerId) ?? new Set<string>();
    s.add(key);
    if (s.size > RETRACTIONS_KEPT) s.delete(s.values().next().value as string);
    m.set(peerId, s);
  }
}
