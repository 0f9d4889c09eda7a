import type { StrategyName } from '../config/strategy-names.ts';

/**
 * What a strategy reads of a backend, and all it may read: the pool's `Backend` implements it
 * (balancing sits below backends, so it never sees that mutable class). Properties, not
 * methods, so a pick reads them without allocating.
 */
export interface BalanceTarget {
  /** Stable across discovery updates; strategies key their tables by it. */
  readonly id: string;
  /** Effective weight now (slow start scales it); the pool changes it only before `update`. */
  readonly weight: number;
  /** Connections open or being opened to it. */
  readonly active: number;
  /**
   * True when `active` also counts other worker threads' connections (`--workers`): it then
   * moves without this balancer's picks and closes, so a strategy caching loads must re-read them.
   */
  readonly activeShared: boolean;
  /** The route it serves when a listener serves several (a Gateway listener); else undefined. */
  readonly group: number | undefined;
}

/** What a balancer may look at when it picks; the proxy's session implements it. */
export interface PickContext {
  /** Client address (from PROXY protocol when accepted), IPv4-mapped form removed. */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Monotonic milliseconds. */
  readonly nowMs: number;
  /**
   * Backends already tried for this connection: avoid them while an untried one exists. Strategies
   * compare them by identity with their candidates, the very objects `update` was given.
   */
  readonly tried: readonly BalanceTarget[];
  /** The route chosen for this connection when the listener serves several (GroupedBalancer). */
  readonly group?: number | undefined;
}

/**
 * A load-balancing strategy. It never touches sockets: `update` hands it the
 * current candidates (usable backends, rebuilt only when the set or their
 * usability changes); `pick` chooses one per new connection; the callbacks
 * feed it what the data path observed. Generic so that it hands back the
 * caller's own objects (the pool's backends) with no lookup on the pick path.
 */
export interface Balancer<T extends BalanceTarget = BalanceTarget> {
  readonly strategy: StrategyName;
  update(candidates: readonly T[]): void;
  pick(ctx: PickContext): T | undefined;
  /** TCP connect to the backend took `ms`. */
  onConnect?(backend: T, ms: number): void;
  /** First client byte sent upstream → first backend byte back took `ms`. */
  onFirstByte?(backend: T, ms: number): void;
  onClose?(backend: T): void;
}
