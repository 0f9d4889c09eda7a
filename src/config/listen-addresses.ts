import { isIP } from 'node:net';
import { formatHostPort, type HostPort } from '../core/address.ts';
import { ConfigError } from '../core/errors.ts';
import type { ListenerSettings } from './schema.ts';

/**
 * The addresses the listeners of one process bind, and the rules between
 * them: which `[::]:P` is IPv6-only (the dual-stack rule), and which two
 * addresses would take the same connections (an overlap, refused at
 * validation with both listeners named, at start-up, on reload and in
 * `check-config` alike).
 */

/** Where to listen when `--listen` is not given: dual-stack, else IPv4 only. */
export const DEFAULT_LISTEN: readonly HostPort[] = [{ host: '::', port: 8080 }];

/** One address to bind, with its socket options decided. */
export interface ListenSpec extends HostPort {
  /** Bind a `::` socket IPv6-only (IPV6_V6ONLY). */
  readonly v6only: boolean;
  /**
   * Where IPv6 is unavailable (EAFNOSUPPORT/EADDRNOTAVAIL): `ipv4` binds
   * 0.0.0.0 on the same port instead (a dual-stack `[::]:P` that wanted
   * IPv4 too), `skip` leaves it out (an automatic IPv6-only `[::]:P` whose
   * IPv4 half the listener's own `0.0.0.0:P` serves), `none` fails.
   */
  readonly withoutIPv6: 'ipv4' | 'skip' | 'none';
}

type Kind = 'any4' | 'any6' | 'ip4' | 'ip6' | 'name';

function kindOf(host: string): Kind {
  if (normalHost(host) === '0.0.0.0') return 'any4';
  const family = isIP(normalHost(host));
  if (family === 4) return 'ip4';
  if (family === 6) return normalHost(host) === '::' ? 'any6' : 'ip6';
  return 'name';
}

/** `0:0::0` and `::` are the same address; names compare without case or trailing dot. */
function normalHost(host: string): string {
  if (isIP(host) === 6) {
    const h = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    // An IPv4-mapped address binds the IPv4 address: `[::ffff:127.0.0.1]:P` is `127.0.0.1:P`.
    const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
    if (m === null) return h;
    const hi = parseInt(m[1] ?? '0', 16);
    const lo = parseInt(m[2] ?? '0', 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host.toLowerCase().replace(/\.$/, '');
}

function wanted(l: ListenerSettings): readonly HostPort[] {
  return l.listen.length > 0 ? l.listen : DEFAULT_LISTEN;
}

/** Ports (not 0) on which some listener of the process binds an IPv4 address. */
function ipv4Ports(all: readonly ListenerSettings[]): Set<number> {
  const ports = new Set<number>();
  for (const l of all)
    for (const hp of wanted(l)) {
      const k = kindOf(hp.host);
      if (hp.port !== 0 && (k === 'any4' || k === 'ip4')) ports.add(hp.port);
    }
  return ports;
}

/**
 * The addresses listener `l` binds, given every listener of the process.
 * `[::]:P` is dual-stack unless `--listen-v6only on`, or `auto` (the
 * default) and some listener also binds an IPv4 address on P: then it is
 * IPv6-only, as NGINX binds `[::]` when an IPv4 `listen` shares the port.
 */
export function listenSpecs(
  l: ListenerSettings,
  all: readonly ListenerSettings[] = [l],
): ListenSpec[] {
  const v4 = ipv4Ports(all);
  const ownAny4 = new Set(
    wanted(l)
      .filter((hp) => kindOf(hp.host) === 'any4')
      .map((hp) => hp.port),
  );
  return wanted(l).map((hp) => {
    if (kindOf(hp.host) !== 'any6') return { ...hp, v6only: false, withoutIPv6: 'none' };
    const v6only = l.listenV6only === 'on' || (l.listenV6only === 'auto' && v4.has(hp.port));
    if (!v6only) return { ...hp, v6only, withoutIPv6: 'ipv4' };
    const skip = l.listenV6only === 'auto' && ownAny4.has(hp.port);
    return { ...hp, v6only, withoutIPv6: skip ? 'skip' : 'none' };
  });
}

/** An address of a listener (or of the admin endpoint), for the overlap check. */
interface Claim {
  readonly owner: string;
  readonly field: string;
  readonly spec: ListenSpec;
}

/** Would two bound addresses take the same connections? Port 0 (any free port) never overlaps. */
export function overlaps(a: ListenSpec, b: ListenSpec): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  const ka = kindOf(a.host);
  const kb = kindOf(b.host);
  if (normalHost(a.host) === normalHost(b.host)) return true;
  const covers = (w: Kind, wSpec: ListenSpec, other: Kind): boolean =>
    (w === 'any4' && other === 'ip4') ||
    (w === 'any6' && other === 'ip6') ||
    (w === 'any6' && !wSpec.v6only && (other === 'ip4' || other === 'any4'));
  return covers(ka, a, kb) || covers(kb, b, ka);
}

function describe(c: Claim): string {
  const addr = formatHostPort(c.spec.host, c.spec.port);
  const dual =
    kindOf(c.spec.host) === 'any6' ? (c.spec.v6only ? ' (IPv6-only)' : ' (dual-stack)') : '';
  return c.owner === 'admin'
    ? `${addr}${dual} of the admin endpoint`
    : `${addr}${dual} of listener "${c.owner}"`;
}

/**
 * Every pair of overlapping addresses, as ConfigErrors naming both owners
 * (`fieldOf(i)` names listener i's `listen` where the user wrote it). The
 * admin endpoint takes part: it binds dual-stack.
 */
export function listenOverlaps(
  listeners: readonly ListenerSettings[],
  admin: HostPort | null,
  fieldOf: (index: number) => string,
): ConfigError[] {
  const claims: Claim[] = [];
  if (admin !== null)
    claims.push({
      owner: 'admin',
      field: '--admin',
      spec: { ...admin, v6only: false, withoutIPv6: 'ipv4' },
    });
  listeners.forEach((l, i) => {
    for (const spec of listenSpecs(l, listeners))
      claims.push({ owner: l.name, field: fieldOf(i), spec });
  });
  const errors: ConfigError[] = [];
  for (let j = 0; j < claims.length; j++) {
    const b = claims[j];
    if (b === undefined) continue;
    for (let i = 0; i < j; i++) {
      const a = claims[i];
      if (a === undefined || !overlaps(a.spec, b.spec)) continue;
      const hint =
        kindOf(a.spec.host) === 'any6' || kindOf(b.spec.host) === 'any6'
          ? ' (a dual-stack [::] also takes IPv4: set v6only on, or drop one)'
          : '';
      errors.push(new ConfigError(b.field, `${describe(b)} overlaps ${describe(a)}${hint}`));
      break;
    }
  }
  return errors;
}

/** Throw the first overlap (the resolver's contract: one ConfigError, exit 2). */
export function checkListenOverlaps(
  listeners: readonly ListenerSettings[],
  admin: HostPort | null,
  fieldOf: (index: number) => string,
): void {
  const first = listenOverlaps(listeners, admin, fieldOf)[0];
  if (first !== undefined) throw first;
}
