import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import type { StrategyName } from '../config/strategy-names.ts';

/**
 * Several routes behind one listener (a Gateway listener with its attached
 * routes): each endpoint carries the index of its route (`Endpoint.group`),
 * and a connection is balanced only among the backends of the route chosen
 * for it (`PickContext.group`), each route with a balancer of its own so one
 * route's picks never shift another's shares. A pick without a group, or for
 * a route without candidates, finds nothing.
 */
export class GroupedBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly strategy: StrategyName;
  readonly #create: () => Balancer<T>;
  readonly #byGroup = new Map<number, Balancer<T>>();

  constructor(strategy: StrategyName, create: () => Balancer<T>) {
    this.strategy = strategy;
    this.#create = create;
  }

  update(candidates: readonly T[]): void {
    const split = new Map<number, T[]>();
    for (const b of candidates) {
      const group = b.group;
      if (group === undefined) continue;
      const list = split.get(group);
      if (list === undefined) split.set(group, [b]);
      else list.push(b);
    }
    for (const [group, balancer] of this.#byGroup) {
      // A route whose backends all left keeps its balancer state, empty, as the others do.
      if (!split.has(group)) balancer.update([]);
    }
    for (const [group, list] of split) {
      let balancer = this.#byGroup.get(group);
      if (balancer === undefined) {
        balancer = this.#create();
        this.#byGroup.set(group, balancer);
      }
      balancer.update(list);
    }
  }

  pick(ctx: PickContext): T | undefined {
    if (ctx.group === undefined) return undefined;
    return this.#byGroup.get(ctx.group)?.pick(ctx);
  }

  onConnect(backend: T, ms: number): void {
    this.#of(backend)?.onConnect?.(backend, ms);
  }

  onFirstByte(backend: T, ms: number): void {
    this.#of(backend)?.onFirstByte?.(backend, ms);
  }

  onClose(backend: T): void {
    this.#of(backend)?.onClose?.(backend);
  }

  #of(backend: T): Balancer<T> | undefined {
    const group = backend.group;
    return group === undefined ? undefined : this.#byGroup.get(group);
  }
}
