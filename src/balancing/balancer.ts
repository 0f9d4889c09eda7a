import type { Backend } from '../backends/backend.ts';
import type { StrategyName } from './strategy-names.ts';

/** What a balancer may look at when it picks; the proxy's session implements it. */
export interface PickContext {
  /** Client address (from PROXY protocol when accepted), IPv4-mapped form removed. */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Monotonic milliseconds. */
  readonly nowMs: number;
  /** Backends already tried for this connection: avoid them while an untried one exists. */
  readonly tried: readonly Backend[];
  /** The route chosen for this connection when the listener serves several (GroupedBalancer). */
  readonly group?: number | undefined;
}

/**
 * A load-balancing strategy. It never touches sockets: `update` hands it the
 * current candidates (usable backends, rebuilt only when the set or their
 * usability changes); `pick` chooses one per new connection; the callbacks
 * feed it what the data path observed.
 */
export interface Balancer {
  readonly strategy: StrategyName;
  update(candidates: readonly Backend[]): void;
  pick(ctx: PickContext): Backend | undefined;
  /** TCP connect to the backend took `ms`. */
  onConnect?(backend: Backend, ms: number): void;
  /** First client byte sent upstream → first backend byte back took `ms`. */
  onFirstByte?(backend: Backend, ms: number): void;
  onClose?(backend: Backend): void;
}
