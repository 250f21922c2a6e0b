/**
 * Which connected peer to drop for a new one when the connection limit is reached and the
 * tracker offers more: the one that delivered to us slowest, when it is clearly slower than the
 * others. Pure: callers pass the time and what they measured.
 *
 * Hysteresis keeps it from flapping: only peers connected for `minAgeMs` and measured are
 * candidates (a new peer has time to prove itself), the slowest must deliver below
 * `slowRatio` × the median of the other measured peers, and after a replacement none follows
 * for `cooldownMs`.
 */

export type PeerRate = { peerId: string; connectedAtMs: number; throughputBps?: number; busy: boolean; server: boolean };

export type ReplacementConfig = { minAgeMs: number; slowRatio: number; cooldownMs: number };

export const DEFAULT_REPLACEMENT: ReplacementConfig = { minAgeMs: 20_000, slowRatio: 0.5, cooldownMs: 30_000 };

export function peerToReplace(peers: PeerRate[], nowMs: number, lastReplacedAtMs: number | undefined, cfg: ReplacementConfig = DEFAULT_REPLACEMENT): string | undefined {
  if (lastReplacedAtMs !== undefined && nowMs - lastReplacedAtMs < cfg.cooldownMs) return undefined;
  const measured = peers.filter((p) => p.throughputBps !== undefined && Number.isFinite(p.throughputBps));
  if (measured.length < 2) return undefined;
  const candidates = measured.filter((p) => !p.busy && !p.server && nowMs - p.connectedAtMs >= cfg.minAgeMs);
  if (!candidates.length) return undefined;
  const slowest = candidates.reduce((a, b) => ((b.throughputBps as number) < (a.throughputBps as number) ? b : a));
  const others = measured.filter((p) => p !== slowest).map((p) => p.throughputBps as number).sort((a, b) => a - b);
  const median = others.length % 2 ? (others[(others.length - 1) / 2] as number) : ((others[others.length / 2 - 1] as number) + (others[others.length / 2] as number)) / 2;
  return (slowest.throughputBps as number) < cfg.slowRatio * median ? slowest.peerId : undefined;
}
