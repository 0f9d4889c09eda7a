/** One step of a bench: a warm-up or a measured round of one target. */
export interface BenchStep {
  readonly kind: 'warmup' | 'measure';
  /** Index into the target list. */
  readonly target: number;
  /** 0-based round number (warm-ups are round 0). */
  readonly round: number;
  readonly durationMs: number;
}

export interface ScheduleOptions {
  readonly targets: number;
  readonly rounds: number;
  /** Measured time per target, split evenly over the rounds. */
  readonly durationMs: number;
  /** Per target; 0 = no warm-up. */
  readonly warmupMs: number;
}

/**
 * The order a bench runs in: every target's warm-up, then the measured
 * rounds interleaved (A B C A B C ...), so drift in the machine (thermal,
 * noisy neighbours, page cache) lands on every target alike instead of on
 * whichever ran last.
 */
export function planSteps(opts: ScheduleOptions): BenchStep[] {
  const steps: BenchStep[] = [];
  if (opts.warmupMs > 0) {
    for (let t = 0; t < opts.targets; t++) {
      steps.push({ kind: 'warmup', target: t, round: 0, durationMs: opts.warmupMs });
    }
  }
  const roundMs = opts.durationMs / opts.rounds;
  for (let r = 0; r < opts.rounds; r++) {
    for (let t = 0; t < opts.targets; t++) {
      steps.push({ kind: 'measure', target: t, round: r, durationMs: roundMs });
    }
  }
  return steps;
}
