import { performance } from 'node:perf_hooks';
import type { BenchTarget } from './bench-options.ts';
import { ErrorTally } from './error-tally.ts';
import { LatencyHistogram } from './latency-histogram.ts';

/** What one round of one mode against one target needs to know. */
export interface RoundSettings {
  readonly target: BenchTarget;
  readonly connections: number;
  readonly sizeBytes: number;
  readonly ratePerSec: number;
  readonly timeoutMs: number;
  readonly durationMs: number;
}

/** Counters the progress bar reads while a round runs. */
export interface LiveCounters {
  operations: number;
  errors: number;
  bytes: number;
}

export function newLiveCounters(): LiveCounters {
  return { operations: 0, errors: 0, bytes: 0 };
}

/** What a round measured. Rounds of the same target are merged with `mergeRound`. */
export interface RoundResult {
  /** From the start of the measured window until the last operation finished. */
  elapsedMs: number;
  /** Completed exchanges (rr), connections (connect); 0 in stream mode. */
  operations: number;
  bytesSent: number;
  bytesReceived: number;
  /** rr: round trip; connect: connect + echo; stream: empty. */
  readonly latency: LatencyHistogram;
  /** connect mode only: until the TCP connection was established. */
  readonly connectLatency: LatencyHistogram;
  readonly errors: ErrorTally;
  /** Open loop: operations due by the deadline; closed loop: operations started. */
  scheduled: number;
  /** Open loop: due operations that never started because every worker was busy. */
  missed: number;
}

export function emptyRoundResult(): RoundResult {
  return {
    elapsedMs: 0,
    operations: 0,
    bytesSent: 0,
    bytesReceived: 0,
    latency: new LatencyHistogram(),
    connectLatency: new LatencyHistogram(),
    errors: new ErrorTally(),
    scheduled: 0,
    missed: 0,
  };
}

export function mergeRound(into: RoundResult, round: RoundResult): void {
  into.elapsedMs += round.elapsedMs;
  into.operations += round.operations;
  into.bytesSent += round.bytesSent;
  into.bytesReceived += round.bytesReceived;
  into.latency.add(round.latency);
  into.connectLatency.add(round.connectLatency);
  into.errors.merge(round.errors);
  into.scheduled += round.scheduled;
  into.missed += round.missed;
}

/**
 * After an error a worker waits this long before its next attempt, so a
 * dead target turns into a countable error rate rather than a connect
 * flood that starves the other workers.
 */
export const ERROR_BACKOFF_MS = 10;

/**
 * Hard cap on operations per round, far above what one process reaches in
 * a round; it only guarantees that no loop can run unbounded.
 */
export const MAX_OPERATIONS_PER_ROUND = 100_000_000;

/**
 * Shared state of one running round: the result being filled, the live
 * counters, and the count of workers still running. `done` resolves when
 * the last worker stops.
 */
export class RoundState {
  readonly settings: RoundSettings;
  readonly result: RoundResult = emptyRoundResult();
  readonly live: LiveCounters;
  readonly done: Promise<void>;
  #running = 0;
  #resolve: () => void = () => undefined;

  constructor(settings: RoundSettings, live: LiveCounters) {
    this.settings = settings;
    this.live = live;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  workerStarted(): void {
    this.#running++;
  }

  workerStopped(): void {
    this.#running--;
    if (this.#running === 0) this.#resolve();
  }

  /** One completed operation, its latency measured from `intendedMs`. */
  completed(intendedMs: number, now = performance.now()): void {
    this.result.operations++;
    this.live.operations++;
    this.result.latency.recordUs((now - intendedMs) * 1000);
  }

  error(kind: string): void {
    this.result.errors.add(kind);
    this.live.errors++;
  }

  sent(bytes: number): void {
    this.result.bytesSent += bytes;
  }

  received(bytes: number): void {
    this.result.bytesReceived += bytes;
    this.live.bytes += bytes;
  }
}

/**
 * Wait for every worker to stop, but never longer than `limitMs`: then
 * `forceStop` runs and the round ends anyway. Returns when the round ended.
 */
export async function waitBounded(
  state: RoundState,
  limitMs: number,
  forceStop: () => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      forceStop();
      resolve();
    }, limitMs);
  });
  await Promise.race([state.done, limit]);
  clearTimeout(timer);
}
