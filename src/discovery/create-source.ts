import type { ListenerSettings } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendsSpec } from './backends-uri.ts';
import type { DiscoverySource } from './discovery-source.ts';
import { DnsSource } from './dns/dns-source.ts';
import { K8sRoutesSource } from './kubernetes/k8s-routes-source.ts';
import { LazyK8sSource } from './kubernetes/lazy-k8s-source.ts';
import { SentinelSource } from './sentinel/sentinel-source.ts';
import { StaticSource } from './static-source.ts';

export interface DiscoveryDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  /** The process environment (Kubernetes in-cluster detection, KUBECONFIG). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Build the source a `--backends` URI names, with the listener's discovery settings. */
export function createDiscoverySource(
  spec: BackendsSpec,
  settings: ListenerSettings,
  deps: DiscoveryDeps,
): DiscoverySource {
  switch (spec.scheme) {
    case 'static':
      return new StaticSource(spec, deps.clock);
    case 'dns':
    case 'srv':
      return new DnsSource({
        spec,
        family: settings.dnsFamily,
        servers: settings.dnsServer,
        bounds: {
          minMs: settings.dnsMinRefresh,
          maxMs: Math.max(settings.dnsMinRefresh, settings.dnsMaxRefresh),
        },
        flapGuard: settings.dnsFlapGuard,
        queryTimeoutMs: settings.dnsTimeout,
        clock: deps.clock,
        random: deps.random,
        logger: deps.logger.child({ listener: settings.name, source: spec.scheme }),
      });
    case 'sentinel':
      return new SentinelSource({
        spec,
        // The sentinels are found like any backends: a fixed list, or DNS (a headless Service).
        finder: createDiscoverySource(spec.sentinels, settings, deps),
        passwordFile: settings.sentinelPasswordFile,
        env: deps.env,
        clock: deps.clock,
        random: deps.random,
        logger: deps.logger.child({ listener: settings.name, master: spec.master }),
      });
    case 'k8s-routes':
      return new K8sRoutesSource({
        spec,
        serviceSource: (service) => createDiscoverySource(service, settings, deps),
        wallMs: () => deps.clock.wallMs(),
        firstSnapshotWaitMs: 5000,
      });
    case 'k8s':
      return new LazyK8sSource({
        spec,
        kubeconfig: settings.kubeconfig ?? undefined,
        env: deps.env,
        watchIdleTimeoutMs: settings.k8sWatchTimeout,
        clock: deps.clock,
        random: deps.random,
      });
  }
}
