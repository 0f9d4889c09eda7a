import { performance } from 'node:perf_hooks';
import { createPacer, type PacedWorker, type Pacer } from './pacer.ts';
import {
  MAX_OPERATIONS_PER_ROUND,
  RoundState,
  waitBounded,
  type RoundResult,
  type RoundSettings,
} from './round.ts';

/** Extra time a round may take past its deadline (and, when paced, `--timeout`) for in-flight work. */
export const ROUND_GRACE_MS = 1000;

/** A worker of one round: `stop` closes it for good. */
export interface RoundWorker {
  stop(): void;
}

/** A worker that connects ahead of the round, so the clock measures the work rather than handshakes. */
export interface OpenableWorker extends RoundWorker {
  /** Resolves when connected or failed (failures are counted). */
  open(): Promise<void>;
}

/** A worker driven by the round's pacer, which it is handed when the clock starts. */
export interface PacedRoundWorker extends PacedWorker {
  pacer: Pacer | undefined;
}

/** The bytes every operation of a round sends. */
export function roundPayload(settings: RoundSettings): Buffer {
  return Buffer.alloc(settings.sizeBytes, 0x61);
}

/** One worker per `settings.connections`. */
export function createWorkers<W>(settings: RoundSettings, create: () => W): W[] {
  const workers: W[] = [];
  for (let i = 0; i < settings.connections; i++) workers.push(create());
  return workers;
}

/** One worker per `settings.connections`, all opened before this resolves. */
export async function openWorkers<W extends OpenableWorker>(
  settings: RoundSettings,
  create: () => W,
): Promise<W[]> {
  const workers = createWorkers(settings, create);
  await Promise.all(workers.map((w) => w.open()));
  return workers;
}

export function stopWorkers(workers: readonly RoundWorker[]): void {
  for (const w of workers) w.stop();
}

/**
 * Run a paced round (rr, connect): start the clock and a pacer, hand it to
 * every worker, then wait for them all to stop, at most past the deadline
 * by `--timeout` and `ROUND_GRACE_MS`, before stopping them by force.
 */
export async function runPacedRound(
  state: RoundState,
  workers: readonly PacedRoundWorker[],
): Promise<RoundResult> {
  const { settings } = state;
  const startMs = performance.now();
  const pacer = createPacer({
    startMs,
    deadlineMs: startMs + settings.durationMs,
    maxOperations: MAX_OPERATIONS_PER_ROUND,
    ratePerSec: settings.ratePerSec,
  });
  for (const w of workers) {
    w.pacer = pacer;
    state.workerStarted();
  }
  for (const w of workers) pacer.request(w);
  await waitBounded(state, settings.durationMs + settings.timeoutMs + ROUND_GRACE_MS, () => {
    pacer.stopAll();
    stopWorkers(workers);
  });

  const result = state.result;
  result.elapsedMs = performance.now() - startMs;
  result.scheduled = pacer.scheduled;
  result.missed = Math.max(0, pacer.scheduled - pacer.started);
  return result;
}
