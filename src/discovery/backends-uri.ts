import { parseHostPort } from '../core/address.ts';

/** A parsed `--backends` URI: the scheme selects the discovery source. */
export type BackendsSpec = StaticBackendsSpec;

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

export const SUPPORTED_SCHEMES = ['static'] as const;

export const MAX_WEIGHT = 1000;

/**
 * Parse `--backends`. Throws an Error whose message completes
 * "--backends: ..." so the config layer can name the field.
 */
export function parseBackendsUri(uri: string): BackendsSpec {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri.trim());
  if (m === null) {
    throw new Error(`"${uri}" is not a URI (expected e.g. static://10.0.0.1:6379,10.0.0.2:6379)`);
  }
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  switch (scheme) {
    case 'static':
      return { scheme: 'static', uri, backends: parseStaticList(rest) };
    default:
      throw new Error(
        `unknown scheme "${scheme}" (expected one of: ${SUPPORTED_SCHEMES.map((s) => `${s}://`).join(', ')})`,
      );
  }
}

function parseStaticList(list: string): StaticBackendSpec[] {
  if (list.trim() === '') throw new Error('static:// needs at least one HOST:PORT');
  const seen = new Set<string>();
  return list.split(',').map((item) => {
    const eq = item.lastIndexOf('=');
    const addr = eq >= 0 ? item.slice(0, eq) : item;
    let weight = 1;
    if (eq >= 0) {
      const w = item.slice(eq + 1);
      if (!/^\d+$/.test(w) || Number(w) > MAX_WEIGHT) {
        throw new Error(`weight "${w}" of "${addr}" is not a whole number from 0 to ${MAX_WEIGHT}`);
      }
      weight = Number(w);
    }
    const hp = parseHostPort(addr, { allowPortZero: false });
    if (typeof hp === 'string') throw new Error(hp);
    if (hp.host === '::' && !addr.trim().startsWith('[')) throw new Error(`"${addr}" has no host`);
    const key = `${hp.host}:${hp.port}`;
    if (seen.has(key)) throw new Error(`"${addr}" is listed twice`);
    seen.add(key);
    return { host: hp.host, port: hp.port, weight };
  });
}
