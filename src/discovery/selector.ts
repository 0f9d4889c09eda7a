import type { Endpoint } from '../core/endpoint.ts';
import { ValueError } from '../core/errors.ts';

export const SELECTOR_KEYS = ['pod', 'hostname', 'zone', 'node', 'address'] as const;
export type SelectorKey = (typeof SELECTOR_KEYS)[number];

/** `--select KEY=VALUE`: keep only endpoints whose KEY is VALUE. */
export interface Selector {
  readonly key: SelectorKey;
  readonly value: string;
}

export function parseSelector(text: string): Selector {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new ValueError(`"${text}" is not KEY=VALUE`);
  const key = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  const known = SELECTOR_KEYS.find((k) => k === key);
  if (known === undefined) {
    throw new ValueError(`unknown key "${key}" (expected one of: ${SELECTOR_KEYS.join(', ')})`);
  }
  return { key: known, value };
}

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
