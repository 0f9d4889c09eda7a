import type { ConnectOutcomes } from '../backends/backend-pool.ts';
import type { SharedCount } from '../backends/backend.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';

/**
 * What a worker thread's upstreams get from the main thread (`--workers`):
 * discovery and shared connection counts. Their health comes as messages
 * (Upstream.applyHealth, BackendPool.eject); they run no discovery, no
 * active checks and no outlier detection of their own, so that every
 * thread agrees on which backends are out.
 */
export interface UpstreamFeed {
  /** The discovery source of a listener: snapshots the main thread forwards. */
  sourceFor(listener: string, uri: string): DiscoverySource;
  /** The shared cell of a backend, if the main thread assigned one. */
  sharedCount(listener: string, id: string): SharedCount | null;
  /** Where a listener's connect outcomes go: the main thread's outlier detection. */
  connectOutcomes(listener: string): ConnectOutcomes;
}

/**
 * What the main thread's upstreams pass on to the worker threads: each
 * snapshot, each health verdict and each ejection, and the cells that
 * count connections.
 */
export interface UpstreamObserver {
  /** The shared cell of a backend, assigned on first sight. */
  sharedCount(listener: string, id: string): SharedCount | null;
  snapshot(listener: string, snapshot: EndpointSnapshot): void;
  health(listener: string, id: string, healthy: boolean): void;
  /** Outlier detection took a backend out for `forMs` (from the workers' connect outcomes). */
  ejected(listener: string, id: string, forMs: number): void;
}
