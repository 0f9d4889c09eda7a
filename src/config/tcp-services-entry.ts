// A parser of user input (the entries of ingress-nginx's `tcp-services` ConfigMap), shared by
// `headway import ingress-nginx-tcp` and the live `--ingress-nginx-tcp-services` source: it sits in
// config/, below both.

/** One entry of ingress-nginx's `tcp-services` ConfigMap: `"PORT": "NS/SVC:PORT[:PROXY[:PROXY]]"`. */
export interface TcpServiceEntry {
  readonly listenPort: number;
  readonly namespace: string;
  readonly service: string;
  /** The Service port, by number or name, as the entry gives it. */
  readonly servicePort: number | string;
  /** The first PROXY field: clients send a PROXY header, which the listener decodes. */
  readonly decodeProxy: boolean;
  /** The second PROXY field: a PROXY header is sent to the backends. */
  readonly encodeProxy: boolean;
}

const SERVICE_PORT = /^(?:\d{1,5}|[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?)$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parses one entry the way ingress-nginx reads it; returns why it is refused as a string. */
export function parseTcpServiceEntry(key: string, value: string): TcpServiceEntry | string {
  if (!/^\d{1,5}$/.test(key) || Number(key) < 1 || Number(key) > 65535) {
    return `key "${key}" is not a port number`;
  }
  const [target = '', port = '', decode = '', encode = '', ...extra] = value.trim().split(':');
  if (extra.length > 0) return `"${value}" has more than four fields`;
  const slash = target.indexOf('/');
  if (slash < 0) return `"${value}" does not name NAMESPACE/SERVICE`;
  const namespace = target.slice(0, slash);
  const service = target.slice(slash + 1);
  if (!DNS_LABEL.test(namespace) || !DNS_LABEL.test(service)) {
    return `"${target}" is not NAMESPACE/SERVICE (lower-case DNS labels)`;
  }
  if (!SERVICE_PORT.test(port)) return `"${port}" is not a Service port number or name`;
  for (const field of [decode, encode]) {
    if (field !== '' && field !== 'PROXY') return `"${field}" is not PROXY or empty`;
  }
  return {
    listenPort: Number(key),
    namespace,
    service,
    servicePort: /^\d+$/.test(port) ? Number(port) : port,
    decodeProxy: decode === 'PROXY',
    encodeProxy: encode === 'PROXY',
  };
}
