import { formatHostPort } from '../../core/address.ts';
import type { Endpoint, EndpointState } from '../../core/endpoint.ts';

/**
 * The parts of a `discovery.k8s.io/v1` EndpointSlice that discovery reads,
 * typed loosely on purpose: list results (deserialized by client-node) and
 * watch events (raw JSON) have the same field names, and a real cluster sends
 * `null` for empty lists.
 */
export interface SliceJson {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  } | null;
  readonly addressType?: string | null;
  readonly endpoints?: readonly EndpointJson[] | null;
  readonly ports?: readonly PortJson[] | null;
}

export interface EndpointJson {
  readonly addresses?: readonly string[] | null;
  readonly conditions?: {
    readonly ready?: boolean | null;
    readonly serving?: boolean | null;
    readonly terminating?: boolean | null;
  } | null;
  readonly hostname?: string | null;
  readonly nodeName?: string | null;
  readonly zone?: string | null;
  readonly targetRef?: { readonly kind?: string | null; readonly name?: string | null } | null;
  readonly hints?: {
    readonly forZones?: readonly { readonly name?: string | null }[] | null;
  } | null;
}

export interface PortJson {
  readonly name?: string | null;
  readonly port?: number | null;
  readonly protocol?: string | null;
}

/** `k8s://…:PORT`: a port name, a port number, or undefined for "the only TCP port". */
export type PortSelector = string | number | undefined;

export type MergeResult =
  | { readonly kind: 'ok'; readonly endpoints: Endpoint[] }
  /** No port was named and the slices carry several TCP ports. */
  | { readonly kind: 'ambiguous-port'; readonly choices: readonly string[] }
  /** The named port is in no slice (which lists these instead). */
  | { readonly kind: 'no-such-port'; readonly choices: readonly string[] };

const STATE_RANK: Readonly<Record<EndpointState, number>> = {
  ready: 0,
  draining: 1,
  'not-serving': 2,
};

function tcpPorts(slice: SliceJson): PortJson[] {
  // kube-proxy ignores null and 0 ports; a missing protocol means TCP.
  return (slice.ports ?? []).filter(
    (p) => (p.protocol ?? 'TCP') === 'TCP' && typeof p.port === 'number' && p.port > 0,
  );
}

function portLabel(p: PortJson): string {
  return p.name !== undefined && p.name !== null && p.name !== '' ? p.name : String(p.port);
}

function matchPort(ports: readonly PortJson[], selector: PortSelector): PortJson | undefined {
  if (selector === undefined) return ports[0];
  if (typeof selector === 'number') return ports.find((p) => p.port === selector);
  return ports.find((p) => p.name === selector);
}

/**
 * Merge every slice of a Service into one endpoint set (kube-proxy's rules):
 * FQDN slices are skipped; each endpoint is paired with the port of its own
 * slice (a named target port may resolve differently per pod); entries are
 * deduplicated by address:port preferring the non-terminating one, then by
 * id preferring the best state. States follow KEP-1669: serving and not
 * terminating → ready; serving and terminating → draining; else not-serving.
 */
export function mergeSlices(slices: Iterable<SliceJson>, selector: PortSelector): MergeResult {
  const list = [...slices].filter((s) => s.addressType !== 'FQDN');
  if (selector === undefined) {
    const names = new Set<string>();
    for (const s of list) for (const p of tcpPorts(s)) names.add(portLabel(p));
    if (names.size > 1) return { kind: 'ambiguous-port', choices: [...names].sort() };
  }
  const byAddress = new Map<string, { ep: Endpoint; terminating: boolean }>();
  let portFound = false;
  const allChoices = new Set<string>();
  for (const slice of list) {
    const ports = tcpPorts(slice);
    for (const p of ports) allChoices.add(portLabel(p));
    const port = matchPort(ports, selector);
    if (port === undefined || typeof port.port !== 'number') continue;
    portFound = true;
    for (const e of slice.endpoints ?? []) {
      const address = e.addresses?.[0];
      if (address === undefined || address === '') continue;
      const c = e.conditions ?? {};
      // Missing conditions: ready and serving count as true, terminating as false.
      const serving = c.serving ?? true;
      const terminating = c.terminating ?? false;
      const state: EndpointState = serving ? (terminating ? 'draining' : 'ready') : 'not-serving';
      const key = formatHostPort(address, port.port);
      const existing = byAddress.get(key);
      if (existing !== undefined && (terminating || !existing.terminating)) continue;
      byAddress.set(key, { ep: toEndpoint(e, address, port.port, state), terminating });
    }
  }
  if (!portFound && selector !== undefined && allChoices.size > 0) {
    return { kind: 'no-such-port', choices: [...allChoices].sort() };
  }
  const byId = new Map<string, Endpoint>();
  for (const { ep } of byAddress.values()) {
    const existing = byId.get(ep.id);
    if (existing === undefined || STATE_RANK[ep.state] < STATE_RANK[existing.state])
      byId.set(ep.id, ep);
  }
  return {
    kind: 'ok',
    endpoints: [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
}

function toEndpoint(
  e: EndpointJson,
  address: string,
  port: number,
  state: EndpointState,
): Endpoint {
  const pod = e.targetRef?.kind === 'Pod' ? (e.targetRef.name ?? undefined) : undefined;
  const hostname = e.hostname ?? undefined;
  const zones = (e.hints?.forZones ?? [])
    .map((z) => z.name)
    .filter((n): n is string => typeof n === 'string');
  return {
    // The pod name, so a pod that returns with a new IP keeps its identity.
    id: pod ?? hostname ?? formatHostPort(address, port),
    address,
    port,
    weight: 1,
    state,
    ...(pod === undefined ? {} : { pod }),
    ...(hostname === undefined ? {} : { hostname }),
    ...(e.nodeName == null ? {} : { node: e.nodeName }),
    ...(e.zone == null ? {} : { zone: e.zone }),
    ...(zones.length === 0 ? {} : { zoneHints: zones }),
  };
}
