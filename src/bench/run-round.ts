import type { BenchMode } from './bench-options.ts';
import { runConnectRound } from './connect-runner.ts';
import type { LiveCounters, RoundResult, RoundSettings } from './round.ts';
import { runRrRound } from './rr-runner.ts';
import { runStreamRound } from './stream-runner.ts';

/** Run one round of `mode`; errors are counted in the result, never thrown. */
export function runRound(
  mode: BenchMode,
  settings: RoundSettings,
  live: LiveCounters,
): Promise<RoundResult> {
  switch (mode) {
    case 'rr':
      return runRrRound(settings, live);
    case 'stream':
      return runStreamRound(settings, live);
    case 'connect':
      return runConnectRound(settings, live);
  }
}
