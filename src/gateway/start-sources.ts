import type { ProxyConfig } from '../config/resolve.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { systemClock } from '../core/clock.ts';
import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { toListenerSettings, type SourcedListener } from './sourced-listener.ts';

/** Applies one source's listeners through the proxy's reload path; rejects when they cannot be. */
export type ApplySourced = (
  source: string,
  listeners: readonly ListenerSettings[],
) => Promise<void>;

export interface RunningSources {
  stop(): void;
}

/**
 * Start the Kubernetes sources of listeners the process options ask for
 * (--gateway, --ingress-nginx-tcp-services). client-node is loaded only
 * then; missing credentials are a ConfigError (exit 2), as for k8s://.
 */
export async function startListenerSources(
  config: ProxyConfig,
  logger: Logger,
  apply: ApplySourced,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RunningSources> {
  const p = config.process;
  if (p.gateway === null && p.ingressNginxTcpServices === null) return { stop: () => undefined };
  const template = config.template ?? config.listeners[0];
  if (template === undefined) throw new ConfigError('--gateway', 'needs listener options');
  const [{ loadKubeAccess }, { GatewaySource }, { TcpServicesSource }] = await Promise.all([
    import('../discovery/kubernetes/kube-access.ts'),
    import('./gateway-source.ts'),
    import('./tcp-services-source.ts'),
  ]);
  const deps = {
    access: loadKubeAccess({ kubeconfig: template.kubeconfig ?? undefined, env }),
    clock: systemClock,
    random: Math.random,
    watchIdleTimeoutMs: template.k8sWatchTimeout,
  };
  const publish =
    (source: string) =>
    (listeners: readonly SourcedListener[]): Promise<void> =>
      apply(
        source,
        listeners.map((l) => toListenerSettings(template, l)),
      );
  const running: { stop(): void }[] = [];
  if (p.gateway !== null) {
    const gateway = new GatewaySource({
      ...deps,
      logger: logger.child({ source: 'gateway' }),
      namespace: p.gateway.namespace,
      name: p.gateway.name,
      className: p.gatewayClass,
      apply: publish('gateway'),
    });
    gateway.start();
    running.push(gateway);
  }
  if (p.ingressNginxTcpServices !== null) {
    const tcp = new TcpServicesSource({
      ...deps,
      logger: logger.child({ source: 'tcp-services' }),
      namespace: p.ingressNginxTcpServices.namespace,
      name: p.ingressNginxTcpServices.name,
      apply: publish('tcp-services'),
    });
    tcp.start();
    running.push(tcp);
  }
  return { stop: () => running.forEach((r) => r.stop()) };
}
