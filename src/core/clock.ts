import { performance } from 'node:perf_hooks';

/**
 * Time source, injected so strategies and health checks can be tested on a
 * fake clock. `nowMs` is monotonic (for durations); `wallMs` is epoch time
 * (for what humans read). The one shape for time in Headway: lint bans
 * `Date.now`, `performance.now` and `Math.random` in the logic folders, so
 * this file is where the real ones are read (eslint.config.js).
 */
export interface Clock {
  nowMs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** Uniform in [0, 1), injected like the clock so that tests can seed it. */
export type Random = () => number;

export const systemRandom: Random = Math.random;
