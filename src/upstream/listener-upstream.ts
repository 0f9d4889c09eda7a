import type { EndpointGroup } from '../core/endpoint.ts';
import { InternalError } from '../core/errors.ts';
import { BackendPool } from '../backends/backend-pool.ts';
import type { SharedCount } from '../backends/backend.ts';
import { createBalancer } from '../balancing/create-balancer.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { formatHostPort } from '../core/address.ts';
import { errorMessage } from '../core/errors.ts';
import { RateLimitedWarning } from '../core/local-errors.ts';
import type { Logger } from '../core/logger.ts';
import { createDiscoverySource } from '../discovery/create-source.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import { matchesSelectors } from '../discovery/match-selectors.ts';
import { ActiveHealthChecker } from '../health/active-checker.ts';
import {
  checkFall,
  checkProbe,
  checkRise,
  checksEnabled,
  closesOnDown,
} from '../health/check-plan.ts';
import { OutlierDetector } from '../health/outlier-detector.ts';
import type { ListenerMetrics } from '../metrics/proxy-metrics.ts';
import type { Upstream, UpstreamDeps } from './upstream.ts';

/**
 * The upstream of one listener configuration: the discovery source its
 * `backends` URI names (or one given, e.g. a pod's slice for a per-pod
 * listener), a BackendPool with the configured balancer, outlier detection
 * and active health checks. In a worker thread (`deps.feed`) discovery and
 * health verdicts come from the main thread, which logs and counts them;
 * in the main thread of `--workers` (`deps.observer`) both are passed on.
 */
export class ListenerUpstream implements Upstream {
  readonly name: string;
  readonly config: ListenerSettings;
  readonly strategy: string;
  readonly pool: BackendPool;
  readonly source: DiscoverySource;
  readonly checker: ActiveHealthChecker | null;
  readonly metrics: ListenerMetrics;
  /** The routes of a `k8s-routes://` listener, from the latest snapshot (undefined: one plain pool). */
  groups: readonly EndpointGroup[] | undefined = undefined;
  readonly #deps: UpstreamDeps;
  readonly #logger: Logger;
  /** Close a backend's connections when it fails its checks (`--close-on-down`). */
  readonly #closeOnDown: boolean;
  /**
   * Close the connections of a backend that leaves discovery at once: for
   * `sentinel://`, leaving means "no longer the master", a role change like a
   * failed role check (`--close-on-down`, on by default there).
   */
  readonly #closeOnLeave: boolean;
  /** Local resource errors (EMFILE...) of health checks are warned about at most every 10 s. */
  readonly #localWarning: RateLimitedWarning;
  #onRoom: (() => void) | undefined;

  constructor(
    config: ListenerSettings,
    deps: UpstreamDeps,
    logger: Logger,
    source?: DiscoverySource,
  ) {
    if (config.backends === null) throw new InternalError('listener needs backends');
    this.name = config.name;
    this.config = config;
    this.strategy = config.strategy;
    this.#deps = deps;
    this.#logger = logger;
    this.#localWarning = new RateLimitedWarning(
      logger,
      'local resource error (file descriptors or buffers exhausted); not counted against any backend',
    );
    this.#closeOnDown = closesOnDown(config);
    this.#closeOnLeave = config.backends.scheme === 'sentinel' && config.closeOnDown !== 'off';
    this.metrics = deps.metrics.listener(config.name);
    const follower = deps.feed !== undefined;
    this.pool = new BackendPool({
      listener: config.name,
      // A k8s-routes:// listener serves several routes, each balanced on its own.
      balancer: createBalancer(
        { ...config, grouped: config.backends.scheme === 'k8s-routes' },
        deps,
      ),
      metrics: this.metrics,
      logger,
      backendDrainTimeoutMs: config.backendDrainTimeout,
      zone: config.zone ?? undefined,
      trackLatency: config.latencyTracking,
      clock: deps.clock,
      maxPerBackend: config.maxConnectionsPerBackend,
      // A worker thread's connect outcomes go to the main thread, whose verdicts come back (`eject`).
      outlier:
        config.ejectAfter > 0 && !follower
          ? new OutlierDetector({
              ejectAfter: config.ejectAfter,
              maxEjectionPercent: config.maxEjectionPercent,
              totalBackends: () => this.#listedCount(),
              clock: deps.clock,
            })
          : undefined,
      connectOutcomes: config.ejectAfter > 0 ? deps.feed?.connectOutcomes(config.name) : undefined,
      onEjected: (b, forMs) => {
        deps.observer?.ejected(config.name, b.id, forMs);
      },
      // Sticky is exempt: a moving weight would move live keys.
      slowStartMs: config.strategy === 'sticky' ? 0 : config.slowStart,
      healthChecked: checksEnabled(config.healthCheck, config.backends.scheme),
      sharedCount: sharedCountOf(config.name, deps),
      // A worker thread's snapshots are logged by the main thread.
      logMembership: !follower,
      onPanic: () => {
        // With worker threads, the main thread's pool (same snapshots, same health) counts it once.
        if (!follower) this.metrics.panicEntered();
      },
      onRoom: () => {
        this.#onRoom?.();
      },
    });
    this.source =
      source ??
      deps.feed?.sourceFor(config.name, config.backends.uri) ??
      createDiscoverySource(config.backends, config, deps);
    // A worker thread's checks run once, in the main thread, which sends the verdicts.
    this.checker =
      !follower && checksEnabled(config.healthCheck, this.source.kind)
        ? this.#createChecker(config)
        : null;
  }

  #createChecker(config: ListenerSettings): ActiveHealthChecker {
    const deps = this.#deps;
    return new ActiveHealthChecker(
      {
        intervalMs: config.healthInterval,
        timeoutMs: config.healthTimeout,
        // A role check (an expectation, an HTTP check) decides where writes go: react to one result.
        rise: checkRise(config),
        fall: checkFall(config),
        send: config.healthSend ?? undefined,
        expect: config.healthExpect ?? undefined,
        probe: checkProbe(config),
        random: deps.random,
        clock: deps.clock,
        onLocalError: (kind, id) => {
          deps.metrics.localError(kind);
          this.#localWarning.warn({ kind, backend: id });
        },
      },
      (id, healthy, detail) => {
        this.#logger.warn(
          healthy ? 'backend is healthy again' : 'backend failed its health checks',
          {
            backend: id,
            address: this.#addressOf(id),
            reason: detail.reason,
          },
        );
        this.applyHealth(id, healthy);
        deps.observer?.health(config.name, id, healthy);
      },
    );
  }

  onRoom(callback: () => void): void {
    this.#onRoom = callback;
  }

  applyHealth(id: string, healthy: boolean): void {
    this.pool.setHealthy(id, healthy);
    if (!healthy && this.#closeOnDown) this.pool.closeConnections(id);
  }

  async init(): Promise<void> {
    await this.source.init?.();
  }

  start(): void {
    this.source.start({
      onSnapshot: (full) => {
        const selectors = this.config.select;
        const snapshot =
          selectors.length === 0
            ? full
            : { ...full, endpoints: full.endpoints.filter((e) => matchesSelectors(e, selectors)) };
        const leaving = this.#closeOnLeave ? this.#listedIds() : undefined;
        this.groups = full.groups;
        this.pool.applySnapshot(snapshot);
        if (leaving !== undefined) {
          for (const e of snapshot.endpoints) leaving.delete(e.id);
          for (const id of leaving) this.pool.closeConnections(id);
        }
        this.checker?.setTargets(
          snapshot.endpoints.map((e) => ({ id: e.id, address: e.address, port: e.port })),
        );
        this.#deps.observer?.snapshot(this.name, full);
        // A worker thread's snapshots were counted and logged by the main thread.
        if (this.#deps.feed !== undefined) return;
        this.metrics.discoveryUpdated(this.source.kind);
        this.#logger.info('backends updated', {
          count: snapshot.endpoints.length,
          usable: this.pool.hasUsableBackend,
        });
      },
      onError: (reason, err, info) => {
        this.metrics.discoveryFailed(this.source.kind, reason);
        // A partial failure was applied around and logged (rate-limited) by the source.
        if (info?.partial === true) return;
        const known = this.#listedCount();
        const fields = { reason, error: errorMessage(err).split('\n')[0] };
        if (known > 0) {
          this.#logger.warn('discovery error; keeping the last known backends', {
            ...fields,
            backends: known,
          });
        } else {
          this.#logger.warn(
            'discovery error; no backends known: new connections are refused',
            fields,
          );
        }
      },
      onFatal: (err) => {
        this.#deps.onFatal(err);
      },
      onPeerError: (peer, reason) => {
        this.metrics.sentinelFailed?.(peer, reason);
      },
    });
  }

  stop(): void {
    this.source.stop();
    this.checker?.stop();
  }

  dispose(): void {
    this.pool.dispose();
  }

  /** Ids of the backends discovery lists now. */
  #listedIds(): Set<string> {
    const ids = new Set<string>();
    for (const b of this.pool.backends()) if (b.listed) ids.add(b.id);
    return ids;
  }

  #listedCount(): number {
    let n = 0;
    for (const b of this.pool.backends()) if (b.listed) n++;
    return n;
  }

  /** `host:port` of a backend, for log lines (ids of k8s pods are not addresses). */
  #addressOf(id: string): string | undefined {
    const ep = this.pool.get(id)?.endpoint;
    return ep === undefined ? undefined : formatHostPort(ep.address, ep.port);
  }
}

/** Where the pool of `listener` finds the cells counting connections across worker threads, if any. */
function sharedCountOf(
  listener: string,
  deps: UpstreamDeps,
): ((id: string) => SharedCount | null) | undefined {
  const link = deps.feed ?? deps.observer;
  return link === undefined ? undefined : (id) => link.sharedCount(listener, id);
}
