import { parseBenchOptions, type RawBenchArgs } from '../../src/bench/bench-options.ts';
import type { BenchReport, TargetReport } from '../../src/bench/bench-report.ts';
import { runBench } from '../../src/bench/run-bench.ts';

/** Run a bench in-process, quietly, with short defaults suited to tests. */
export function bench(raw: RawBenchArgs): Promise<BenchReport> {
  return runBench(parseBenchOptions({ warmup: '0', duration: '1s', progress: false, ...raw }));
}

export function only(report: BenchReport, name?: string): TargetReport {
  const t = name === undefined ? report.targets[0] : report.targets.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no target ${name ?? '#0'} in the report`);
  return t;
}
