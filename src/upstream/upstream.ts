import type { EndpointGroup } from '../core/endpoint.ts';
import type { BackendPool } from '../backends/backend-pool.ts';
import type { ListenerSettings } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import type { ActiveHealthChecker } from '../health/active-checker.ts';
import type { ListenerMetrics, ProxyMetrics } from '../metrics/proxy-metrics.ts';
import type { UpstreamFeed, UpstreamObserver } from './thread-link.ts';

/**
 * The backends one listener configuration sends connections to: discovery
 * feeding a pool, the balancer picking from it, active health checks and
 * passive ejection keeping it honest. It hosts no connection; a Route
 * (src/proxy) admits and relays sessions over it, and the `--workers` main
 * thread holds upstreams alone (discovery and checks once per process).
 */
export interface Upstream {
  /** The listener's name (metrics label, log field, admin API key). */
  readonly name: string;
  readonly config: ListenerSettings;
  readonly strategy: string;
  readonly pool: BackendPool;
  readonly source: DiscoverySource;
  /** Active health checks, or null when off (or run by another thread). */
  readonly checker: ActiveHealthChecker | null;
  readonly metrics: ListenerMetrics;
  /** The routes of a `k8s-routes://` listener, from the latest snapshot (undefined: one plain pool). */
  readonly groups: readonly EndpointGroup[] | undefined;
  /** Load what discovery needs (may throw ConfigError), before any socket is bound. */
  init(): Promise<void>;
  /** Start discovery and health checks. */
  start(): void;
  /** A backend passed or failed its active checks (here, or in the main thread of `--workers`). */
  applyHealth(id: string, healthy: boolean): void;
  /** Called when a backend under its connection limit has room again (the route serves its queue). */
  onRoom(callback: () => void): void;
  /** Stop discovery and health checks; the pool keeps serving the connections already open. */
  stop(): void;
  /** Stopped and without connections: release the pool. */
  dispose(): void;
}

/** What building an upstream needs from the process. */
export interface UpstreamDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  /** Randomness for jitter and random balancers; injected so tests can fix it. */
  readonly random: () => number;
  /** The process environment (Kubernetes credentials discovery). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A configuration error found after start (e.g. an ambiguous Kubernetes port). */
  readonly onFatal: (err: Error) => void;
  /** In a worker thread: discovery, health and shared counts come from the main thread. */
  readonly feed?: UpstreamFeed;
  /** In the main thread of `--workers`: where snapshots and health results are passed on. */
  readonly observer?: UpstreamObserver;
}
