import type { Clock } from '../../core/clock.ts';
import type { K8sBackendsSpec } from '../../config/backends-uri.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from '../discovery-source.ts';
import { InternalError } from '../../core/errors.ts';

export interface LazyK8sSourceOptions {
  readonly spec: K8sBackendsSpec;
  readonly kubeconfig: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly watchIdleTimeoutMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

/**
 * Loads @kubernetes/client-node only when a listener uses `k8s://`: the
 * library costs about 80 MB of memory, which a proxy with static or DNS
 * backends should not carry. `init()` (awaited before the listener binds)
 * loads it and the credentials, so a missing kubeconfig still exits 2 at start.
 */
export class LazyK8sSource implements DiscoverySource {
  readonly kind = 'k8s';
  readonly uri: string;
  readonly #opts: LazyK8sSourceOptions;
  #inner: DiscoverySource | undefined;

  constructor(opts: LazyK8sSourceOptions) {
    this.uri = opts.spec.uri;
    this.#opts = opts;
  }

  async init(): Promise<void> {
    const [{ loadKubeAccess }, { K8sSource }] = await Promise.all([
      import('./kube-access.ts'),
      import('./k8s-source.ts'),
    ]);
    const o = this.#opts;
    this.#inner = new K8sSource({
      spec: o.spec,
      access: loadKubeAccess({ kubeconfig: o.kubeconfig, env: o.env }),
      watchIdleTimeoutMs: o.watchIdleTimeoutMs,
      listTimeoutMs: Math.min(o.watchIdleTimeoutMs, 30_000),
      backoffMinMs: 500,
      backoffMaxMs: 30_000,
      clock: o.clock,
      random: o.random,
    });
  }

  start(sink: DiscoverySink): void {
    if (this.#inner === undefined) throw new InternalError('LazyK8sSource.start() before init()');
    this.#inner.start(sink);
  }

  stop(): void {
    this.#inner?.stop();
  }

  status(): DiscoveryStatus {
    return this.#inner?.status?.() ?? {};
  }
}
