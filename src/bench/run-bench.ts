import type { BenchOptions } from './bench-options.ts';
import { buildReport, type BenchReport, type MeasuredTarget } from './bench-report.ts';
import { emptyRoundResult, mergeRound, newLiveCounters, type LiveCounters } from './round.ts';
import { runRound } from './run-round.ts';
import { planSteps, type BenchStep } from './schedule.ts';

/** Observers of a running bench (the progress bar); all optional. */
export interface BenchHooks {
  /** Before each step; `live` fills in while the step runs. */
  onStep?(step: BenchStep, index: number, steps: readonly BenchStep[], live: LiveCounters): void;
  onFinish?(): void;
}

/**
 * Run a whole bench: warm-ups, then the interleaved measured rounds, then
 * one report with every target side by side. Never throws for target
 * failures: they are counted as errors in the report.
 */
export async function runBench(opts: BenchOptions, hooks: BenchHooks = {}): Promise<BenchReport> {
  const startedAt = new Date();
  const steps = planSteps({
    targets: opts.targets.length,
    rounds: opts.rounds,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
  });
  const measured: MeasuredTarget[] = opts.targets.map((target) => ({
    target,
    rounds: 0,
    result: emptyRoundResult(),
  }));
  try {
    for (const [index, step] of steps.entries()) {
      const target = opts.targets[step.target];
      const into = measured[step.target];
      if (target === undefined || into === undefined) continue;
      const live = newLiveCounters();
      hooks.onStep?.(step, index, steps, live);
      const result = await runRound(
        opts.mode,
        {
          target,
          connections: opts.connections,
          sizeBytes: opts.sizeBytes,
          ratePerSec: opts.ratePerSec,
          timeoutMs: opts.timeoutMs,
          durationMs: step.durationMs,
        },
        live,
      );
      if (step.kind === 'measure') {
        mergeRound(into.result, result);
        measured[step.target] = { ...into, rounds: into.rounds + 1 };
      }
    }
  } finally {
    hooks.onFinish?.();
  }
  return buildReport(opts, measured, startedAt, new Date());
}
