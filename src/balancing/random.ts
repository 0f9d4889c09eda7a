import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import { PowerOfTwo } from './power-of-two.ts';

export interface RandomBalancerOptions {
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
}

/**
 * Power of two random choices on active connections (Mitzenmacher; Envoy's
 * `LEAST_REQUEST`, NGINX `random two least_conn`): draw two backends, keep
 * the one with fewer active connections per unit of weight. Nearly as even
 * as least-conn, O(log n) per pick, and with no shared order, so several
 * Headway replicas do not herd onto the same backend.
 */
export class RandomBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'random' as const;
  readonly #p2c: PowerOfTwo<T>;

  constructor(opts: RandomBalancerOptions) {
    this.#p2c = new PowerOfTwo<T>(opts.random);
  }

  update(candidates: readonly T[]): void {
    this.#p2c.update(candidates);
  }

  pick(ctx: PickContext): T | undefined {
    return this.#p2c.candidates[this.#p2c.pick(ctx.tried, this.#lessLoaded)];
  }

  /** Whether the second has fewer active connections per unit of weight (a/wa > b/wb). */
  readonly #lessLoaded = (first: number, second: number): boolean => {
    const list = this.#p2c.candidates;
    const a = list[first] as T;
    const b = list[second] as T;
    return b.active * a.weight < a.active * b.weight;
  };
}
