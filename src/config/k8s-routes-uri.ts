import { ValueError } from '../core/errors.ts';
/**
 * `k8s-routes://ROUTE[;ROUTE...]`: several routes served by one listener, each
 * a weighted split over Kubernetes Services, optionally chosen by TLS server
 * name. What the Gateway API (TCPRoute, TLSRoute) and the ingress-nginx
 * tcp-services drop-in translate to; also writable by hand:
 *
 *     ROUTE = [NAME|NAME...@]REF[,REF...]
 *     REF   = NAMESPACE/SERVICE[:PORT]=WEIGHT      (EndpointSlices of the Service)
 *           | !REASON=WEIGHT                       (a share refused at once)
 *
 * e.g. `k8s-routes://db.example.com|*.db.example.com@prod/pg:5432=1;prod/redis=3,!BackendNotFound=1`.
 * PORT is the EndpointSlice port name or target port, as in `k8s://`.
 */
export interface K8sRoutesBackendsSpec {
  readonly scheme: 'k8s-routes';
  readonly uri: string;
  readonly routes: readonly K8sRouteSpec[];
}

export interface K8sRouteSpec {
  /** Exact names or `*.suffix`; empty: every connection (the listener reads no SNI for it). */
  readonly serverNames: readonly string[];
  readonly refs: readonly K8sWeightedRef[];
}

export type K8sWeightedRef =
  | {
      readonly kind: 'service';
      readonly namespace: string;
      readonly service: string;
      readonly port: string | number | undefined;
      readonly weight: number;
    }
  /** A backend that cannot be served (missing, not permitted): its share is refused. */
  | { readonly kind: 'reject'; readonly reason: string; readonly weight: number };

/** Gateway API weights go to 1,000,000. */
export const MAX_ROUTE_WEIGHT = 1_000_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const SERVER_NAME =
  /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const REASON = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** Parse the part after `k8s-routes://`; throws an Error that completes "--backends: ...". */
export function parseK8sRoutes(uri: string, rest: string): K8sRoutesBackendsSpec {
  if (rest.trim() === '') throw new ValueError('k8s-routes:// needs at least one route');
  const routes = rest.split(';').map((text, i) => parseRoute(text.trim(), i));
  const seen = new Set<string>();
  for (const r of routes) {
    for (const name of r.serverNames) {
      if (seen.has(name)) throw new ValueError(`server name "${name}" is in two routes`);
      seen.add(name);
    }
  }
  if (routes.filter((r) => r.serverNames.length === 0).length > 1) {
    throw new ValueError('only one route may take every server name (have no NAME@)');
  }
  return { scheme: 'k8s-routes', uri, routes };
}

function parseRoute(text: string, index: number): K8sRouteSpec {
  const at = text.indexOf('@');
  const names =
    at < 0
      ? []
      : text
          .slice(0, at)
          .split('|')
          .map((n) => n.trim().toLowerCase());
  for (const n of names) {
    if (!SERVER_NAME.test(n))
      throw new ValueError(`route ${index + 1}: "${n}" is not a server name`);
  }
  const refsText = at < 0 ? text : text.slice(at + 1);
  if (refsText === '') throw new ValueError(`route ${index + 1} has no backends`);
  return { serverNames: names, refs: refsText.split(',').map((r) => parseRef(r.trim(), index)) };
}

function parseRef(text: string, index: number): K8sWeightedRef {
  const eq = text.lastIndexOf('=');
  if (eq < 0) throw new ValueError(`route ${index + 1}: "${text}" has no =WEIGHT`);
  const weightText = text.slice(eq + 1);
  const weight = /^\d{1,7}$/.test(weightText) ? Number(weightText) : NaN;
  if (!(weight <= MAX_ROUTE_WEIGHT)) {
    throw new ValueError(
      `route ${index + 1}: weight "${weightText}" is not a whole number from 0 to ${MAX_ROUTE_WEIGHT}`,
    );
  }
  const target = text.slice(0, eq);
  if (target.startsWith('!')) {
    const reason = target.slice(1);
    if (!REASON.test(reason))
      throw new ValueError(`route ${index + 1}: "${reason}" is not a reason`);
    return { kind: 'reject', reason, weight };
  }
  const m = /^([^/:]+)\/([^/:]+)(?::([^/:]+))?$/.exec(target);
  if (m === null)
    throw new ValueError(`route ${index + 1}: "${target}" is not NAMESPACE/SERVICE[:PORT]`);
  const [, namespace = '', service = '', portText] = m;
  if (!DNS_LABEL.test(namespace))
    throw new ValueError(`"${namespace}" is not a valid namespace name`);
  if (!DNS_LABEL.test(service)) throw new ValueError(`"${service}" is not a valid Service name`);
  let port: string | number | undefined;
  if (portText !== undefined) {
    if (/^\d{1,5}$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535)
      port = Number(portText);
    else if (PORT_NAME.test(portText)) port = portText;
    else throw new ValueError(`"${portText}" is not a port name or number`);
  }
  return { kind: 'service', namespace, service, port, weight };
}

/** The URI of a spec: what the Gateway translation writes as a listener's `backends`. */
export function formatK8sRoutes(routes: readonly K8sRouteSpec[]): string {
  const text = routes
    .map((r) => {
      const refs = r.refs
        .map((ref) =>
          ref.kind === 'reject'
            ? `!${ref.reason}=${ref.weight}`
            : `${ref.namespace}/${ref.service}${ref.port === undefined ? '' : `:${ref.port}`}=${ref.weight}`,
        )
        .join(',');
      return r.serverNames.length === 0 ? refs : `${r.serverNames.join('|')}@${refs}`;
    })
    .join(';');
  return `k8s-routes://${text}`;
}
