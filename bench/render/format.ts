/** Number and Markdown formatting shared by the report's sections. */
import type { Spread, ThroughputRatio } from './statistics.ts';

export const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function num(n: number): string {
  if (n >= 100) return int.format(n);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function withRange(s: Spread | undefined, f: (n: number) => string = num): string {
  if (s === undefined) return '–';
  if (s.n === 1 || f(s.min) === f(s.max)) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export function times(r: number | undefined): string {
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

/** The range of per-run ratios: "1.02×–1.09×", or the one ratio when there was one run. */
export function ratioRange(p: Spread | undefined): string {
  if (p === undefined) return '–';
  const [lo, hi] = [times(p.min), times(p.max)];
  return lo === hi ? lo : `${lo}–${hi}`;
}

export function ratioCell(r: ThroughputRatio, cpu: number | undefined): string {
  if (r.value === undefined) return '–';
  if (r.bound) return `**${times(r.value)}**`;
  const cpuText = cpu === undefined ? '' : `; CPU/op ${times(cpu)}`;
  return `load-bound (seen ${times(r.value)}${cpuText})`;
}

export function signedPct(r: number): string {
  const pct = (r - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %`;
}

export function mdEscape(s: string): string {
  return s.replaceAll('|', '\\|');
}
