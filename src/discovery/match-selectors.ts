import type { Endpoint } from '../core/endpoint.ts';
import type { Selector } from '../config/selector.ts';

/**
 * Whether an endpoint matches every selector. `hostname` matches the whole
 * hostname or its first label, so `hostname=db-0` selects the StatefulSet pod
 * `db-0` whether its hostname came from an EndpointSlice (`db-0`) or an SRV
 * target (`db-0.db.prod.svc.cluster.local`).
 */
export function matchesSelectors(ep: Endpoint, selectors: readonly Selector[]): boolean {
  for (const s of selectors) {
    switch (s.key) {
      case 'pod':
        if (ep.pod !== s.value) return false;
        break;
      case 'hostname': {
        const h = ep.hostname;
        if (h === undefined || (h !== s.value && h.split('.')[0] !== s.value)) return false;
        break;
      }
      case 'zone':
        if (ep.zone !== s.value) return false;
        break;
      case 'node':
        if (ep.node !== s.value) return false;
        break;
      case 'address':
        if (ep.address !== s.value) return false;
        break;
    }
  }
  return true;
}
