import { isIP } from 'node:net';
import { parseHostPort } from '../core/address.ts';
import { ValueError } from '../core/errors.ts';
import { parseK8sRoutes, type K8sRoutesBackendsSpec } from './k8s-routes-uri.ts';

/** A parsed `--backends` URI: the scheme selects the discovery source. */
export type BackendsSpec =
  | StaticBackendsSpec
  | DnsBackendsSpec
  | SrvBackendsSpec
  | K8sBackendsSpec
  | SentinelBackendsSpec
  | K8sRoutesBackendsSpec;

/**
 * `sentinel://MASTER@HOST:PORT[,HOST:PORT...][?role=master|replica]`, or with
 * the sentinels found through DNS: `sentinel://MASTER@dns://NAME:PORT`,
 * `sentinel://MASTER@srv://_PORT._tcp.NAME`. The backends are the Redis
 * master (or its healthy replicas) that the sentinels name.
 */
export interface SentinelBackendsSpec {
  readonly scheme: 'sentinel';
  readonly uri: string;
  /** The name in `sentinel monitor NAME ...`. */
  readonly master: string;
  readonly role: 'master' | 'replica';
  /** Where the sentinels are: a fixed list, or a DNS/SRV name. */
  readonly sentinels: StaticBackendsSpec | DnsBackendsSpec | SrvBackendsSpec;
}

/** `k8s://[NAMESPACE/]SERVICE[:PORT]`: EndpointSlices of a Service from the Kubernetes API. */
export interface K8sBackendsSpec {
  readonly scheme: 'k8s';
  readonly uri: string;
  /** Undefined: the pod's own namespace, else the kubeconfig context's, else `default`. */
  readonly namespace: string | undefined;
  readonly service: string;
  /** EndpointSlice port name or number (the target port); undefined = the only TCP port. */
  readonly port: string | number | undefined;
}

/** `dns://NAME:PORT`: every A/AAAA record of NAME is a backend on PORT. */
export interface DnsBackendsSpec {
  readonly scheme: 'dns';
  readonly uri: string;
  /** Absolute name, with the trailing dot. */
  readonly name: string;
  readonly port: number;
}

/** `srv://_PORTNAME._tcp.NAME`: targets, ports and weights from SRV records. */
export interface SrvBackendsSpec {
  readonly scheme: 'srv';
  readonly uri: string;
  /** Absolute name, with the trailing dot. */
  readonly name: string;
}

export interface StaticBackendSpec {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface StaticBackendsSpec {
  readonly scheme: 'static';
  readonly uri: string;
  readonly backends: readonly StaticBackendSpec[];
}

export const SUPPORTED_SCHEMES = ['static', 'dns', 'srv', 'k8s', 'sentinel', 'k8s-routes'] as const;

export const MAX_WEIGHT = 1000;

/**
 * Parse `--backends`. Throws an Error whose message completes
 * "--backends: ..." so the config layer can name the field.
 */
export function parseBackendsUri(uri: string): BackendsSpec {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri.trim());
  if (m === null) {
    throw new ValueError(
      `"${uri}" is not a URI (expected e.g. static://10.0.0.1:6379,10.0.0.2:6379)`,
    );
  }
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  switch (scheme) {
    case 'static':
      return { scheme: 'static', uri, backends: parseStaticList(rest) };
    case 'dns':
      return parseDns(uri, rest);
    case 'srv':
      return parseSrv(uri, rest);
    case 'k8s':
      return parseK8s(uri, rest);
    case 'sentinel':
      return parseSentinel(uri, rest);
    case 'k8s-routes':
      return parseK8sRoutes(uri, rest);
    default:
      throw new ValueError(
        `unknown scheme "${scheme}" (expected one of: ${SUPPORTED_SCHEMES.map((s) => `${s}://`).join(', ')})`,
      );
  }
}

function parseStaticList(list: string): StaticBackendSpec[] {
  if (list.trim() === '') throw new ValueError('static:// needs at least one HOST:PORT');
  const seen = new Set<string>();
  return list.split(',').map((item) => {
    const eq = item.lastIndexOf('=');
    const addr = eq >= 0 ? item.slice(0, eq) : item;
    let weight = 1;
    if (eq >= 0) {
      const w = item.slice(eq + 1);
      if (!/^\d+$/.test(w) || Number(w) > MAX_WEIGHT) {
        throw new ValueError(
          `weight "${w}" of "${addr}" is not a whole number from 0 to ${MAX_WEIGHT}`,
        );
      }
      weight = Number(w);
    }
    const hp = parseHostPort(addr, { allowPortZero: false });
    if (typeof hp === 'string') throw new ValueError(hp);
    if (hp.host === '::' && !addr.trim().startsWith('['))
      throw new ValueError(`"${addr}" has no host`);
    const key = `${hp.host}:${hp.port}`;
    if (seen.has(key)) throw new ValueError(`"${addr}" is listed twice`);
    seen.add(key);
    return { host: hp.host, port: hp.port, weight };
  });
}

const DNS_NAME =
  /^(?=.{1,253}\.?$)[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/**
 * Names are always queried as absolute names (trailing dot): no search-list
 * expansion, so `ndots:5` in a pod's resolv.conf cannot turn one lookup into
 * a storm of NXDOMAIN queries.
 */
export function absoluteName(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function parseDns(uri: string, rest: string): DnsBackendsSpec {
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw new ValueError(`"${uri}" has no port (expected dns://NAME:PORT)`);
  const name = rest.slice(0, colon);
  const portText = rest.slice(colon + 1);
  if (isIP(name.replace(/^\[|\]$/g, '')) !== 0) {
    throw new ValueError(`"${name}" is an IP address, not a DNS name (use static://)`);
  }
  if (!DNS_NAME.test(name)) throw new ValueError(`"${name}" is not a DNS name`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new ValueError(`"${portText}" is not a port number (1-65535)`);
  }
  return { scheme: 'dns', uri, name: absoluteName(name), port: Number(portText) };
}

function parseSrv(uri: string, rest: string): SrvBackendsSpec {
  if (!/^_[a-zA-Z0-9-]+\._(tcp|udp)\./.test(rest) || !DNS_NAME.test(rest)) {
    throw new ValueError(
      `"${rest}" is not an SRV name (expected srv://_PORTNAME._tcp.SERVICE.NAMESPACE.svc.cluster.local)`,
    );
  }
  if (/^_[^.]+\._udp\./.test(rest))
    throw new ValueError('only _tcp SRV records can be proxied (Headway is TCP only)');
  return { scheme: 'srv', uri, name: absoluteName(rest) };
}

/** RFC 1123 label: Kubernetes namespace and Service names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** IANA service name: Kubernetes port names. */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

function parseK8s(uri: string, rest: string): K8sBackendsSpec {
  const m = /^(?:([^/:]+)\/)?([^/:]+)(?::([^/:]+))?$/.exec(rest);
  if (m === null) throw new ValueError(`"${uri}" is not k8s://[NAMESPACE/]SERVICE[:PORT]`);
  const [, namespace, service = '', portText] = m;
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) {
    throw new ValueError(`"${namespace}" is not a valid namespace name`);
  }
  if (!DNS_LABEL.test(service)) throw new ValueError(`"${service}" is not a valid Service name`);
  let port: string | number | undefined;
  if (portText !== undefined) {
    if (/^\d+$/.test(portText)) {
      port = Number(portText);
      if (port < 1 || port > 65535) throw new ValueError(`port ${port} is out of range (1-65535)`);
    } else if (PORT_NAME.test(portText)) {
      port = portText;
    } else {
      throw new ValueError(`"${portText}" is not a port name or number`);
    }
  }
  return { scheme: 'k8s', uri, namespace, service, port };
}

/** Sentinel master names: what `sentinel monitor` accepts in practice, without spaces or `@`. */
const MASTER_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

function parseSentinel(uri: string, rest: string): SentinelBackendsSpec {
  const q = rest.indexOf('?');
  const body = q >= 0 ? rest.slice(0, q) : rest;
  let role: 'master' | 'replica' = 'master';
  if (q >= 0) {
    for (const param of rest.slice(q + 1).split('&')) {
      const [key = '', value = ''] = param.split('=', 2);
      if (key !== 'role')
        throw new ValueError(`unknown sentinel:// parameter "${key}" (expected role)`);
      if (value !== 'master' && value !== 'replica') {
        throw new ValueError(`role "${value}" is not master or replica`);
      }
      role = value;
    }
  }
  const at = body.indexOf('@');
  if (at < 0) {
    throw new ValueError(
      `"${uri}" has no master name (expected sentinel://MASTER@HOST:PORT[,HOST:PORT...])`,
    );
  }
  const master = body.slice(0, at);
  if (!MASTER_NAME.test(master)) {
    throw new ValueError(`"${master}" is not a master name (letters, digits, _ . : -)`);
  }
  const where = body.slice(at + 1);
  const inner = /^(dns|srv):\/\/(.*)$/i.exec(where);
  let sentinels: SentinelBackendsSpec['sentinels'];
  if (inner !== null) {
    const innerUri = `${(inner[1] ?? '').toLowerCase()}://${inner[2] ?? ''}`;
    sentinels =
      inner[1]?.toLowerCase() === 'dns'
        ? parseDns(innerUri, inner[2] ?? '')
        : parseSrv(innerUri, inner[2] ?? '');
  } else {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) {
      throw new ValueError('sentinels are HOST:PORT[,HOST:PORT...], dns://NAME:PORT or srv://NAME');
    }
    const backends = parseStaticList(where);
    if (backends.some((b) => b.weight !== 1))
      throw new ValueError('sentinel addresses take no weight');
    sentinels = { scheme: 'static', uri: `static://${where}`, backends };
  }
  return { scheme: 'sentinel', uri, master, role, sentinels };
}
