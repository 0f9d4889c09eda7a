import { OptionRangeError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
/** First ejection time (Envoy's `base_ejection_time` default). */
export const DEFAULT_BASE_EJECT_MS = 10_000;
/** Longest ejection (Envoy's `max_ejection_time` default). */
export const DEFAULT_MAX_EJECT_MS = 300_000;

export interface OutlierDetectorOptions {
  /** Consecutive connect failures that eject a backend (`--eject-after`); 0 turns ejection off. */
  readonly ejectAfter: number;
  /** Length of a first ejection; each repeat doubles it. */
  readonly baseEjectMs?: number;
  /** Cap on one ejection's length. */
  readonly maxEjectMs?: number;
  /** An ejection that would put more than this share of the backends out is refused (0-100). */
  readonly maxEjectionPercent: number;
  /**
   * How many backends the percentage is of, asked at each ejection decision
   * (the pool's listed backends). Ids the pool dropped must be `remove()`d,
   * or their ejections keep counting.
   */
  readonly totalBackends: () => number;
  /** Its monotonic time decides when ejections end. */
  readonly clock: Clock;
}

interface OutlierState {
  failures: number;
  /** Ejections in a row; decays while the backend stays in (see `#levelAt`). */
  level: number;
  /** End of the current or last ejection; undefined before the first. */
  ejectedUntilMs: number | undefined;
  ejections: number;
}

/**
 * Passive health: ejects a backend after `ejectAfter` consecutive connect
 * failures (Envoy's consecutive-failure outlier detection, which counts TCP
 * connect failures; NGINX's `max_fails`). Pure: no timers, an injected clock;
 * an ejection simply ends when its time is up (`nextExpiryMs` tells the
 * caller when to look again).
 *
 * - Ejection n in a row lasts `baseEjectMs * 2^(n-1)`, capped at `maxEjectMs`
 *   (10 s, 20 s, 40 s … 5 m).
 * - The multiplier is not reset by a success: as in Envoy, it decays with
 *   time, one level per `baseEjectMs` spent not ejected, so a backend that
 *   flaps keeps getting longer ejections and one that stays up is forgiven.
 * - A success resets the consecutive count. An ejection resets it too, so a
 *   backend back from ejection needs `ejectAfter` fresh failures to go out
 *   again. Failures reported while a backend is ejected (panic-mode traffic)
 *   are ignored.
 * - An ejection that would make ejected/total exceed `maxEjectionPercent` is
 *   refused; the count is kept, so the next failure tries again.
 */
export class OutlierDetector {
  readonly #ejectAfter: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #maxPercent: number;
  readonly #maxLevel: number;
  readonly #totalBackends: () => number;
  readonly #clock: Clock;
  readonly #byId = new Map<string, OutlierState>();
  #refused = 0;

  constructor(opts: OutlierDetectorOptions) {
    const baseMs = opts.baseEjectMs ?? DEFAULT_BASE_EJECT_MS;
    const maxMs = opts.maxEjectMs ?? DEFAULT_MAX_EJECT_MS;
    if (!Number.isInteger(opts.ejectAfter) || opts.ejectAfter < 0) {
      throw new OptionRangeError(
        `ejectAfter must be an integer of at least 0, got ${opts.ejectAfter}`,
      );
    }
    if (!(baseMs > 0) || !Number.isFinite(baseMs)) {
      throw new OptionRangeError(`baseEjectMs must be a positive number, got ${baseMs}`);
    }
    if (!(maxMs >= baseMs) || !Number.isFinite(maxMs)) {
      throw new OptionRangeError(
        `maxEjectMs must be at least baseEjectMs (${baseMs}), got ${maxMs}`,
      );
    }
    if (!(opts.maxEjectionPercent >= 0 && opts.maxEjectionPercent <= 100)) {
      throw new OptionRangeError(
        `maxEjectionPercent must be between 0 and 100, got ${opts.maxEjectionPercent}`,
      );
    }
    this.#ejectAfter = opts.ejectAfter;
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#maxPercent = opts.maxEjectionPercent;
    this.#totalBackends = opts.totalBackends;
    this.#clock = opts.clock;
    // The level at which the doubling reaches the cap; levels above it would
    // change nothing but the time needed to decay.
    let level = 1;
    while (baseMs * 2 ** (level - 1) < maxMs) level++;
    this.#maxLevel = level;
  }

  /** A connect to `id` failed. Returns true when this failure ejected it. */
  connectFailed(id: string, nowMs = this.#clock.nowMs()): boolean {
    let s = this.#byId.get(id);
    if (s === undefined) {
      s = { failures: 0, level: 0, ejectedUntilMs: undefined, ejections: 0 };
      this.#byId.set(id, s);
    }
    if (isOut(s, nowMs)) return false;
    s.failures++;
    if (this.#ejectAfter === 0 || s.failures < this.#ejectAfter) return false;
    if (!this.#mayEjectOneMore(nowMs)) {
      this.#refused++;
      return false;
    }
    s.level = Math.min(this.#levelAt(s, nowMs) + 1, this.#maxLevel);
    s.ejectedUntilMs = nowMs + Math.min(this.#baseMs * 2 ** (s.level - 1), this.#maxMs);
    s.ejections++;
    s.failures = 0;
    return true;
  }

  /** A connect to `id` succeeded: its consecutive failure count starts over. */
  connectSucceeded(id: string): void {
    const s = this.#byId.get(id);
    if (s !== undefined) s.failures = 0;
  }

  isEjected(id: string, nowMs = this.#clock.nowMs()): boolean {
    const s = this.#byId.get(id);
    return s !== undefined && isOut(s, nowMs);
  }

  /** When the current ejection of `id` ends (monotonic ms); undefined when it is not ejected. */
  ejectedUntil(id: string, nowMs = this.#clock.nowMs()): number | undefined {
    const s = this.#byId.get(id);
    return s !== undefined && isOut(s, nowMs) ? s.ejectedUntilMs : undefined;
  }

  /** How many times `id` was ejected since it was first seen (a counter, for metrics). */
  ejectionCount(id: string): number {
    return this.#byId.get(id)?.ejections ?? 0;
  }

  /** The doubling level of `id` now: its next ejection lasts `base * 2^level` (capped). */
  ejectionLevel(id: string, nowMs = this.#clock.nowMs()): number {
    const s = this.#byId.get(id);
    return s === undefined ? 0 : this.#levelAt(s, nowMs);
  }

  consecutiveFailures(id: string): number {
    return this.#byId.get(id)?.failures ?? 0;
  }

  /** Ids ejected now. */
  ejectedIds(nowMs = this.#clock.nowMs()): string[] {
    const ids: string[] = [];
    for (const [id, s] of this.#byId) if (isOut(s, nowMs)) ids.push(id);
    return ids;
  }

  /** When the next ejection ends, so the caller can refresh its candidates then; undefined if none is ejected. */
  nextExpiryMs(nowMs = this.#clock.nowMs()): number | undefined {
    let next: number | undefined;
    for (const s of this.#byId.values()) {
      if (isOut(s, nowMs) && (next === undefined || (s.ejectedUntilMs ?? 0) < next)) {
        next = s.ejectedUntilMs;
      }
    }
    return next;
  }

  /** Ejections refused by the max-percent rule since construction (a counter, for metrics). */
  get refusedEjections(): number {
    return this.#refused;
  }

  /** Forget `id` (it left the pool): counts, level and any ejection. */
  remove(id: string): void {
    this.#byId.delete(id);
  }

  #mayEjectOneMore(nowMs: number): boolean {
    const total = this.#totalBackends();
    if (!(total > 0)) return false;
    let ejected = 0;
    for (const s of this.#byId.values()) if (isOut(s, nowMs)) ejected++;
    return (ejected + 1) * 100 <= this.#maxPercent * total;
  }

  #levelAt(s: OutlierState, nowMs: number): number {
    if (s.level === 0 || s.ejectedUntilMs === undefined || nowMs < s.ejectedUntilMs) return s.level;
    return Math.max(0, s.level - Math.floor((nowMs - s.ejectedUntilMs) / this.#baseMs));
  }
}

function isOut(s: OutlierState, nowMs: number): boolean {
  return s.ejectedUntilMs !== undefined && nowMs < s.ejectedUntilMs;
}
