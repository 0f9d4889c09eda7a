import type { Clock } from '../core/clock.ts';
import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import { PeakEwma } from './peak-ewma.ts';
import { PowerOfTwo } from './power-of-two.ts';

export interface LatencyBalancerOptions {
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
  readonly clock: Clock;
  /** Time constant of the estimate's decay (`--latency-decay`). */
  readonly decayMs: number;
}

/**
 * The estimate every backend starts from while no backend has a sample yet.
 * All backends share it then, so its value only sets how samples are read
 * at first: a slower sample is a peak and counts at once, a faster one is
 * trusted over τ. 1 ms sits between in-cluster connect times (~0.1 ms) and
 * the first replies of typical request/response protocols, so a slow backend
 * stands out from the first connections.
 */
export const DEFAULT_LATENCY_MS = 1;

/** Estimates never reach zero: an idle backend's cost still grows with its connections. */
const MIN_LATENCY_MS = 1e-6;

/**
 * Latencies within this factor of each other count as equal, and the less
 * loaded backend per unit of weight wins, as with `random`. Without the band,
 * noise decides between equally fast backends: the one sampled least
 * recently has decayed most and looks fastest, so picks rotate and weights
 * are lost (3:1 came out 56:44). 25 % is well above the decay of a backend
 * idle for a second (10 % at the 10 s default) and well below what makes a
 * backend worth avoiding.
 */
export const LATENCY_BAND = 1.25;

/**
 * Power of two choices over a peak-EWMA cost, as Linkerd balances: of two
 * backends drawn at random, the one with the lower latency estimate ×
 * (active connections + 1) gets the connection. The latency is the time from
 * the first client byte sent to the first backend byte back when the client
 * speaks first (`onFirstByte`; once one such sample arrived, connect times
 * are ignored), else the connect time (`onConnect`, for protocols where the
 * server speaks first).
 *
 * Weights: both draws are by weight, load counts per unit of weight and the
 * "+ 1" for the connection being placed at the mean weight, so the cost is
 * latency × (active/weight + 1/mean weight); with equal weights that is
 * Linkerd's cost exactly. Latencies within `LATENCY_BAND` of each other count
 * as equal (the less loaded per weight wins, a tie keeps the first draw), so
 * equally fast backends get shares in proportion to weight, idle or loaded.
 *
 * A backend that joins starts from the mean estimate of the others (neutral:
 * neither flooded as if free nor starved as if slow); estimates of backends
 * that remain are kept across updates. O(log n) per pick.
 */
export class LatencyBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'latency' as const;
  readonly #p2c: PowerOfTwo<T>;
  readonly #clock: Clock;
  readonly #decayMs: number;
  #byId = new Map<string, PeakEwma>();
  #ewmas: PeakEwma[] = [];
  #loadUnit = 1;
  #nowMs = 0;
  #firstByteSeen = false;

  constructor(opts: LatencyBalancerOptions) {
    this.#p2c = new PowerOfTwo<T>(opts.random);
    this.#clock = opts.clock;
    this.#decayMs = opts.decayMs;
  }

  update(candidates: readonly T[]): void {
    const now = this.#clock.nowMs();
    let sum = 0;
    let known = 0;
    for (const b of candidates) {
      const e = this.#byId.get(b.id);
      if (e === undefined) continue;
      sum += e.valueAt(now, this.#decayMs);
      known++;
    }
    const neutral = known > 0 ? sum / known : DEFAULT_LATENCY_MS;
    const byId = new Map<string, PeakEwma>();
    this.#ewmas = candidates.map((b) => {
      const e = this.#byId.get(b.id) ?? new PeakEwma(neutral, now);
      byId.set(b.id, e);
      return e;
    });
    this.#byId = byId;
    this.#p2c.update(candidates);
    const mean = this.#p2c.meanWeight;
    this.#loadUnit = mean > 0 ? 1 / mean : 1;
  }

  pick(ctx: PickContext): T | undefined {
    this.#nowMs = this.#clock.nowMs();
    return this.#p2c.candidates[this.#p2c.pick(ctx.tried, this.#cheaper)];
  }

  onConnect(backend: T, ms: number): void {
    if (!this.#firstByteSeen) this.#observe(backend, ms);
  }

  onFirstByte(backend: T, ms: number): void {
    this.#firstByteSeen = true;
    this.#observe(backend, ms);
  }

  /** The current latency estimate of a candidate (for tests and reports). */
  estimateMs(backend: T): number | undefined {
    return this.#byId.get(backend.id)?.valueAt(this.#clock.nowMs(), this.#decayMs);
  }

  #observe(backend: T, ms: number): void {
    this.#byId.get(backend.id)?.observe(ms, this.#clock.nowMs(), this.#decayMs);
  }

  #latency(i: number): number {
    return Math.max(
      (this.#ewmas[i] as PeakEwma).valueAt(this.#nowMs, this.#decayMs),
      MIN_LATENCY_MS,
    );
  }

  /** Whether the second drawn candidate should take the connection from the first. */
  readonly #cheaper = (first: number, second: number): boolean => {
    const list = this.#p2c.candidates;
    const a = list[first] as T;
    const b = list[second] as T;
    const la = this.#latency(first);
    const lb = this.#latency(second);
    if (lb * LATENCY_BAND >= la && la * LATENCY_BAND >= lb) {
      return b.active * a.weight < a.active * b.weight;
    }
    return (
      lb * (b.active / b.weight + this.#loadUnit) < la * (a.active / a.weight + this.#loadUnit)
    );
  };
}
