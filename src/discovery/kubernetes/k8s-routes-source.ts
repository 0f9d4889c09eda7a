import { DiscoveryError } from '../../core/errors.ts';
import type { Endpoint, EndpointGroup, EndpointSnapshot } from '../../core/endpoint.ts';
import type { K8sBackendsSpec } from '../../config/backends-uri.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from '../discovery-source.ts';
import type { K8sRoutesBackendsSpec, K8sRouteSpec } from '../../config/k8s-routes-uri.ts';

export interface K8sRoutesSourceOptions {
  readonly spec: K8sRoutesBackendsSpec;
  /** One EndpointSlice source per Service (a LazyK8sSource in the proxy, a fake in tests). */
  readonly serviceSource: (spec: K8sBackendsSpec) => DiscoverySource;
  readonly wallMs: () => number;
  /**
   * The first snapshot waits for every Service's first answer, at most this
   * long: until then a Service that has not answered counts as having no
   * endpoints, and its share would be refused.
   */
  readonly firstSnapshotWaitMs: number;
}

/** Endpoint weights are scaled so the largest share is this (Endpoint weights go to 1000). */
const WEIGHT_SCALE = 1000;

/**
 * The backends of a `k8s-routes://` listener: one EndpointSlice watch per
 * Service the routes name, merged into one snapshot whose endpoints are
 * grouped by route. A Service's weight is spread over its usable endpoints,
 * so a route's traffic splits by Service weight whatever the pod counts are;
 * and the weight of a ref that is invalid or has no usable endpoint becomes
 * the route's `rejectShare` (the Gateway API's rule: that share of
 * connections is refused, never moved to the remaining backends).
 */
export class K8sRoutesSource implements DiscoverySource {
  readonly kind = 'k8s';
  readonly uri: string;
  readonly #opts: K8sRoutesSourceOptions;
  /** Per distinct Service (by its k8s:// key), its source and latest endpoints (undefined: none yet). */
  readonly #services = new Map<
    string,
    { source: DiscoverySource; endpoints: readonly Endpoint[] | undefined }
  >();
  #sink: DiscoverySink | undefined;
  #waitTimer: NodeJS.Timeout | undefined;
  #released = false;

  constructor(opts: K8sRoutesSourceOptions) {
    this.#opts = opts;
    this.uri = opts.spec.uri;
    for (const route of opts.spec.routes) {
      for (const ref of route.refs) {
        if (ref.kind !== 'service') continue;
        const key = serviceKey(ref.namespace, ref.service, ref.port);
        if (this.#services.has(key)) continue;
        const spec: K8sBackendsSpec = {
          scheme: 'k8s',
          uri: `k8s://${key}`,
          namespace: ref.namespace,
          service: ref.service,
          port: ref.port,
        };
        this.#services.set(key, { source: opts.serviceSource(spec), endpoints: undefined });
      }
    }
  }

  async init(): Promise<void> {
    await Promise.all([...this.#services.values()].map(async (s) => s.source.init?.()));
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    for (const [key, entry] of this.#services) {
      entry.source.start({
        onSnapshot: (snapshot) => {
          entry.endpoints = snapshot.endpoints;
          this.#emit(false);
        },
        // A port problem of one Service is that ref's problem, never fatal for the listener.
        onError: (reason, err, info) => sink.onError(reason, annotate(key, err), info),
      });
    }
    this.#waitTimer = setTimeout(() => this.#emit(true), this.#opts.firstSnapshotWaitMs);
    this.#waitTimer.unref();
    this.#emit(false);
  }

  stop(): void {
    clearTimeout(this.#waitTimer);
    for (const s of this.#services.values()) s.source.stop();
  }

  status(): DiscoveryStatus {
    const known = [...this.#services.values()].filter((s) => s.endpoints !== undefined).length;
    return {
      services: this.#services.size,
      servicesAnswered: known,
      routes: this.#opts.spec.routes.length,
    };
  }

  #emit(timedOut: boolean): void {
    if (!this.#released) {
      const waiting = [...this.#services.values()].some((s) => s.endpoints === undefined);
      if (waiting && !timedOut) return;
      this.#released = true;
      clearTimeout(this.#waitTimer);
    }
    const current = new Map<string, readonly Endpoint[]>();
    for (const [key, s] of this.#services) current.set(key, s.endpoints ?? []);
    this.#sink?.onSnapshot(mergeRoutes(this.#opts.spec.routes, current, this.#opts.wallMs()));
  }
}

function annotate(service: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new DiscoveryError(`${service}: ${message}`, { cause: err });
}

export function serviceKey(
  namespace: string,
  service: string,
  port: string | number | undefined,
): string {
  return `${namespace}/${service}${port === undefined ? '' : `:${port}`}`;
}

/**
 * One snapshot from the routes and each Service's endpoints (by serviceKey).
 * Usable endpoints (ready, or draining: the pool prefers ready ones) count
 * towards a Service; endpoint ids are prefixed with the Service (and the route
 * index when there are several routes), so the same pod in two refs is two
 * backends.
 */
export function mergeRoutes(
  routes: readonly K8sRouteSpec[],
  services: ReadonlyMap<string, readonly Endpoint[]>,
  updatedAtMs: number,
): EndpointSnapshot {
  const endpoints: Endpoint[] = [];
  const groups: EndpointGroup[] = [];
  routes.forEach((route, group) => {
    let total = 0;
    let rejected = 0;
    const shares: { prefix: string; eps: readonly Endpoint[]; perEndpoint: number }[] = [];
    for (const ref of route.refs) {
      if (ref.weight <= 0) continue;
      total += ref.weight;
      if (ref.kind === 'reject') {
        rejected += ref.weight;
        continue;
      }
      const key = serviceKey(ref.namespace, ref.service, ref.port);
      const eps = (services.get(key) ?? []).filter((e) => e.state !== 'not-serving');
      if (eps.length === 0) {
        rejected += ref.weight;
        continue;
      }
      const prefix = `${routes.length > 1 ? `${group}:` : ''}${ref.namespace}/${ref.service}/`;
      shares.push({ prefix, eps, perEndpoint: ref.weight / eps.length });
    }
    const largest = Math.max(0, ...shares.map((s) => s.perEndpoint));
    for (const share of shares) {
      const weight = Math.max(1, Math.round((share.perEndpoint / largest) * WEIGHT_SCALE));
      for (const e of share.eps)
        endpoints.push({ ...e, id: `${share.prefix}${e.id}`, weight, group });
    }
    // No weight at all (no refs, or every weight 0): nothing may be served.
    groups.push({
      serverNames: route.serverNames,
      rejectShare: total === 0 ? 1 : rejected / total,
    });
  });
  return { endpoints, updatedAtMs, groups };
}
