/**
 * Durations as users write them in flags and config files: `250ms`, `5s`,
 * `1m30s`, `1h`. A bare `0` means zero; other bare numbers are refused
 * because HAProxy reads them as milliseconds and NGINX as seconds, and a
 * silent guess would be wrong for half of our users.
 */
const UNIT_MS: Readonly<Record<string, number>> = {
  us: 0.001,
  µs: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d)/y;

/** Parse a duration into milliseconds; returns undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (m === null || m.index !== start) return undefined;
    const unit = UNIT_MS[m[2] ?? ''];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
  }
  // Decimal parts are not exact in binary (1.001 * 1000 = 1000.9999999999999);
  // the smallest unit is a microsecond, so round to that.
  return Math.round(total * 1000) / 1000;
}

/** Format milliseconds back to the shortest exact form (`1500` → `1.5s`). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
