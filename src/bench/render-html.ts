import { sampled, type BenchReport, type TargetReport } from './bench-report.ts';
import { describeBench } from './render-table.ts';

const WIDTH = 900;
const HEIGHT = 460;
const MARGIN = { left: 80, right: 30, top: 20, bottom: 50 } as const;
const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
] as const;

/**
 * The `--html` page: every target's latency percentile curve in one inline
 * SVG chart plus the summary table. Self-contained (no scripts, fonts or
 * other requests), so it can be attached to an issue or opened offline.
 */
export function renderHtml(report: BenchReport): string {
  const title = describeBench(report);
  const chart =
    report.mode === 'stream'
      ? '<p>stream mode measures throughput only: there is no latency curve.</p>'
      : renderChart(report.targets);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>headway bench ${escapeHtml(report.mode)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1.5em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { font: 12px system-ui, sans-serif; fill: #444; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
</style>
</head>
<body>
<h1>headway bench ${escapeHtml(report.mode)}</h1>
<p>${escapeHtml(title)}</p>
<p>Started ${escapeHtml(report.startedAt)}, finished ${escapeHtml(report.finishedAt)}.</p>
${chart}
${renderSummary(report)}
</body>
</html>
`;
}

/** x position of a percentile: decades of `1 / (1 - p)` (90 % → 1, 99 % → 2, ...). */
function decadesOf(percentile: number): number {
  return percentile >= 100 ? Infinity : Math.log10(100 / (100 - percentile));
}

function renderChart(targets: readonly TargetReport[]): string {
  // The maximum (p100) has no finite x; it is listed in the table instead.
  const curves = targets.map((t) => t.curve.filter((p) => p.percentile < 100));
  const points = curves.flat();
  if (points.length === 0) return '<p>No latency samples were recorded.</p>';
  const xMax = Math.max(1, Math.ceil(Math.max(...points.map((p) => decadesOf(p.percentile)))));
  // Log scale: medians and tails of several targets differ by orders of magnitude.
  const values = points.map((p) => Math.max(1, p.valueUs));
  const yMinExp = Math.floor(Math.log10(Math.min(...values)));
  const yMaxExp = Math.max(yMinExp + 1, Math.ceil(Math.log10(Math.max(...values))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (d: number): number => MARGIN.left + (d / xMax) * plotW;
  const y = (us: number): number =>
    MARGIN.top + plotH - ((Math.log10(Math.max(1, us)) - yMinExp) / (yMaxExp - yMinExp)) * plotH;
  const parts: string[] = [];
  for (let d = 0; d <= xMax; d++) {
    parts.push(
      `<line x1="${x(d)}" y1="${MARGIN.top}" x2="${x(d)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`,
      `<text x="${x(d)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${percentileLabel(d)}</text>`,
    );
  }
  for (let e = yMinExp; e <= yMaxExp; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * Math.pow(10, e);
      if (e === yMaxExp && m > 1) break;
      const label =
        m === 1
          ? `<text x="${MARGIN.left - 8}" y="${round1(y(v) + 4)}" text-anchor="end">${formatUs(v)}</text>`
          : '';
      parts.push(
        `<line x1="${MARGIN.left}" y1="${round1(y(v))}" x2="${MARGIN.left + plotW}" y2="${round1(y(v))}" stroke="${m === 1 ? '#ddd' : '#f3f3f3'}"/>`,
        label,
      );
    }
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">percentile</text>`,
    `<text x="14" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">latency (log scale)</text>`,
  );
  curves.forEach((curve, i) => {
    if (curve.length === 0) return;
    const color = PALETTE[i % PALETTE.length] ?? '#000';
    const path = curve.map((p) => `${round1(x(decadesOf(p.percentile)))},${round1(y(p.valueUs))}`);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${path.join(' ')}"><title>${escapeHtml(targets[i]?.name ?? '')}</title></polyline>`,
    );
  });
  const legend = targets
    .map(
      (t, i) =>
        `<span><span class="swatch" style="background:${PALETTE[i % PALETTE.length] ?? '#000'}"></span>${escapeHtml(t.name)}</span>`,
    )
    .join(' &nbsp; ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="latency by percentile">
${parts.join('\n')}
</svg>
<p>${legend}</p>`;
}

function renderSummary(report: BenchReport): string {
  const stream = report.mode === 'stream';
  const head = stream
    ? ['target', 'sent MB/s', 'received MB/s', 'errors']
    : [
        'target',
        report.mode === 'rr' ? 'exchanges/s' : 'connections/s',
        'p50 µs',
        'p90 µs',
        'p99 µs',
        'p99.9 µs',
        'max µs',
        'errors',
      ];
  const rows = report.targets.map((t) => {
    const errors = Object.entries(t.errors.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const errorCell = t.errors.total === 0 ? '0' : `${t.errors.total} (${errors})`;
    const cells = stream
      ? [t.name, mb(t.throughput.sentBytesPerSec), mb(t.throughput.receivedBytesPerSec), errorCell]
      : [
          t.name,
          Math.round(t.throughput.operationsPerSec).toString(),
          ...latencyCells(t),
          errorCell,
        ];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table>
<tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>
${rows.join('\n')}
</table>`;
}

function latencyCells(t: TargetReport): string[] {
  const l = sampled(t.latencyUs);
  if (l === undefined) return ['-', '-', '-', '-', '-'];
  return [l.p50Us, l.p90Us, l.p99Us, l.p999Us, l.maxUs].map(String);
}

function percentileLabel(decades: number): string {
  if (decades === 0) return '0%';
  return `${trimNumber(100 - 100 / Math.pow(10, decades))}%`;
}

function formatUs(us: number): string {
  if (us >= 1_000_000) return `${trimNumber(us / 1_000_000)} s`;
  if (us >= 1000) return `${trimNumber(us / 1000)} ms`;
  return `${trimNumber(us)} µs`;
}

function trimNumber(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function mb(bytesPerSec: number): string {
  return (bytesPerSec / 1e6).toFixed(1);
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
