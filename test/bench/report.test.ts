import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../../src/bench/bench-options.ts';
import { BENCH_SCHEMA, buildReport, type BenchReport } from '../../src/bench/bench-report.ts';
import { renderHtml } from '../../src/bench/render-html.ts';
import { renderJson } from '../../src/bench/render-json.ts';
import { renderTable } from '../../src/bench/render-table.ts';
import { emptyRoundResult, type RoundResult } from '../../src/bench/round.ts';

/** A round that took 1 s with `ops` exchanges of latencies `latUs` (cycled). */
function round(
  ops: number,
  latUs: readonly number[],
  errors: Record<string, number> = {},
): RoundResult {
  const r = emptyRoundResult();
  r.elapsedMs = 1000;
  r.operations = ops;
  r.bytesSent = ops * 64;
  r.bytesReceived = ops * 64;
  r.scheduled = ops;
  for (let i = 0; i < ops; i++) r.latency.recordUs(latUs[i % latUs.length] ?? 0);
  for (const [k, n] of Object.entries(errors)) r.errors.add(k, n);
  return r;
}

function sampleReport(): BenchReport {
  const opts = parseBenchOptions({
    mode: 'rr',
    target: ['direct=127.0.0.1:1', 'proxy=127.0.0.1:2', 'dead=127.0.0.1:3'],
    duration: '1s',
    warmup: '0',
    progress: false,
  });
  const [a, b, c] = opts.targets;
  if (a === undefined || b === undefined || c === undefined) throw new Error('targets');
  return buildReport(
    opts,
    [
      { target: a, rounds: 5, result: round(10_000, [100, 200]) },
      { target: b, rounds: 5, result: round(5_000, [200, 400], { ECONNRESET: 3 }) },
      { target: c, rounds: 5, result: round(0, [], { ECONNREFUSED: 7 }) },
    ],
    new Date('2025-01-01T00:00:00Z'),
    new Date('2025-01-01T00:00:05Z'),
  );
}

describe('bench report', () => {
  it('has the documented JSON shape', () => {
    const doc = JSON.parse(renderJson(sampleReport())) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(
      ['finishedAt', 'mode', 'schema', 'settings', 'startedAt', 'targets'].sort(),
    );
    expect(doc.schema).toBe(BENCH_SCHEMA);
    expect(doc.settings).toEqual({
      connections: 10,
      durationMs: 1000,
      warmupMs: 0,
      sizeBytes: 64,
      ratePerSec: 0,
      rounds: 5,
      timeoutMs: 2000,
    });
    const targets = doc.targets as Record<string, unknown>[];
    expect(targets).toHaveLength(3);
    for (const t of targets) {
      expect(Object.keys(t).sort()).toEqual(
        [
          'address',
          'bytesReceived',
          'bytesSent',
          'connectLatencyUs',
          'curve',
          'errors',
          'latencyUs',
          'measuredSeconds',
          'name',
          'openLoop',
          'operations',
          'relative',
          'rounds',
          'throughput',
        ].sort(),
      );
    }
    const [direct, proxy, dead] = targets;
    expect(direct?.relative).toBeNull();
    expect(proxy?.throughput).toEqual({
      operationsPerSec: 5000,
      sentBytesPerSec: 320_000,
      receivedBytesPerSec: 320_000,
    });
    expect(proxy?.latencyUs).toMatchObject({ count: 5000, p50Us: 200, p99Us: 400, maxUs: 400 });
    expect(proxy?.relative).toEqual({ throughput: 0.5, p50: 2, p99: 2 });
    expect(proxy?.errors).toEqual({ total: 3, byKind: { ECONNRESET: 3 } });
    // No samples: nothing to compare latency with.
    expect(dead?.relative).toEqual({ throughput: 0, p50: null, p99: null });
    const curve = direct?.curve as { percentile: number; valueUs: number }[];
    expect(curve[0]).toEqual({ percentile: 0, valueUs: 100 });
    expect(curve[curve.length - 1]).toEqual({ percentile: 100, valueUs: 200 });
    const percentiles = curve.map((p) => p.percentile);
    expect([...percentiles].sort((x, y) => x - y)).toEqual(percentiles);
  });

  it('renders a side-by-side table with ratios to the first target', () => {
    const text = renderTable(sampleReport());
    const lines = text.split('\n');
    expect(lines[0]).toContain('headway bench rr');
    expect(lines[2]).toMatch(/direct\s+proxy\s+\/direct\s+dead\s+\/direct/);
    expect(text).toMatch(/exchanges\/s\s+10,000\s+5,000\s+0\.50×\s+0\s+0\.00×/);
    expect(text).toMatch(/p50 µs\s+100\s+200\s+2\.00×\s+-/);
    expect(text).toMatch(/ {2}ECONNREFUSED\s+0\s+0\s+7/);
    expect(text).toMatch(/ {2}ECONNRESET\s+0\s+3\s+0/);
  });

  it('renders a self-contained HTML page with one curve per target that has samples', () => {
    const html = renderHtml(sampleReport());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<svg');
    expect(html.match(/<polyline /g)).toHaveLength(2);
    // Nothing fetched from elsewhere.
    expect(html).not.toMatch(/<script|<link|src=|url\(/);
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toContain('http');
    expect(html).toContain('ECONNREFUSED 7');
  });

  it('escapes target names in HTML', () => {
    const report = sampleReport();
    const named = { ...report, targets: report.targets.map((t) => ({ ...t, name: '<b>&' })) };
    expect(renderHtml(named)).not.toContain('<b>&');
  });
});
