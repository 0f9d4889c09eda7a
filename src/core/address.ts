import { isIP } from 'node:net';

/** A host and port as given by the user; host may be a name or an IP literal. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parse `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all addresses). Returns an
 * error string rather than throwing so callers can name the field.
 */
export function parseHostPort(
  text: string,
  opts: { allowPortZero?: boolean } = {},
): HostPort | string {
  const s = text.trim();
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return `"${text}" is not [IPv6]:PORT`;
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return `"${text}" has no port (expected HOST:PORT)`;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) return `"${text}": put IPv6 addresses in brackets, e.g. [::1]:8080`;
    if (host === '') host = '::';
  }
  if (!/^\d{1,5}$/.test(portText)) return `"${portText}" is not a port number`;
  const port = Number(portText);
  const min = opts.allowPortZero === false ? 1 : 0;
  if (port < min || port > 65535) return `port ${port} is out of range (${min}-65535)`;
  if (host !== '' && isIP(host) === 0 && !isHostName(host))
    return `"${host}" is not a host name or IP address`;
  return { host, port };
}

function isHostName(host: string): boolean {
  return /^(?=.{1,253}\.?$)([a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/.test(
    host,
  );
}

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Strip the IPv4-mapped prefix (`::ffff:1.2.3.4` → `1.2.3.4`) of a dual-stack socket's peer. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
