import type { Backend } from '../backends/backend.ts';
import type { Balancer, PickContext } from './balancer.ts';
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
export class RandomBalancer implements Balancer {
  readonly strategy = 'random' as const;
  readonly #p2c: PowerOfTwo;

  constructor(opts: RandomBalancerOptions) {
    this.#p2c = new PowerOfTwo(opts.random);
  }

  update(candidates: readonly Backend[]): void {
    this.#p2c.update(candidates);
  }

  pick(ctx: PickContext): Backend | undefined {
    return this.#p2c.candidates[this.#p2c.pick(ctx.tried, this.#lessLoaded)];
  }

  /** Whether the second has fewer active connections per unit of weight (a/wa > b/wb). */
  readonly #lessLoaded = (first: number, second: number): boolean => {
    const list = this.#p2c.candidates;
    const a = list[first] as Backend;
    const b = list[second] as Backend;
    return b.active * a.weight < a.active * b.weight;
  };
}
