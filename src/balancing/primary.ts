import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';

/**
 * One backend at a time: the current primary keeps every new connection for
 * as long as it stays a candidate, even while another backend also passes
 * the role check (during a promotion both may say `role:master` for a
 * moment). Only when it drops out — its check fails, it is ejected or gone —
 * does the next candidate become current: the first by id, so replicas of
 * Headway that see the same set choose the same one. HAProxy's `balance
 * first` without its capacity spill-over.
 */
export class PrimaryBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'primary' as const;
  #candidates: readonly T[] = [];
  #current: T | undefined;

  update(candidates: readonly T[]): void {
    this.#candidates = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (this.#current !== undefined && !candidates.includes(this.#current))
      this.#current = undefined;
  }

  pick(ctx: PickContext): T | undefined {
    const list = this.#candidates;
    if (list.length === 0) return undefined;
    const tried = ctx.tried;
    const avoid = tried.length > 0 && list.some((b) => !tried.includes(b)) ? tried : undefined;
    const current = this.#current;
    if (current !== undefined && (avoid === undefined || !avoid.includes(current))) return current;
    const next = avoid === undefined ? list[0] : list.find((b) => !avoid.includes(b));
    // A retry on another backend does not move the primary; only a change of candidates does.
    if (current === undefined) this.#current = next;
    return next;
  }

  /** The backend new connections go to now (for /backends). */
  get current(): T | undefined {
    return this.#current;
  }
}
