import type { BenchReport } from './bench-report.ts';

/** The `--json` document: the report as is (schema `headway-bench/v1`, described in the README). */
export function renderJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
