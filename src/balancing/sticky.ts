import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import { murmur3, murmur3Int } from './hash.ts';
import { HashRing } from './hash-ring.ts';
import type { StickyKey } from '../config/strategy-names.ts';
import { avoidedBackends } from './tried.ts';

export interface StickyBalancerOptions {
  readonly key: StickyKey;
  /**
   * Cap each backend at this factor × its weighted share of the active
   * connections (plus the one being placed), spilling to the next choice;
   * 0 = no cap (`--sticky-bounded-load`).
   */
  readonly boundedLoad: number;
}

/** Seed of the client-key hash; part of the sticky contract (replicas must agree). */
const KEY_SEED = 0x7374_6b79; // "stky"

const EMPTY_RING = HashRing.build([]);

/**
 * Consistent hashing of the client address onto a ring of backend ids
 * (see `HashRing`): the same client reaches the same backend, from any
 * Headway replica that sees the same set, and keeps it when the backend's
 * IP changes but its id (pod name, hostname, SRV target) does not. When a
 * backend leaves the candidates (removed, draining, ejected) only its
 * clients move, each to its next choice clockwise, and they come back when
 * it returns; a new backend takes only the keys of its own points.
 *
 * With a bounded-load factor (Mirrokni et al., "Consistent Hashing with
 * Bounded Loads"; HAProxy `hash-balance-factor`) a backend at its cap,
 * ceil(factor × (active + 1) × weight / total weight), is passed over for
 * the next one clockwise. Retries walk clockwise the same way, so a key's
 * second choice is always the same backend.
 *
 * Cost per pick: one hash of the address and a binary search of the ring,
 * O(log n); the ring is rebuilt only when ids or weights change.
 */
export class StickyBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'sticky' as const;
  readonly #key: StickyKey;
  readonly #factor: number;
  #candidates: readonly T[] = [];
  #ring = EMPTY_RING;
  /** Candidates in ring-member (id) order. */
  #members: T[] = [];
  #indexById = new Map<string, number>();
  #totalWeight = 0;
  /** Sum of `active` over the candidates, kept current from picks and closes. */
  #totalActive = 0;
  /** `active` of each member as last counted into `#totalActive`. */
  #counted = new Float64Array(0);
  /** Members picked since their `active` was last counted. */
  #uncounted: number[] = [];
  /** Walk marks: `#visited[i] === #walk` once member i was considered in this walk. */
  #visited = new Uint32Array(0);
  #walk = 0;

  constructor(opts: StickyBalancerOptions) {
    this.#key = opts.key;
    this.#factor = opts.boundedLoad;
  }

  update(candidates: readonly T[]): void {
    if (!this.#sameSet(candidates)) {
      this.#ring = HashRing.build(
        candidates.map((b) => ({ id: b.id, weight: b.weight })),
        this.#ring,
      );
      this.#indexById = new Map(this.#ring.members.map((m, i) => [m.id, i]));
      this.#visited = new Uint32Array(candidates.length);
      this.#walk = 0;
    }
    const members = new Array<T>(candidates.length);
    let totalWeight = 0;
    for (const b of candidates) {
      members[this.#indexById.get(b.id) as number] = b;
      totalWeight += b.weight;
    }
    this.#candidates = candidates;
    this.#members = members;
    this.#totalWeight = totalWeight;
    this.#counted = Float64Array.from(members, (b) => b.active);
    this.#totalActive = this.#counted.reduce((s, a) => s + a, 0);
    this.#uncounted = [];
  }

  pick(ctx: PickContext): T | undefined {
    const ring = this.#ring;
    if (ring.positions.length === 0) return undefined;
    const start = ring.find(this.#hash(ctx));
    const avoid = avoidedBackends(this.#candidates, ctx.tried);
    let chosen: number;
    if (this.#factor === 0 && avoid === undefined) {
      chosen = ring.owners[start] as number;
    } else {
      this.#recount();
      chosen = this.#walkFrom(start, avoid);
      this.#uncounted.push(chosen);
    }
    return this.#members[chosen];
  }

  onClose(backend: T): void {
    if (this.#factor === 0) return;
    const i = this.#indexById.get(backend.id);
    if (i === undefined || this.#members[i] !== backend) return;
    this.#count(i);
  }

  #hash(ctx: PickContext): number {
    const h = murmur3(ctx.clientAddress, KEY_SEED);
    return this.#key === 'client-ip' ? h : murmur3Int(ctx.clientPort, h);
  }

  /**
   * Clockwise from `start`, the first member neither avoided nor at its cap;
   * if every untried member is at its cap (only possible with retries), the
   * first untried one.
   */
  #walkFrom(start: number, avoid: readonly BalanceTarget[] | undefined): number {
    const { owners } = this.#ring;
    const points = owners.length;
    const n = this.#members.length;
    if (++this.#walk === 0xffff_ffff) {
      this.#visited.fill(0);
      this.#walk = 1;
    }
    let fallback = -1;
    let seen = 0;
    for (let step = 0; step < points && seen < n; step++) {
      const owner = owners[(start + step) % points] as number;
      if (this.#visited[owner] === this.#walk) continue;
      this.#visited[owner] = this.#walk;
      seen++;
      const b = this.#members[owner] as T;
      if (avoid?.includes(b) ?? false) continue;
      if (this.#factor === 0 || b.active < this.#cap(b)) return owner;
      if (fallback < 0) fallback = owner;
    }
    return fallback >= 0 ? fallback : (owners[start] as number);
  }

  #cap(b: T): number {
    return Math.ceil((this.#factor * (this.#totalActive + 1) * b.weight) / this.#totalWeight);
  }

  #recount(): void {
    for (const i of this.#uncounted) this.#count(i);
    this.#uncounted.length = 0;
  }

  #count(i: number): void {
    const active = (this.#members[i] as T).active;
    this.#totalActive += active - (this.#counted[i] as number);
    this.#counted[i] = active;
  }

  #sameSet(candidates: readonly T[]): boolean {
    if (candidates.length !== this.#ring.members.length) return false;
    for (const b of candidates) {
      const i = this.#indexById.get(b.id);
      if (i === undefined || this.#ring.members[i]?.weight !== b.weight) return false;
    }
    return true;
  }
}
