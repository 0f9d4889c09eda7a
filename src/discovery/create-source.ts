import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendsSpec } from './backends-uri.ts';
import type { DiscoverySource } from './discovery-source.ts';
import { StaticSource } from './static-source.ts';

export interface DiscoveryDeps {
  readonly clock: Clock;
  readonly logger: Logger;
}

export function createDiscoverySource(spec: BackendsSpec, deps: DiscoveryDeps): DiscoverySource {
  // One scheme so far; DNS and Kubernetes sources join here as a switch on spec.scheme.
  return new StaticSource(spec, deps.clock);
}
