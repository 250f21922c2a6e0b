import { api } from '../api';
import { clear, h, shortChannel } from '../dom';
import { windowStart, formatBytes, formatPercent, p2pShare, toChartData, totals, type TrafficSeries } from '../format';
import { trafficChart, viewersChart } from '../charts';

export function trafficView(root: HTMLElement): { refresh: () => Promise<void>; select: (channel: string) => void } {
  const channelSelect = h('select', { 'aria-label': 'Channel' }, h('option', { value: '' }, 'All channels'));
  const rangeSelect = h('select', { 'aria-label': 'Range' }, h('option', { value: '3600' }, 'Last hour'), h('option', { value: '21600' }, 'Last 6 hours'), h('option', { value: '86400' }, 'Last 24 hours'));
  const summary = h('div', { class: 'kpis' });
  const trafficHost = h('div', { class: 'chart' });
  const viewersHost = h('div', { class: 'chart' });
  root.append(
    h('div', { class: 'toolbar' }, channelSelect, rangeSelect),
    summary,
    h('section', { class: 'card' }, h('h2', {}, 'P2P vs HTTP'), trafficHost),
    h('section', { class: 'card' }, h('h2', {}, 'Viewers'), viewersHost),
  );
  channelSelect.addEventListener('change', () => void refresh());
  rangeSelect.addEventListener('change', () => void refresh());
  let wanted = '';
  async function refresh(): Promise<void> {
    const channel = wanted || channelSelect.value;
    const range = Number(rangeSelect.value);
    const data = await api<{ series: TrafficSeries; channels: string[] }>('GET', `/traffic?range=${range}${channel ? `&channel=${encodeURIComponent(channel)}` : ''}`);
    const options = new Set(data.channels);
    if (channel) options.add(channel);
    clear(channelSelect);
    channelSelect.append(h('option', { value: '' }, 'All channels'), ...[...options].map((c) => h('option', { value: c, title: c }, shortChannel(c))));
    channelSelect.value = channel;
    wanted = '';
    const t = totals(data.series);
    clear(summary);
    summary.append(
      h('div', { class: 'kpi accent' }, h('div', { class: 'kpi-label' }, 'P2P share'), h('div', { class: 'kpi-value' }, formatPercent(p2pShare(t.http, t.p2p)))),
      h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, 'From peers'), h('div', { class: 'kpi-value' }, formatBytes(t.p2p))),
      h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, 'From the CDN'), h('div', { class: 'kpi-value' }, formatBytes(t.http))),
      h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, 'Peak viewers'), h('div', { class: 'kpi-value' }, String(t.peakViewers))),
    );
    const now = Math.floor(Date.now() / 1000);
    const d = toChartData(data.series, windowStart(data.series, now, range), now);
    trafficChart(trafficHost, d, 240);
    viewersChart(viewersHost, d);
  }
  return { refresh, select: (c) => { wanted = c; } };
}
