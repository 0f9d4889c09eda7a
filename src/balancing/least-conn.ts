import type { BalanceTarget, Balancer, PickContext } from './balancer.ts';
import { IndexedHeap, type HeapItem } from './indexed-heap.ts';
import { avoidedBackends } from './tried.ts';

interface Slot<T extends BalanceTarget = BalanceTarget> extends HeapItem {
  backend: T;
  weight: number;
  /** `backend.active` as the heap last saw it. */
  active: number;
  /** Virtual finish time of its next pick: the weighted round-robin among ties. */
  turn: number;
  /** Pick number of its latest pick (-1 before the first): equal turns go least recent first. */
  lastPick: number;
  /** Order of first appearance: the last tie-break. */
  readonly seq: number;
  /** Picked since its `active` was last read. */
  stale: boolean;
}

/**
 * Turns advance by TURN_SCALE / weight per pick. TURN_SCALE is lcm(1..16),
 * so turns stay whole numbers for the usual weights and ties between
 * backends whose shares line up (5:1 after five picks) are exact.
 */
const TURN_SCALE = 720_720;

/** Turns are shifted back by the current turn past this, so they stay exact integers. */
const SHIFT_TURNS_AFTER = 2 ** 40;

/** Fewer active connections per unit of weight; then the earlier turn; then least recently picked. */
function less(a: Slot, b: Slot): boolean {
  const x = a.active * b.weight;
  const y = b.active * a.weight;
  if (x !== y) return x < y;
  if (a.turn !== b.turn) return a.turn < b.turn;
  if (a.lastPick !== b.lastPick) return a.lastPick < b.lastPick;
  return a.seq < b.seq;
}

/**
 * Fewest active connections relative to weight (HAProxy `leastconn`, NGINX
 * `least_conn`), in O(log n) per pick from a heap keyed on active/weight.
 * Ties go by weighted round-robin, as in NGINX: each backend has a virtual
 * turn that advances by 1/weight when it is picked, and among equally loaded
 * backends the earliest turn wins. So equal backends take turns instead of
 * the first absorbing every burst, and with connections that never overlap
 * (every backend idle at each pick) 5:1 still gets five picks for one.
 *
 * The pool changes `active` right after a pick (attach) and before
 * `onClose` (detach); the balancer re-reads it for the picked backend at the
 * next call and for a closing backend in `onClose`, so the heap never scans.
 * Turns are kept by id across updates; a new backend starts at the current
 * turn, so it joins the rotation without a burst.
 */
export class LeastConnBalancer<T extends BalanceTarget = BalanceTarget> implements Balancer<T> {
  readonly strategy = 'least-conn' as const;
  #candidates: readonly T[] = [];
  #byId = new Map<string, Slot<T>>();
  readonly #heap = new IndexedHeap<Slot<T>>(less);
  /** The turn of the latest pick: where a backend that fell behind resumes. */
  #currentTurn = 0;
  #nextSeq = 0;
  #picks = 0;
  /** Picked slots whose `active` has not been re-read yet (usually just the last one). */
  #stale: Slot<T>[] = [];
  /**
   * How many of `#stale` are in use: the array is reused, not emptied (a
   * new array, or one trimmed by `length = 0` and grown by the next push,
   * was an allocation per connection).
   */
  #staleCount = 0;
  /**
   * Counts are shared with other worker threads (`--workers`): they move
   * without this balancer seeing it, so every pick re-reads them all (O(n),
   * n being the candidates of one listener).
   */
  #shared = false;

  update(candidates: readonly T[]): void {
    const byId = new Map<string, Slot<T>>();
    for (const b of candidates) {
      let s = this.#byId.get(b.id);
      if (s === undefined) {
        s = {
          backend: b,
          weight: b.weight,
          active: b.active,
          turn: this.#currentTurn + TURN_SCALE / b.weight,
          lastPick: -1,
          seq: this.#nextSeq++,
          stale: false,
          heapIndex: -1,
        };
      }
      s.backend = b;
      s.weight = b.weight;
      s.active = b.active;
      s.stale = false;
      byId.set(b.id, s);
    }
    this.#byId = byId;
    this.#candidates = candidates;
    this.#shared = candidates.some((b) => b.activeShared);
    this.#stale = [];
    this.#staleCount = 0;
    this.#heap.reset([...byId.values()]);
  }

  pick(ctx: PickContext): T | undefined {
    if (this.#shared) this.#refreshAll();
    else this.#refreshStale();
    const avoid = avoidedBackends(this.#candidates, ctx.tried);
    const chosen = avoid === undefined ? this.#heap.peek() : this.#firstUntried(avoid);
    if (chosen === undefined) return undefined;
    // A backend whose turn fell behind (it was busier) resumes at the current
    // turn rather than winning every tie until it catches up.
    this.#currentTurn = Math.max(this.#currentTurn, chosen.turn);
    chosen.turn = this.#currentTurn + TURN_SCALE / chosen.weight;
    chosen.lastPick = this.#picks++;
    this.#heap.update(chosen);
    if (!chosen.stale) {
      chosen.stale = true;
      this.#stale[this.#staleCount++] = chosen;
    }
    if (this.#currentTurn > SHIFT_TURNS_AFTER) this.#shiftTurns();
    return chosen.backend;
  }

  onClose(backend: T): void {
    const s = this.#byId.get(backend.id);
    if (s === undefined || s.backend !== backend) return;
    if (s.active !== backend.active) {
      s.active = backend.active;
      this.#heap.update(s);
    }
  }

  /** Subtract the current turn from every turn: same order, small numbers. */
  #shiftTurns(): void {
    const by = this.#currentTurn;
    for (const s of this.#byId.values()) s.turn -= by;
    this.#currentTurn = 0;
  }

  #refreshStale(): void {
    const stale = this.#stale;
    const count = this.#staleCount;
    if (count === 0) return;
    for (let i = 0; i < count; i++) {
      const s = stale[i] as Slot<T>;
      s.stale = false;
      if (s.active !== s.backend.active && this.#heap.has(s)) {
        s.active = s.backend.active;
        this.#heap.update(s);
      }
    }
    this.#staleCount = 0;
  }

  #refreshAll(): void {
    for (const s of this.#byId.values()) {
      s.stale = false;
      const active = s.backend.active;
      if (s.active !== active) {
        s.active = active;
        this.#heap.update(s);
      }
    }
    this.#staleCount = 0;
  }

  /** The least loaded backend not in `avoid`: pops until one is found, then restores. */
  #firstUntried(avoid: readonly BalanceTarget[]): Slot<T> | undefined {
    const heap = this.#heap;
    const skipped: Slot<T>[] = [];
    let found: Slot<T> | undefined;
    while (found === undefined) {
      const s = heap.pop();
      if (s === undefined) break;
      skipped.push(s);
      if (!avoid.includes(s.backend)) found = s;
    }
    for (const s of skipped) heap.push(s);
    return found;
  }
}
