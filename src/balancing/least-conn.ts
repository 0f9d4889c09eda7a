import type { Backend } from '../backends/backend.ts';
import type { Balancer, PickContext } from './balancer.ts';

/**
 * Fewest active connections relative to weight (HAProxy `leastconn`, NGINX
 * `least_conn`). Ties go to the first candidate after the previous pick, so
 * equal backends take turns instead of the first one absorbing every burst.
 */
export class LeastConnBalancer implements Balancer {
  readonly strategy = 'least-conn' as const;
  #candidates: readonly Backend[] = [];
  #next = 0;

  update(candidates: readonly Backend[]): void {
    // Resume at the backend that was next (or the first after it that remains):
    // keeping the bare index would skip one whenever an earlier backend leaves.
    const index = new Map(candidates.map((b, i) => [b.id, i]));
    const old = this.#candidates;
    let next = 0;
    for (let k = 0; k < old.length; k++) {
      const i = index.get((old[(this.#next + k) % old.length] as Backend).id);
      if (i !== undefined) {
        next = i;
        break;
      }
    }
    this.#candidates = candidates;
    this.#next = next;
  }

  pick(ctx: PickContext): Backend | undefined {
    const list = this.#candidates;
    const n = list.length;
    if (n === 0) return undefined;
    const avoid = ctx.tried.length > 0 && hasUntried(list, ctx.tried) ? ctx.tried : undefined;
    let best: Backend | undefined;
    let bestIndex = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      const b = list[i] as Backend;
      if (avoid !== undefined && avoid.includes(b)) continue;
      // Compare active/weight without division: a/wa < b/wb  <=>  a*wb < b*wa.
      if (best === undefined || b.active * best.weight < best.active * b.weight) {
        best = b;
        bestIndex = i;
      }
    }
    this.#next = (bestIndex + 1) % n;
    return best;
  }
}

export function hasUntried(list: readonly Backend[], tried: readonly Backend[]): boolean {
  for (const b of list) if (!tried.includes(b)) return true;
  return false;
}
