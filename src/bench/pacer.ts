import { performance } from 'node:perf_hooks';

/** A connection (or connection slot) that runs one operation at a time. */
export interface PacedWorker {
  /** Start one operation; latency is measured from `intendedMs` (the pacer clock: `performance.now()` unless injected). */
  begin(intendedMs: number): void;
  /** No more operations: close up and report done. */
  stop(): void;
}

/**
 * Decides when workers start their next operation. Every worker calls
 * `request` when it is free; the pacer answers with `begin` (now or later)
 * or `stop` (deadline passed, or the operation cap reached). That makes
 * every worker loop bounded in both time and count.
 */
export interface Pacer {
  request(worker: PacedWorker): void;
  /** Operations handed out so far. */
  readonly started: number;
  /** Open loop: operations due by the deadline (started + missed). Closed loop: `started`. */
  readonly scheduled: number;
  /** Stop every parked worker now (hard stop at the end of a round). */
  stopAll(): void;
}

export interface PacerOptions {
  readonly startMs: number;
  readonly deadlineMs: number;
  /** Safety cap on operations per round, whatever the clock says. */
  readonly maxOperations: number;
  /** 0 = closed loop. */
  readonly ratePerSec: number;
  /** Monotonic milliseconds; injected by tests, `performance.now` otherwise. */
  readonly now?: () => number;
}

function performanceNow(): number {
  return performance.now();
}

export function createPacer(opts: PacerOptions): Pacer {
  return opts.ratePerSec > 0 ? new OpenLoopPacer(opts) : new ClosedLoopPacer(opts);
}

/** Closed loop: each free worker starts its next operation at once, until the deadline. */
export class ClosedLoopPacer implements Pacer {
  readonly #deadlineMs: number;
  readonly #max: number;
  readonly #now: () => number;
  started = 0;

  constructor(opts: PacerOptions) {
    this.#deadlineMs = opts.deadlineMs;
    this.#max = opts.maxOperations;
    this.#now = opts.now ?? performanceNow;
  }

  get scheduled(): number {
    return this.started;
  }

  request(worker: PacedWorker): void {
    const now = this.#now();
    if (now >= this.#deadlineMs || this.started >= this.#max) {
      worker.stop();
      return;
    }
    this.started++;
    worker.begin(now);
  }

  stopAll(): void {
    // No parked workers in a closed loop.
  }
}

/**
 * Within this many milliseconds of the next due operation the pacer polls
 * with setImmediate instead of a timer: Node timers have millisecond
 * granularity and often fire a millisecond late, and in an open loop that
 * lateness would be charged to the target as latency.
 */
const SPIN_WINDOW_MS = 2;

/**
 * Open loop at a fixed rate, as wrk2 does it: operation i is due at
 * `start + i / rate` whatever happened before. A due operation starts on the
 * first free worker; when none is free it waits, and its latency still
 * counts from its due time. That is the coordinated-omission correction: a
 * stalled target is charged for every operation it delayed, not just the
 * one it was serving. Operations still waiting at the deadline are `missed`.
 */
export class OpenLoopPacer implements Pacer {
  readonly #startMs: number;
  readonly #deadlineMs: number;
  readonly #intervalMs: number;
  /** Operations due before the deadline (and under the cap). */
  readonly #dueByDeadline: number;
  readonly #idle: PacedWorker[] = [];
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  started = 0;

  constructor(opts: PacerOptions) {
    this.#startMs = opts.startMs;
    this.#deadlineMs = opts.deadlineMs;
    this.#now = opts.now ?? performanceNow;
    this.#intervalMs = 1000 / opts.ratePerSec;
    const span = Math.max(0, opts.deadlineMs - opts.startMs);
    // The epsilon keeps float noise in `deadline - start` from adding a phantom operation.
    this.#dueByDeadline = Math.min(opts.maxOperations, Math.ceil(span / this.#intervalMs - 1e-6));
  }

  get scheduled(): number {
    return Math.min(this.#dueByDeadline, this.#dueAt(this.#now()));
  }

  request(worker: PacedWorker): void {
    const now = this.#now();
    if (now >= this.#deadlineMs || this.started >= this.#dueByDeadline) {
      worker.stop();
      return;
    }
    if (this.started < this.#dueAt(now)) {
      worker.begin(this.#intendedMs(this.started++));
      return;
    }
    this.#idle.push(worker);
    this.#arm(now);
  }

  stopAll(): void {
    this.#disarm();
    const idle = this.#idle.splice(0);
    for (const w of idle) w.stop();
  }

  /** How many operations are due at `nowMs` (the first is due at the start). */
  #dueAt(nowMs: number): number {
    if (nowMs < this.#startMs) return 0;
    return Math.min(
      this.#dueByDeadline,
      Math.floor((nowMs - this.#startMs) / this.#intervalMs) + 1,
    );
  }

  #intendedMs(index: number): number {
    return this.#startMs + index * this.#intervalMs;
  }

  #tick = (): void => {
    this.#timer = undefined;
    this.#immediate = undefined;
    const now = this.#now();
    if (now >= this.#deadlineMs || this.started >= this.#dueByDeadline) {
      this.stopAll();
      return;
    }
    const due = this.#dueAt(now);
    while (this.#idle.length > 0 && this.started < due) {
      const worker = this.#idle.pop() as PacedWorker;
      worker.begin(this.#intendedMs(this.started++));
    }
    if (this.#idle.length > 0) this.#arm(now);
  };

  #arm(now: number): void {
    if (this.#timer !== undefined || this.#immediate !== undefined) return;
    const next = Math.min(this.#intendedMs(this.started), this.#deadlineMs);
    const waitMs = next - now;
    if (waitMs > SPIN_WINDOW_MS) this.#timer = setTimeout(this.#tick, waitMs - SPIN_WINDOW_MS);
    else this.#immediate = setImmediate(this.#tick);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }
}
