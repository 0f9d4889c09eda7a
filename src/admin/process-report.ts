import { buildInfo } from '../metrics/build-info.ts';
import type { ProcessReport } from './backends-report.ts';

/** Wall-clock time the process started (performance.timeOrigin is the process's start in the main thread). */
const STARTED_AT_MS = Math.round(performance.timeOrigin);

/** The process part of `GET /backends`: version, revision, start time, the report's own time. */
export function processReport(workers: number, nowWallMs: number = Date.now()): ProcessReport {
  const info = buildInfo();
  return {
    version: info.version,
    revision: info.revision,
    startedAt: new Date(STARTED_AT_MS).toISOString(),
    now: new Date(nowWallMs).toISOString(),
    workers,
  };
}
