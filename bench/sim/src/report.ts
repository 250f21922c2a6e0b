/** A run's figures as a text table, and curves as a small SVG line plot. */
import type { Result } from "./sim.js";

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "-");

export const HEADER = "| run | viewers (sessions) | origin MB | origin copies/segment (steady) | P2P share | startup p50 / p95 ms | rebuffer ratio | upload/download per viewer mean (p95, max) | bytes dropped / uploaded | peers | wall s |";

export function row(r: Result): string {
  const u = r.uploadRatio;
  return `| ${r.scenario.name} | ${r.scenario.viewers} (${r.sessions}) | ${f(r.originBytes / 1e6, 1)} | ${f(r.originCopiesPerSegment, 2)}${r.steadyCopiesPerSegment === undefined ? "" : ` (${f(r.steadyCopiesPerSegment, 2)})`} | ${f(r.p2pShare)} | ${f(r.startupMedianMs, 0)} / ${f(r.startupP95Ms, 0)} | ${f(r.rebufferRatio, 4)} | ${f(u.mean, 2)} (${f(u.p95, 2)}, ${f(u.max, 2)}) | ${f(r.uploadedBytes ? r.droppedBytes / r.uploadedBytes : NaN, 2)} | ${f(r.meanPeers, 1)} | ${f(r.wallSeconds, 1)} |`;
}

export function table(rs: Result[]): string {
  return [HEADER, "|" + "---|".repeat(11), ...rs.map(row)].join("\n");
}

export type Series = { name: string; points: [number, number][] };

/** Lines over a log10 x axis; `yLog` for a log y axis. */
export function svgPlot(title: string, xLabel: string, yLabel: string, series: Series[], yLog = false): string {
  const W = 600, H = 320, L = 60, R = 190, T = 30, B = 45;
  const xs = series.flatMap((s) => s.points.map((p) => Math.log10(p[0])));
  const tx = (v: number) => (yLog ? Math.log10(Math.max(1e-3, v)) : v);
  const ys = series.flatMap((s) => s.points.map((p) => tx(p[1])));
  const x0 = Math.floor(Math.min(...xs)), x1 = Math.ceil(Math.max(...xs));
  const y0 = yLog ? Math.floor(Math.min(...ys)) : 0, y1 = yLog ? Math.ceil(Math.max(...ys)) : Math.max(...ys) * 1.1 || 1;
  const px = (x: number) => L + ((Math.log10(x) - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R);
  const py = (y: number) => H - B - ((tx(y) - y0) / Math.max(1e-9, y1 - y0)) * (H - T - B);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"];
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="${W / 2 - R / 2}" y="16" text-anchor="middle" font-size="13">${title}</text>`);
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`);
  for (let e = x0; e <= x1; e++) out.push(`<text x="${px(10 ** e)}" y="${H - B + 15}" text-anchor="middle">${10 ** e}</text>`);
  const yt = yLog ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : Array.from({ length: 6 }, (_, i) => (y1 * i) / 5);
  for (const v of yt) out.push(`<text x="${L - 5}" y="${py(v) + 4}" text-anchor="end">${+v.toPrecision(2)}</text><line x1="${L}" x2="${W - R}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${xLabel}</text>`);
  out.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  series.forEach((s, i) => {
    const c = colors[i % colors.length];
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`);
    out.push(`<text x="${W - R + 10}" y="${T + 14 * i + 10}" fill="${c}">${s.name}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}
