import type { Backend } from '../backends/backend.ts';
import type { BackendPool } from '../backends/backend-pool.ts';
import {
  countedFiguresOf,
  countsOf,
  type BackendFigures,
  type CountedFigures,
  type FigureSource,
  type OutcomeCounts,
} from '../admin/backends-report.ts';
import { mergeBackendLatency, type EncodedBackendLatency } from '../metrics/latency.ts';

/**
 * With `--workers`, connections are relayed, counted and timed in the worker
 * threads while `/backends` is served by the main thread. Each worker sends
 * what it counted per backend (on request, when `/backends` or `/metrics`
 * is read); the main thread adds them up, so the admin API shows the same
 * traffic as the merged metrics.
 */

/** One backend's figures in one worker thread (structured-clone friendly). */
export interface WorkerBackendFigures extends CountedFigures {
  /** Histograms, compressed: percentiles of several threads cannot be added, histograms can. */
  readonly latency: EncodedBackendLatency | null;
}

export interface WorkerListenerFigures {
  readonly withoutBackend: OutcomeCounts;
  readonly backends: Readonly<Record<string, WorkerBackendFigures>>;
}

/** Everything one worker counted, by listener name. */
export type WorkerFigures = Readonly<Record<string, WorkerListenerFigures>>;

/** What a worker reads its figures from: its listeners. */
export interface FigureListener {
  readonly name: string;
  readonly pool: BackendPool;
  readonly clock: { nowMs(): number };
}

/** Worker side: this thread's figures, per listener and backend. */
export function collectFigures(listeners: Iterable<FigureListener>): WorkerFigures {
  const out: Record<string, WorkerListenerFigures> = {};
  for (const l of listeners) {
    const nowMs = l.clock.nowMs();
    const backends: Record<string, WorkerBackendFigures> = {};
    for (const b of l.pool.backends()) backends[b.id] = backendFigures(b, nowMs);
    const previous = out[l.name];
    // A reload can leave an old listener of the same name draining: its counts add up too.
    out[l.name] =
      previous === undefined
        ? { withoutBackend: countsOf(l.pool.listenerMetrics.outcomesWithoutBackend?.()), backends }
        : {
            withoutBackend: previous.withoutBackend,
            backends: { ...backends, ...previous.backends },
          };
  }
  return out;
}

function backendFigures(b: Backend, nowMs: number): WorkerBackendFigures {
  return {
    ...countedFiguresOf(b, nowMs),
    latency: b.latency === null ? null : b.latency.export(nowMs),
  };
}

function addCounts(into: Record<string, number>, from: OutcomeCounts): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** Main side: one listener's figures, every worker's added up. */
export function mergedFigures(listener: string, workers: readonly WorkerFigures[]): FigureSource {
  const parts = workers.map((w) => w[listener]).filter((l) => l !== undefined);
  return {
    withoutBackend: () => {
      const sum: Record<string, number> = {};
      for (const p of parts) addCounts(sum, p.withoutBackend);
      return sum;
    },
    backend: (b) =>
      mergeBackend(
        parts.map((p) => p.backends[b.id]).filter((f) => f !== undefined),
        b,
      ),
  };
}

/**
 * The workers' figures of `own` (the main thread's backend) added up.
 * Ejections are the main thread's: its outlier detection decides them for
 * every worker, which only follows.
 */
function mergeBackend(parts: readonly WorkerBackendFigures[], own: Backend): BackendFigures {
  const outcomes: Record<string, number> = {};
  let total = 0;
  let failures = 0;
  let bytesFromClient = 0;
  let bytesFromBackend = 0;
  let ejectedForMs = 0;
  let ejectedAgoMs: number | undefined;
  let ejectedBy = 0;
  const latency: EncodedBackendLatency[] = [];
  for (const f of parts) {
    total += f.total;
    failures += f.failures;
    bytesFromClient += f.bytesFromClient;
    bytesFromBackend += f.bytesFromBackend;
    addCounts(outcomes, f.outcomes);
    if (f.ejectedForMs > 0) {
      ejectedBy++;
      ejectedForMs = Math.max(ejectedForMs, f.ejectedForMs);
      if (f.ejectedAgoMs !== undefined) ejectedAgoMs = Math.max(ejectedAgoMs ?? 0, f.ejectedAgoMs);
    }
    if (f.latency !== null) latency.push(f.latency);
  }
  return {
    total,
    failures,
    bytesFromClient,
    bytesFromBackend,
    ejections: own.ejections,
    outcomes,
    ejectedForMs,
    ejectedAgoMs,
    ...(ejectedBy > 0 ? { ejectedByWorkers: ejectedBy } : {}),
    latency: latency.length > 0 ? mergeBackendLatency(latency) : null,
  };
}
