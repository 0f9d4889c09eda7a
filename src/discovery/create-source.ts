import type { HostPort } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendsSpec } from '../config/backends-uri.ts';
import type { DiscoverySource } from './discovery-source.ts';
import { DnsSource, type DnsFamily } from './dns/dns-source.ts';
import { K8sRoutesSource } from './kubernetes/k8s-routes-source.ts';
import { LazyK8sSource } from './kubernetes/lazy-k8s-source.ts';
import { SentinelSource } from './sentinel/sentinel-source.ts';
import { StaticSource } from './static-source.ts';

/**
 * The listener settings discovery is built from, named as the config layer names them, so that
 * a `ListenerSettings` is one (discovery sits below config's consumers and needs no more of it).
 */
export interface DiscoverySettings {
  /** The listener's name, for log lines. */
  readonly name: string;
  /** `--dns-family`: which address families dns:// and srv:// resolve. */
  readonly dnsFamily: DnsFamily;
  /** `--dns-server`: the resolvers asked (empty: the system's). */
  readonly dnsServer: readonly HostPort[];
  /** `--dns-min-refresh` / `--dns-max-refresh`, ms: bounds on the re-resolve interval. */
  readonly dnsMinRefresh: number;
  readonly dnsMaxRefresh: number;
  /** `--dns-flap-guard`: an answer that drops more than half of the backends waits for the next to agree. */
  readonly dnsFlapGuard: boolean;
  /** `--dns-timeout`, ms: one query's limit. */
  readonly dnsTimeout: number;
  /** `--sentinel-password-file` for sentinel:// (null: no AUTH). */
  readonly sentinelPasswordFile: string | null;
  /** `--kubeconfig` for k8s:// (null: in-cluster or the default file). */
  readonly kubeconfig: string | null;
  /** `--k8s-watch-timeout`, ms: a watch that delivers nothing for this long is restarted. */
  readonly k8sWatchTimeout: number;
}

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
  settings: DiscoverySettings,
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
