// uPlot charts that follow their container's width.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartData } from './format';
import { formatRate } from './format';

const COLORS = { p2p: '#6366f1', http: '#f59e0b', viewers: '#10b981', share: '#0ea5e9' };

interface Managed {
  plot: uPlot;
  observer: ResizeObserver;
}

const managed = new WeakMap<HTMLElement, Managed>();

function mount(host: HTMLElement, opts: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData): void {
  const existing = managed.get(host);
  if (existing) {
    existing.plot.setData(data);
    return;
  }
  const width = Math.max(260, host.clientWidth);
  const plot = new uPlot({ ...opts, width } as uPlot.Options, data, host);
  const observer = new ResizeObserver(() => {
    const w = Math.max(260, host.clientWidth);
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: plot.height });
  });
  observer.observe(host);
  managed.set(host, { plot, observer });
}

export function destroyChart(host: HTMLElement): void {
  const m = managed.get(host);
  if (m) {
    m.observer.disconnect();
    m.plot.destroy();
    managed.delete(host);
  }
}

const axisStyle = { stroke: '#64748b', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#e2e8f0', width: 1 } };

function area(color: string): Partial<uPlot.Series> {
  return { stroke: color, fill: `${color}33`, width: 2, points: { show: false } };
}

/** P2P and HTTP download rates, stacked: the P2P band on top of the HTTP one. */
export function trafficChart(host: HTMLElement, d: ChartData, height = 220): void {
  const stacked = d.p2pMbps.map((p, i) => (p === null ? null : p + (d.httpMbps[i] ?? 0)));
  mount(
    host,
    {
      height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { ...axisStyle, space: 80 },
        { ...axisStyle, size: 84, values: (_u, ticks) => ticks.map((v) => formatRate(v * 1e6)) },
      ],
      series: [
        {},
        { label: 'P2P', ...area(COLORS.p2p), value: (_u, _v, _s, i) => fmtMbps(d.p2pMbps[i ?? 0]) },
        { label: 'HTTP (CDN)', ...area(COLORS.http), value: (_u, v) => fmtMbps(v) },
      ],
      bands: [{ series: [1, 2], fill: `${COLORS.p2p}40` }],
    },
    [d.ts, stacked, d.httpMbps],
  );
}

function fmtMbps(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : formatRate(v * 1e6);
}

export function viewersChart(host: HTMLElement, d: ChartData, height = 180): void {
  mount(
    host,
    {
      height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil(max * 1.2))] },
        pct: { range: [0, 100] },
      },
      axes: [
        { ...axisStyle, space: 80 },
        { ...axisStyle, size: 44 },
        { ...axisStyle, scale: 'pct', side: 1, size: 44, grid: { show: false }, values: (_u, t) => t.map((v) => `${v}%`) },
      ],
      series: [
        {},
        { label: 'Viewers', stroke: COLORS.viewers, width: 2, fill: `${COLORS.viewers}22`, points: { show: false } },
        { label: 'P2P share', stroke: COLORS.share, width: 1.5, dash: [6, 4], scale: 'pct', points: { show: false }, value: (_u, v) => (v === null ? '–' : `${Math.round(v)}%`) },
      ],
    },
    [d.ts, d.viewers, d.share],
  );
}
