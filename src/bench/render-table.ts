import { formatDurationMs } from '../core/duration.ts';
import { ratio, sampled, type BenchReport, type TargetReport } from './bench-report.ts';
import type { LatencySummary } from './latency-histogram.ts';

interface Row {
  readonly label: string;
  /** One value per target; undefined prints as "-". */
  readonly values: readonly (number | undefined)[];
  readonly format: (n: number) => string;
  /** Show `value / first` beside every target after the first. */
  readonly ratios: boolean;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

const fmtInt = (n: number): string => integer.format(n);
const fmtMB = (n: number): string => decimal.format(n / 1e6);

/**
 * The plain-text summary: one column per target, and after every target
 * but the first its ratio to the first ("0.52×"). Throughput ratios above 1
 * and latency ratios below 1 both mean "better than the first target".
 */
export function renderTable(report: BenchReport): string {
  const targets = report.targets;
  const rows = buildRows(report);
  const base = targets[0]?.name ?? '';
  const header = ['', ...targets.flatMap((t, i) => (i === 0 ? [t.name] : [t.name, `/${base}`]))];
  const lines: string[][] = [header];
  for (const row of rows) {
    const cells = [row.label];
    row.values.forEach((value, i) => {
      cells.push(value === undefined ? '-' : row.format(value));
      if (i === 0) return;
      const r = row.ratios ? ratio(value, row.values[0]) : null;
      cells.push(r === null ? '' : `${r.toFixed(2)}×`);
    });
    lines.push(cells);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const text = lines.map((cells) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  return `${describeBench(report)}\n\n${text.join('\n')}\n`;
}

/** One line saying what was measured and how (mode, load shape, durations). */
export function describeBench(report: BenchReport): string {
  const s = report.settings;
  const what =
    report.mode === 'stream'
      ? `${s.connections} connection${s.connections === 1 ? '' : 's'}, ${s.sizeBytes} B writes`
      : report.mode === 'connect'
        ? `${s.connections} at once, ${s.sizeBytes} B echo per connection`
        : `${s.connections} connection${s.connections === 1 ? '' : 's'}, ${s.sizeBytes} B exchanges`;
  const loop = s.ratePerSec > 0 ? `open loop at ${fmtInt(s.ratePerSec)}/s` : 'closed loop';
  const warm = s.warmupMs > 0 ? `, ${formatDurationMs(s.warmupMs)} warm-up` : '';
  return (
    `headway bench ${report.mode}: ${what}, ${loop}; ` +
    `${formatDurationMs(s.durationMs)} per target in ${s.rounds} round${s.rounds === 1 ? '' : 's'}${warm}`
  );
}

function buildRows(report: BenchReport): Row[] {
  const t = report.targets;
  const rows: Row[] = [];
  const add = (
    label: string,
    pick: (t: TargetReport) => number | undefined,
    format: (n: number) => string,
    ratios = true,
  ): void => {
    rows.push({ label, values: t.map(pick), format, ratios });
  };
  if (report.mode === 'stream') {
    add('sent MB/s', (x) => x.throughput.sentBytesPerSec, fmtMB);
    add('received MB/s', (x) => x.throughput.receivedBytesPerSec, fmtMB);
  } else {
    const unit = report.mode === 'rr' ? 'exchanges' : 'connections';
    add(`${unit}/s`, (x) => x.throughput.operationsPerSec, fmtInt);
    add(unit, (x) => x.operations, fmtInt, false);
    latencyRows(add, report.mode === 'rr' ? '' : 'echo ', (x) => sampled(x.latencyUs));
    if (report.mode === 'connect') {
      add('connect p50 µs', (x) => sampled(x.connectLatencyUs)?.p50Us, fmtInt);
      add('connect p99 µs', (x) => sampled(x.connectLatencyUs)?.p99Us, fmtInt);
    }
  }
  if (report.settings.ratePerSec > 0) {
    add('achieved rate/s', (x) => x.openLoop?.achievedRatePerSec, fmtInt);
    add('missed (behind)', (x) => x.openLoop?.missed, fmtInt, false);
  }
  add('errors', (x) => x.errors.total, fmtInt, false);
  const kinds = [...new Set(t.flatMap((x) => Object.keys(x.errors.byKind)))];
  for (const kind of kinds) add(`  ${kind}`, (x) => x.errors.byKind[kind] ?? 0, fmtInt, false);
  return rows;
}

function latencyRows(
  add: (
    label: string,
    pick: (t: TargetReport) => number | undefined,
    f: (n: number) => string,
  ) => void,
  prefix: string,
  pick: (t: TargetReport) => LatencySummary | undefined,
): void {
  add(`${prefix}p50 µs`, (x) => pick(x)?.p50Us, fmtInt);
  add(`${prefix}p90 µs`, (x) => pick(x)?.p90Us, fmtInt);
  add(`${prefix}p99 µs`, (x) => pick(x)?.p99Us, fmtInt);
  add(`${prefix}p99.9 µs`, (x) => pick(x)?.p999Us, fmtInt);
  add(`${prefix}max µs`, (x) => pick(x)?.maxUs, fmtInt);
}
