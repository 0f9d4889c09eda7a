import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { createPacer, type PacedWorker, type Pacer } from '../../src/bench/pacer.ts';

/** A worker whose operations take `busyMs`; records when each was due and when it began. */
class FakeWorker implements PacedWorker {
  readonly begun: { intendedMs: number; atMs: number }[] = [];
  stopped = false;
  pacer: Pacer | undefined;
  readonly #busyMs: number;
  readonly #onStop: () => void;

  constructor(busyMs: number, onStop: () => void) {
    this.#busyMs = busyMs;
    this.#onStop = onStop;
  }

  begin(intendedMs: number): void {
    this.begun.push({ intendedMs, atMs: performance.now() });
    setTimeout(() => this.pacer?.request(this), this.#busyMs);
  }

  stop(): void {
    this.stopped = true;
    this.#onStop();
  }
}

async function drive(opts: { rate: number; workers: number; busyMs: number; durationMs: number }) {
  const startMs = performance.now();
  const pacer = createPacer({
    startMs,
    deadlineMs: startMs + opts.durationMs,
    maxOperations: 1_000_000,
    ratePerSec: opts.rate,
  });
  let running = opts.workers;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const workers = Array.from(
    { length: opts.workers },
    () => new FakeWorker(opts.busyMs, () => --running === 0 && done()),
  );
  for (const w of workers) w.pacer = pacer;
  for (const w of workers) pacer.request(w);
  await finished;
  const begun = workers.flatMap((w) => w.begun).sort((a, b) => a.intendedMs - b.intendedMs);
  return { pacer, startMs, begun, workers };
}

describe('open-loop pacer', () => {
  it('starts operation i at start + i / rate', async () => {
    const { pacer, startMs, begun } = await drive({
      rate: 200,
      workers: 2,
      busyMs: 0,
      durationMs: 300,
    });
    // 300 ms at one every 5 ms. The last one or two fall due just before the deadline: when the
    // event loop runs late on a loaded machine they are missed (counted, never started late).
    expect(pacer.scheduled).toBe(60);
    expect(pacer.started).toBeGreaterThanOrEqual(58);
    expect(pacer.started).toBeLessThanOrEqual(60);
    begun.forEach((b, i) => expect(b.intendedMs).toBeCloseTo(startMs + i * 5, 6));
    // Never early, and (free workers) rarely late.
    expect(begun.every((b) => b.atMs >= b.intendedMs)).toBe(true);
    const lateMs = begun.map((b) => b.atMs - b.intendedMs).sort((a, b) => a - b);
    expect(lateMs[Math.floor(lateMs.length / 2)]).toBeLessThan(5);
  });

  it('keeps the schedule when the target is slow: late starts are charged from their due time', async () => {
    // One worker busy 20 ms per operation cannot serve one every 5 ms.
    const { pacer, startMs, begun } = await drive({
      rate: 200,
      workers: 1,
      busyMs: 20,
      durationMs: 300,
    });
    expect(pacer.scheduled).toBe(60);
    expect(pacer.started).toBeLessThan(25);
    // Intended times stay on the 5 ms grid however late the worker got to them.
    begun.forEach((b, i) => expect(b.intendedMs).toBeCloseTo(startMs + i * 5, 6));
    const last = begun[begun.length - 1];
    expect(last).toBeDefined();
    if (last !== undefined) expect(last.atMs - last.intendedMs).toBeGreaterThan(100);
  });
});

describe('closed-loop pacer', () => {
  it('starts at once until the deadline, then stops every worker', async () => {
    const { pacer, workers } = await drive({ rate: 0, workers: 3, busyMs: 10, durationMs: 200 });
    expect(workers.every((w) => w.stopped)).toBe(true);
    // About 20 operations per worker: each takes 10 ms (timers may stretch that).
    expect(pacer.started).toBeGreaterThan(20);
    expect(pacer.started).toBeLessThanOrEqual(3 * 21);
    expect(pacer.scheduled).toBe(pacer.started);
  });
});
