import { performance } from 'node:perf_hooks';

/**
 * Time source, injected so strategies and health checks can be tested on a
 * fake clock. `nowMs` is monotonic (for durations); `wallMs` is epoch time
 * (for what humans read).
 */
export interface Clock {
  nowMs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
};
