import { api, type Overview, type Channel, type TrackerNode } from '../api';
import { h, clear, shortChannel } from '../dom';
import { windowStart, formatBytes, formatPercent, p2pShare, toChartData, totals, type TrafficSeries } from '../format';
import { trafficChart, viewersChart } from '../charts';

function kpi(label: string, value: string, hint?: string, tone = ''): HTMLElement {
  return h('div', { class: `kpi ${tone}` }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value), hint ? h('div', { class: 'kpi-hint' }, hint) : null);
}

export function overviewView(root: HTMLElement): { refresh: () => Promise<void> } {
  const kpis = h('div', { class: 'kpis' });
  const trafficHost = h('div', { class: 'chart' });
  const viewersHost = h('div', { class: 'chart' });
  const top = h('div');
  const trackers = h('div');
  root.append(
    kpis,
    h('section', { class: 'card' }, h('h2', {}, 'Delivery, last hour'), h('p', { class: 'muted' }, 'Download rate of all viewers: from peers (P2P) and from the CDN (HTTP).'), trafficHost),
    h('section', { class: 'card' }, h('h2', {}, 'Viewers and P2P share'), viewersHost),
    h('section', { class: 'card' }, h('h2', {}, 'Hottest channels'), top),
    h('section', { class: 'card' }, h('h2', {}, 'Tracker nodes'), h('p', { class: 'muted' }, 'Each tracker the console polls, with its own load. Nodes of one cluster share their swarms: the totals above count them once.'), trackers),
  );
  async function refresh(): Promise<void> {
    const [ov, tr, ch] = await Promise.all([
      api<Overview>('GET', '/overview'),
      api<{ series: TrafficSeries }>('GET', '/traffic?range=3600'),
      api<{ channels: Channel[] }>('GET', '/channels'),
    ]);
    const t = totals(tr.series);
    const now = Math.floor(Date.now() / 1000);
    clear(kpis);
    kpis.append(
      kpi('Viewers now', String(ov.viewers), `${ov.channels} channel${ov.channels === 1 ? '' : 's'}`),
      kpi('P2P share, 1 h', formatPercent(p2pShare(t.http, t.p2p)), `${formatBytes(t.p2p)} from peers`, 'accent'),
      kpi('CDN bytes, 1 h', formatBytes(t.http), 'HTTP fallback and first loads'),
      kpi('Super peers', `${ov.super_peers_running} / ${ov.super_peers}`, `${ov.workers} worker${ov.workers === 1 ? '' : 's'} seeding`, ov.super_peers_running < ov.super_peers ? 'warn' : ''),
    );
    if (ov.tracker_errors.length) kpis.append(h('div', { class: 'banner error' }, `Tracker unreachable: ${ov.tracker_errors.join('; ')}`));
    if (ov.tracker_node_errors.length) kpis.append(h('div', { class: 'banner warn' }, `Tracker node unreachable (its cluster still answers): ${ov.tracker_node_errors.join('; ')}`));
    renderTrackers(trackers, ov.tracker_nodes);
    const data = toChartData(tr.series, windowStart(tr.series, now, 3600), now);
    trafficChart(trafficHost, data);
    viewersChart(viewersHost, data);
    clear(top);
    const list = ch.channels.slice(0, 5);
    if (!list.length) top.append(h('p', { class: 'empty' }, 'No channel is being watched right now.'));
    for (const c of list) {
      const share = p2pShare(c.http_bytes, c.p2p_bytes);
      top.append(
        h('div', { class: 'bar-row' },
          h('div', { class: 'bar-label', title: c.channel }, shortChannel(c.channel)),
          h('div', { class: 'bar' }, h('div', { class: 'bar-fill', style: `width:${Math.max(4, (100 * c.viewers) / Math.max(1, list[0].viewers))}%` })),
          h('div', { class: 'bar-value' }, `${c.viewers} · ${formatPercent(share)} P2P`),
        ),
      );
    }
  }
  return { refresh };
}

function renderTrackers(host: HTMLElement, nodes: TrackerNode[]): void {
  clear(host);
  if (!nodes.length) {
    host.append(h('p', { class: 'empty' }, 'No tracker answered.'));
    return;
  }
  const rows = nodes.map((n) => h('tr', { 'data-testid': 'tracker-node' },
    h('td', { 'data-label': 'Tracker', class: 'wide' }, n.url),
    h('td', { 'data-label': 'Cluster' }, n.cluster ? `${n.cluster.slice(0, 8)} · node ${(n.node ?? '').slice(0, 8)}` : h('span', { class: 'muted' }, 'on its own')),
    h('td', { 'data-label': 'Redis' }, n.connected === null ? '—' : n.connected ? 'connected' : h('span', { class: 'tag stop' }, 'unreachable: local peers only')),
    h('td', { 'data-label': 'Peers', class: 'num' }, n.peers),
    h('td', { 'data-label': 'Connections', class: 'num' }, n.connections ?? '—'),
    h('td', { 'data-label': 'Messages/s', class: 'num' }, n.messages_per_s === null ? '—' : n.messages_per_s.toFixed(1)),
  ));
  host.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, ...['Tracker', 'Cluster', 'Redis', 'Peers', 'Connections', 'Messages/s'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows),
  )));
}
