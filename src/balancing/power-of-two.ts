import type { BalanceTarget } from './balancer.ts';
import { avoidedBackends } from './tried.ts';

/**
 * How many random draws may land on tried backends before a pick falls back
 * to scanning: retries avoid at most `--connect-retries` backends, so a
 * draw almost always succeeds first time and the scan is for tiny sets.
 */
const MAX_DRAWS = 8;

/**
 * The two-random-choices core shared by `random` and `latency`: draws two
 * distinct backends, each with probability proportional to its weight
 * (binary search over cumulative weights, O(log n)), and keeps the one
 * `better` prefers, the first on a tie. Drawing by weight is what makes
 * shares follow weights when load is equal (idle backends tie); comparing
 * load per unit of weight keeps them there under load. (Drawing the second
 * uniformly instead over-compares light backends: 5:3:1:1 then gives the
 * heavy one 47 % instead of 50 %.)
 */
export class PowerOfTwo<T extends BalanceTarget = BalanceTarget> {
  readonly #random: () => number;
  #candidates: readonly T[] = [];
  #cumulative = new Float64Array(0);
  #totalWeight = 0;
  #equalWeights = true;

  constructor(random: () => number) {
    this.#random = random;
  }

  get candidates(): readonly T[] {
    return this.#candidates;
  }

  /** Mean weight of the candidates (0 with none). */
  get meanWeight(): number {
    return this.#candidates.length === 0 ? 0 : this.#totalWeight / this.#candidates.length;
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates;
    this.#cumulative = new Float64Array(candidates.length);
    let total = 0;
    candidates.forEach((b, i) => {
      total += b.weight;
      this.#cumulative[i] = total;
    });
    this.#totalWeight = total;
    this.#equalWeights = candidates.every((b) => b.weight === candidates[0]?.weight);
  }

  /**
   * Index of the chosen candidate, or -1 with none. `better(i, j)` says
   * whether candidate j should win over candidate i.
   */
  pick(
    tried: readonly BalanceTarget[],
    better: (first: number, second: number) => boolean,
  ): number {
    const list = this.#candidates;
    const n = list.length;
    if (n <= 1) return n - 1;
    const avoid = avoidedBackends(list, tried);
    const first = this.#drawFirst(avoid);
    if (first < 0) return -1;
    const second = this.#drawSecond(first, avoid);
    return second >= 0 && better(first, second) ? second : first;
  }

  /** A candidate drawn by weight. */
  #weighted(): number {
    const r = this.#random();
    if (this.#equalWeights) return Math.floor(r * this.#candidates.length);
    return this.#at(r * this.#totalWeight);
  }

  /** A candidate other than `first`, drawn by weight (`first`'s stretch is cut out). */
  #weightedExcept(first: number): number {
    const r = this.#random();
    const n = this.#candidates.length;
    if (this.#equalWeights) return (first + 1 + Math.floor(r * (n - 1))) % n;
    const end = this.#cumulative[first] as number;
    const weight = (this.#candidates[first] as T).weight;
    const target = r * (this.#totalWeight - weight);
    return this.#at(target < end - weight ? target : target + weight);
  }

  /** The candidate whose stretch of the cumulative weights holds `target`. */
  #at(target: number): number {
    const cum = this.#cumulative;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) <= target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #drawFirst(avoid: readonly BalanceTarget[] | undefined): number {
    for (let k = 0; k < MAX_DRAWS; k++) {
      const i = this.#weighted();
      if (avoid === undefined || !avoid.includes(this.#candidates[i] as T)) return i;
    }
    return this.#anyUntried(-1, avoid);
  }

  /** A candidate other than `first`, by weight; -1 when none is usable. */
  #drawSecond(first: number, avoid: readonly BalanceTarget[] | undefined): number {
    for (let k = 0; k < MAX_DRAWS; k++) {
      const j = this.#weightedExcept(first);
      if (avoid === undefined || !avoid.includes(this.#candidates[j] as T)) return j;
    }
    return this.#anyUntried(first, avoid);
  }

  /** A random untried candidate other than `except` (a scan: only after unlucky draws). */
  #anyUntried(except: number, avoid: readonly BalanceTarget[] | undefined): number {
    const usable: number[] = [];
    this.#candidates.forEach((b, i) => {
      if (i !== except && !(avoid?.includes(b) ?? false)) usable.push(i);
    });
    if (usable.length === 0) return -1;
    return usable[Math.floor(this.#random() * usable.length)] as number;
  }
}
