// Number formatting and series arithmetic shared by the views (pure, unit-tested).

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Bits per second, as people say it (kbps, Mbps, Gbps). */
export function formatRate(bitsPerSecond: number): string {
  if (!Number.isFinite(bitsPerSecond) || bitsPerSecond < 0) return '–';
  const units = ['bps', 'kbps', 'Mbps', 'Gbps', 'Tbps'];
  let v = bitsPerSecond;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Share of P2P in all bytes downloaded, 0..100, or null when nothing was downloaded. */
export function p2pShare(httpBytes: number, p2pBytes: number): number | null {
  const total = httpBytes + p2pBytes;
  return total > 0 ? (100 * p2pBytes) / total : null;
}

export function formatPercent(p: number | null): string {
  return p === null ? '–' : `${p >= 10 ? Math.round(p) : p.toFixed(1)}%`;
}

/** "12 s ago" style age of a unix timestamp, relative to `now` (unix seconds). */
export function formatAgo(ts: number, now: number): string {
  if (!ts) return 'never';
  const d = Math.max(0, now - ts);
  return d < 5 ? 'just now' : `${formatDuration(d)} ago`;
}

export interface TrafficSeries {
  channel: string;
  step_secs: number;
  ts: number[];
  viewers: number[];
  http_bytes: number[];
  p2p_bytes: number[];
  upload_bytes: number[];
  rebuffers: number[];
}

export interface ChartData {
  ts: number[];
  viewers: (number | null)[];
  httpMbps: (number | null)[];
  p2pMbps: (number | null)[];
  share: (number | null)[];
}

/**
 * Turns bucket totals into rates for charts. Missing buckets become gaps (null) so a chart
 * does not draw a line across an outage; the time axis stays evenly spaced.
 */
export function toChartData(s: TrafficSeries, since: number, until: number): ChartData {
  const step = Math.max(1, s.step_secs);
  const out: ChartData = { ts: [], viewers: [], httpMbps: [], p2pMbps: [], share: [] };
  const byTs = new Map<number, number>();
  s.ts.forEach((t, i) => byTs.set(t, i));
  const start = since - (since % step);
  for (let t = start; t <= until; t += step) {
    out.ts.push(t);
    const i = byTs.get(t);
    if (i === undefined) {
      out.viewers.push(null);
      out.httpMbps.push(null);
      out.p2pMbps.push(null);
      out.share.push(null);
      continue;
    }
    out.viewers.push(s.viewers[i]);
    out.httpMbps.push((s.http_bytes[i] * 8) / step / 1e6);
    out.p2pMbps.push((s.p2p_bytes[i] * 8) / step / 1e6);
    out.share.push(p2pShare(s.http_bytes[i], s.p2p_bytes[i]));
  }
  return out;
}

/** Totals of a series: bytes and the peak of viewers. */
export function totals(s: TrafficSeries): { http: number; p2p: number; upload: number; peakViewers: number } {
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return {
    http: sum(s.http_bytes),
    p2p: sum(s.p2p_bytes),
    upload: sum(s.upload_bytes),
    peakViewers: s.viewers.reduce((x, y) => Math.max(x, y), 0),
  };
}

/**
 * Start of the chart window: the whole range once history fills it, else from the first
 * point (with at least `minSecs` shown), so a young history is not a sliver at the edge.
 */
export function windowStart(s: TrafficSeries, now: number, range: number, minSecs = 600): number {
  const full = now - range;
  if (!s.ts.length) return Math.max(full, now - minSecs);
  return Math.max(full, Math.min(s.ts[0] - s.step_secs, now - minSecs));
}

/**
 * What the operator reads after stopping a worker: with automatic seeding on, a channel still
 * watched gets a new worker at the next round.
 */
export function stoppedMessage(pid: number, channel: string, seeding: { auto: boolean; interval_secs: number } | null): string {
  if (!seeding?.auto) return `Worker ${pid} stopped`;
  return `Worker ${pid} stopped: automatic seeding starts ${channel} again within ${Math.ceil(seeding.interval_secs)} s while it is watched`;
}

/**
 * What went wrong for a channel's viewers, in words: player errors by where the segment came
 * from, and segments from peers that failed integrity checks. Empty when nothing did.
 */
export function describeProblems(q: { errors_http: number; errors_peer: number; errors_superpeer: number; bad_segments: number; banned_peers: number }): string {
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  const parts: string[] = [];
  const errors = q.errors_http + q.errors_peer + q.errors_superpeer;
  if (errors) {
    const by = [
      q.errors_http ? `HTTP ${q.errors_http}` : '',
      q.errors_peer ? `peers ${q.errors_peer}` : '',
      q.errors_superpeer ? `super peers ${q.errors_superpeer}` : '',
    ].filter(Boolean);
    parts.push(`${plural(errors, 'player error')} (${by.join(', ')})`);
  }
  if (q.bad_segments) parts.push(`${plural(q.bad_segments, 'bad segment')} from peers`);
  if (q.banned_peers) parts.push(`${plural(q.banned_peers, 'peer')} banned`);
  return parts.join(' · ');
}

/** A QoE figure with the number of viewers it rests on: "850 ms · 3 viewers", "– · 0 viewers". */
export function qoeFigure(value: number | null, kind: 'ms' | 'ratio' | 'kbps', viewers: number): string {
  const basis = `${viewers} viewer${viewers === 1 ? '' : 's'}`;
  if (value === null || !Number.isFinite(value)) return `– · ${basis}`;
  const text = kind === 'ms' ? (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`) : kind === 'ratio' ? formatPercent(100 * value) : formatRate(value * 1000);
  return `${text} · ${basis}`;
}
