import { performance } from 'node:perf_hooks';
import type { BenchHooks } from './run-bench.ts';
import type { LiveCounters } from './round.ts';
import type { BenchStep } from './schedule.ts';

/** Redraws per second: often enough to look alive, rarely enough to cost nothing. */
const REDRAW_MS = 250;
const BAR_WIDTH = 24;

export interface ProgressOutput {
  write(text: string): unknown;
  readonly columns?: number;
}

/**
 * A one-line progress bar (time elapsed against the whole plan, current
 * step, live operations and errors), redrawn in place on a terminal and
 * erased at the end. Off a terminal it prints nothing: the summary table is
 * the output.
 */
export function progressHooks(
  out: ProgressOutput,
  targetNames: readonly string[],
  unit: string,
): BenchHooks {
  let timer: NodeJS.Timeout | undefined;
  let totalMs = 0;
  let doneMs = 0;
  let current: { step: BenchStep; live: LiveCounters; t0: number } | undefined;
  const draw = (): void => {
    if (current === undefined) return;
    const elapsed = Math.min(current.step.durationMs, performance.now() - current.t0);
    const fraction = totalMs > 0 ? Math.min(1, (doneMs + elapsed) / totalMs) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    const s = current.step;
    const what = s.kind === 'warmup' ? 'warm-up' : `round ${s.round + 1}`;
    const name = targetNames[s.target] ?? '';
    const line =
      `[${bar}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${name} ${what}  ` +
      `${current.live.operations} ${unit}  ${current.live.errors} errors`;
    // A pseudo-terminal may report 0 columns: then assume a common width.
    const columns = out.columns !== undefined && out.columns > 0 ? out.columns : 100;
    const width = Math.max(20, columns - 1);
    out.write(`\r\x1b[K${line.slice(0, width)}`);
  };
  return {
    onStep(step, index, steps, live) {
      if (index === 0) totalMs = steps.reduce((sum, s) => sum + s.durationMs, 0);
      else doneMs += steps[index - 1]?.durationMs ?? 0;
      current = { step, live, t0: performance.now() };
      draw();
      if (timer === undefined) {
        timer = setInterval(draw, REDRAW_MS);
        timer.unref();
      }
    },
    onFinish() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      out.write('\r\x1b[K');
    },
  };
}
