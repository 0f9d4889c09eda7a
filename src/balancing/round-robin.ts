import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import { IndexedHeap, type HeapItem } from './indexed-heap.ts';
import { avoidedBackends } from './tried.ts';

interface Slot<T extends BalanceTarget = BalanceTarget> extends HeapItem {
  backend: T;
  weight: number;
  /** Picks counted from the current origin of virtual time (negative after a shift is fine). */
  picks: number;
  /** Order of first appearance: equal backends take turns in this order. */
  readonly seq: number;
}

/**
 * Virtual time is shifted back by whole cycles once this many cycles have
 * passed, keeping every product in the comparisons far below 2^53.
 */
const SHIFT_AFTER_CYCLES = 1024;

/** Earlier deadline (picks+1)/weight first, then first-seen order. */
function deadlineLess(a: Slot, b: Slot): boolean {
  const x = (a.picks + 1) * b.weight;
  const y = (b.picks + 1) * a.weight;
  return x < y || (x === y && a.seq < b.seq);
}

/** Earlier start picks/weight first, then first-seen order. */
function startLess(a: Slot, b: Slot): boolean {
  const x = a.picks * b.weight;
  const y = b.picks * a.weight;
  return x < y || (x === y && a.seq < b.seq);
}

/**
 * Smooth weighted round-robin in O(log n) per pick: earliest eligible
 * virtual deadline first (EEVDF, the rule of WF²Q and of Linux's scheduler).
 * Virtual time advances by 1/W per pick (W = total weight); a backend of
 * weight w picked k times has start k/w and deadline (k+1)/w. Among the
 * backends whose start has come (not ahead of their share), the earliest
 * deadline wins. Each backend stays within one pick of its exact share, so
 * weights interleave: 5:1:1 gives `a b a a c a a`, and every cycle of W
 * picks holds exactly w picks of each backend.
 *
 * NGINX's smooth round-robin gives a similar sequence but takes, at every
 * pick, the maximum of scores that grow at different rates, which costs O(n).
 * Here a backend's start and deadline change only when it is picked, so two
 * heaps (not yet eligible, by start; eligible, by deadline) do the work.
 * Comparisons are cross-multiplications, exact for whole-number weights
 * (slow start's fractional weights compare in floating point).
 *
 * State is kept by id: when the set changes, each remaining backend keeps
 * its lead or lag, virtual time is re-centred on them, and a new backend
 * joins at the current virtual time: eligible at once, with no backlog to
 * catch up on (no burst).
 */
export class RoundRobinBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'round-robin' as const;
  #candidates: readonly T[] = [];
  #byId = new Map<string, Slot<T>>();
  #totalWeight = 0;
  /** Picks since the origin: virtual time is picks / totalWeight. */
  #picks = 0;
  #nextSeq = 0;
  readonly #eligible = new IndexedHeap<Slot<T>>(deadlineLess);
  readonly #waiting = new IndexedHeap<Slot<T>>(startLess);

  update(candidates: readonly T[]): void {
    if (this.#sameSet(candidates)) {
      for (const b of candidates) (this.#byId.get(b.id) as Slot<T>).backend = b;
      this.#candidates = candidates;
      return;
    }
    // Re-centre virtual time on the backends that remain (weighted by their
    // new weights), so their leads and lags carry over and someone is eligible.
    let sumWeight = 0;
    let sumStart = 0;
    for (const b of candidates) {
      const s = this.#byId.get(b.id);
      if (s === undefined) continue;
      sumWeight += b.weight;
      sumStart += b.weight * (s.picks / s.weight);
    }
    const oldTime = this.#totalWeight > 0 ? this.#picks / this.#totalWeight : 0;
    const time = sumWeight > 0 ? sumStart / sumWeight : oldTime;
    const origin = Math.floor(time);
    let total = 0;
    for (const b of candidates) total += b.weight;

    const byId = new Map<string, Slot<T>>();
    for (const b of candidates) {
      const old = this.#byId.get(b.id);
      // Rounded to whole picks: a remaining backend keeps its lead or lag to
      // within half a pick; a new one starts eligible.
      const picks =
        old === undefined
          ? Math.floor((time - origin) * b.weight)
          : Math.round((old.picks / old.weight - origin) * b.weight);
      if (old === undefined) {
        byId.set(b.id, {
          backend: b,
          weight: b.weight,
          picks,
          seq: this.#nextSeq++,
          heapIndex: -1,
        });
      } else {
        old.backend = b;
        old.weight = b.weight;
        old.picks = picks;
        byId.set(b.id, old);
      }
    }
    this.#byId = byId;
    this.#candidates = candidates;
    this.#totalWeight = total;
    this.#picks = Math.round((time - origin) * total);
    const eligible: Slot<T>[] = [];
    const waiting: Slot<T>[] = [];
    for (const s of byId.values()) (this.#isEligible(s) ? eligible : waiting).push(s);
    this.#eligible.reset(eligible);
    this.#waiting.reset(waiting);
  }

  pick(ctx: PickContext): T | undefined {
    if (this.#byId.size === 0) return undefined;
    // Backends whose start has come join the eligible heap.
    for (let s = this.#waiting.peek(); s !== undefined && this.#isEligible(s);) {
      this.#waiting.remove(s);
      this.#eligible.push(s);
      s = this.#waiting.peek();
    }
    const avoid = avoidedBackends(this.#candidates, ctx.tried);
    // Rounding when the set changed can leave nobody eligible for a moment:
    // then the earliest start goes first.
    const chosen =
      avoid === undefined
        ? (this.#eligible.pop() ?? this.#waiting.pop())
        : (takeFirst(this.#eligible, avoid) ?? takeFirst(this.#waiting, avoid));
    if (chosen === undefined) return undefined;
    chosen.picks++;
    this.#picks++;
    (this.#isEligible(chosen) ? this.#eligible : this.#waiting).push(chosen);
    if (this.#picks >= SHIFT_AFTER_CYCLES * this.#totalWeight) this.#shiftOrigin();
    return chosen.backend;
  }

  #isEligible(s: Slot<T>): boolean {
    return s.picks * this.#totalWeight <= this.#picks * s.weight;
  }

  /** Move the origin of virtual time forward by whole cycles; no order changes. */
  #shiftOrigin(): void {
    const cycles = Math.floor(this.#picks / this.#totalWeight);
    this.#picks -= cycles * this.#totalWeight;
    for (const s of this.#byId.values()) s.picks -= cycles * s.weight;
  }

  #sameSet(candidates: readonly T[]): boolean {
    if (candidates.length !== this.#byId.size) return false;
    for (const b of candidates) {
      const s = this.#byId.get(b.id);
      if (s === undefined || s.weight !== b.weight) return false;
    }
    return true;
  }
}

/** Remove and return the heap's first slot whose backend is not avoided. */
function takeFirst<T extends BalanceTarget>(
  heap: IndexedHeap<Slot<T>>,
  avoid: readonly BalanceTarget[],
): Slot<T> | undefined {
  const skipped: Slot<T>[] = [];
  let found: Slot<T> | undefined;
  while (found === undefined) {
    const s = heap.pop();
    if (s === undefined) break;
    if (avoid.includes(s.backend)) skipped.push(s);
    else found = s;
  }
  for (const s of skipped) heap.push(s);
  return found;
}
