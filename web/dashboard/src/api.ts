// The console API client: the admin token from the login form, JSON in and out.

const TOKEN_KEY = 'swarmcast-console-token';

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export function savedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T>(method: string, path: string, body?: unknown, token = savedToken()): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(`api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!resp.ok) {
    // Only an established session ends on 401; a login attempt just fails.
    if (resp.status === 401 && token !== null && token === savedToken()) onUnauthorized();
    const msg = (data as { error?: string } | null)?.error ?? `HTTP ${resp.status}`;
    throw new ApiError(resp.status, msg);
  }
  return data as T;
}

export interface Worker {
  pid: number;
  channel: string;
  label: string;
  live: boolean;
  peers: number;
  uploaded_kb: number;
  origin_kb: number;
  cpu_percent: number;
  rss_mb: number;
  uptime_secs: number;
  restarts: number;
  signal: string;
}

export interface SuperPeer {
  id: number;
  url: string;
  bandwidth_mbps: number;
  label: string;
  access_token_set: boolean;
  created_at: number;
  status: 'running' | 'stopped' | 'unknown';
  error: string | null;
  workers_limit: number | null;
  workers_running: number | null;
  workers: Worker[];
  stats_error: string | null;
  checked_at: number;
}

export interface Decision {
  id: number;
  ts: number;
  action: string;
  channel: string | null;
  super_peer_id: number | null;
  super_peer_label: string | null;
  pid: number | null;
  by: string;
  reason: string;
  ok: boolean;
  error: string | null;
}

export interface Channel {
  channel: string;
  seedable: boolean;
  info_hashes: string[];
  peers: number;
  viewers: number;
  http_bytes: number;
  p2p_bytes: number;
  upload_bytes: number;
  rebuffers: number;
  /** Viewers' player errors by segment source, segments that failed integrity checks, peers banned. */
  quality: { errors_http: number; errors_peer: number; errors_superpeer: number; bad_segments: number; banned_peers: number };
  seeded_on: { super_peer_id: number; label: string; pid: number; peers: number }[];
  last_decision: Decision | null;
}

/** The operator's channel list: URLs and indexes of URLs, and the channels read from them. */
export interface ListedChannels {
  sources: { id: number; kind: 'channel' | 'index'; url: string; added_at: number }[];
  channels: { url: string; channel: string; info_hashes: string[]; error: string | null }[];
}

export interface Seeding {
  auto: boolean;
  interval_secs: number;
  trackers: string[];
  planner: { min_viewers_to_seed: number; stop_below_viewers: number; worker_mbps: number; preempt_factor: number };
}

export interface Overview {
  super_peers: number;
  super_peers_running: number;
  workers: number;
  channels: number;
  viewers: number;
  tracker_errors: string[];
  /** Nodes of a cluster that failed while another node answered for it. */
  tracker_node_errors: string[];
  tracker_nodes: TrackerNode[];
  seeding: Seeding;
}

/** One tracker (or tracker node of a cluster) and its own load. */
export interface TrackerNode {
  url: string;
  cluster: string | null;
  node: string | null;
  connected: boolean | null;
  peers: number;
  connections: number | null;
  messages_per_s: number | null;
}

/** One group of a channel in the QoE comparison: totals, and figures with what they rest on. */
export interface QoeGroupView {
  viewers: number;
  sessions: number;
  started: number;
  played: number;
  downloaded: number;
  rebuffers: number;
  http_bytes: number;
  p2p_bytes: number;
  upload_bytes: number;
  startup_ms: number | null;
  rebuffer_ratio: number | null;
  bitrate_kbps: number | null;
  p2p_share: number | null;
}

export interface QoeChannel {
  channel: string;
  p2p: QoeGroupView;
  control: QoeGroupView;
  tags: (QoeGroupView & { group: 'p2p' | 'control'; tag: string })[];
}

export interface QoeSnapshot {
  channels: QoeChannel[];
  polled_at: number;
  errors: string[];
}
