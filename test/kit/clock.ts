import type { Clock } from '../../src/core/clock.ts';

/** Epoch milliseconds that `wallMs()` reports at monotonic time 0 (late 2023, any fixed date would do). */
export const MANUAL_CLOCK_EPOCH_MS = 1_700_000_000_000;

/** A clock that moves only when a test tells it to. */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(nowMs = 0) {
    this.#nowMs = nowMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  wallMs(): number {
    return MANUAL_CLOCK_EPOCH_MS + this.#nowMs;
  }

  advance(ms: number): void {
    this.#nowMs += ms;
  }

  /** Jump to a monotonic time (forwards or, to test a misbehaving source, backwards). */
  set(nowMs: number): void {
    this.#nowMs = nowMs;
  }
}
