import type { Backend } from '../backends/backend.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { hasUntried } from './least-conn.ts';

/**
 * Smooth weighted round-robin (NGINX's algorithm): weights interleave, so
 * 5:1:1 gives a a b a c a a, never five in a row. Each backend's running
 * score is kept by id across updates, so a set change does not restart the
 * cycle for the backends that remain.
 */
export class RoundRobinBalancer implements Balancer {
  readonly strategy = 'round-robin' as const;
  #candidates: readonly Backend[] = [];
  #current: number[] = [];

  update(candidates: readonly Backend[]): void {
    const previous = new Map<string, number>();
    this.#candidates.forEach((b, i) => previous.set(b.id, this.#current[i] ?? 0));
    this.#candidates = candidates;
    this.#current = candidates.map((b) => previous.get(b.id) ?? 0);
  }

  pick(ctx: PickContext): Backend | undefined {
    const list = this.#candidates;
    if (list.length === 0) return undefined;
    const avoid = ctx.tried.length > 0 && hasUntried(list, ctx.tried) ? ctx.tried : undefined;
    const current = this.#current;
    let total = 0;
    let bestIndex = -1;
    for (let i = 0; i < list.length; i++) {
      const b = list[i] as Backend;
      if (avoid !== undefined && avoid.includes(b)) continue;
      const score = (current[i] ?? 0) + b.weight;
      current[i] = score;
      total += b.weight;
      if (bestIndex < 0 || score > (current[bestIndex] ?? 0)) bestIndex = i;
    }
    if (bestIndex < 0) return undefined;
    current[bestIndex] = (current[bestIndex] ?? 0) - total;
    return list[bestIndex];
  }
}
