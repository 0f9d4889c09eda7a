import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { KubeAccess } from '../discovery/kubernetes/kube-access.ts';
import {
  ResourceInformer,
  type InformedObject,
  type ResourceList,
} from '../discovery/kubernetes/resource-informer.ts';

export interface KubeSourceDeps {
  readonly access: KubeAccess;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** --k8s-watch-timeout of the template listener. */
  readonly watchIdleTimeoutMs: number;
}

/** A supervised informer with the proxy's usual timeouts and backoff, errors logged (rate-limited by backoff). */
export function informer<T extends InformedObject>(
  deps: KubeSourceDeps,
  what: string,
  list: (signal: AbortSignal) => Promise<ResourceList<T>>,
  watchPath: string,
  onChange: () => void,
  watchQuery?: Readonly<Record<string, string>>,
): ResourceInformer<T> {
  return new ResourceInformer<T>({
    what,
    access: deps.access,
    list,
    watchPath,
    ...(watchQuery === undefined ? {} : { watchQuery }),
    onChange,
    onError: (message) => deps.logger.warn('Kubernetes watch error; retrying', { error: message }),
    watchIdleTimeoutMs: deps.watchIdleTimeoutMs,
    listTimeoutMs: Math.min(deps.watchIdleTimeoutMs, 30_000),
    backoffMinMs: 500,
    backoffMaxMs: 30_000,
    clock: deps.clock,
    random: deps.random,
  });
}
