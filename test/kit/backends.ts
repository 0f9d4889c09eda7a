import { Backend } from '../../src/backends/backend.ts';
import type { PickContext } from '../../src/balancing/balancer.ts';
import type { Endpoint, EndpointSnapshot, EndpointState } from '../../src/core/endpoint.ts';
import { noopBackend } from '../../src/metrics/proxy-metrics.ts';

/** A backend as the pool would hand it to a balancer (no metrics behind it). */
export function makeBackend(id: string, weight = 1, state: EndpointState = 'ready'): Backend {
  return new Backend({ id, address: '127.0.0.1', port: 1, weight, state }, noopBackend);
}

export interface EndpointOptions {
  readonly weight?: number;
  readonly state?: EndpointState;
  readonly priority?: number;
}

/** A discovered endpoint from its id, `ADDRESS[:PORT]` (port 80 when left out). */
export function endpoint(id: string, opts: EndpointOptions = {}): Endpoint {
  const [address = id, port = '80'] = id.split(':');
  return {
    id,
    address,
    port: Number(port),
    weight: opts.weight ?? 1,
    state: opts.state ?? 'ready',
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
  };
}

/** A discovery snapshot of the given endpoints, stamped at a fixed wall time. */
export function snapshot(...endpoints: Endpoint[]): EndpointSnapshot {
  return { endpoints, updatedAtMs: 1_700_000_000_000 };
}

/** The ids of backends, in their order. */
export function backendIds(backends: Iterable<Backend>): string[] {
  return [...backends].map((b) => b.id);
}

export function pickContext(
  tried: readonly Backend[] = [],
  nowMs = 0,
  clientAddress = '10.0.0.1',
  clientPort = 40_000,
): PickContext {
  return { clientAddress, clientPort, nowMs, tried };
}

/** The `i`-th of many distinct clients (10.x.y.z), so hashing strategies see varied keys. */
export function clientContext(i: number, tried: readonly Backend[] = []): PickContext {
  const address = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  return pickContext(tried, 0, address, 1024 + (i % 60_000));
}
