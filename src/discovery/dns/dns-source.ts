import { Resolver } from 'node:dns/promises';
import { formatHostPort, type HostPort } from '../../core/address.ts';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/endpoint.ts';
import { errnoCode } from '../../core/errors.ts';
import { MAX_WEIGHT, type DnsBackendsSpec, type SrvBackendsSpec } from '../backends-uri.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from '../discovery-source.ts';
import { FlapGuard } from './flap-guard.ts';
import { backoffDelayMs, refreshDelayMs, type RefreshBounds } from './refresh-timing.ts';

export type DnsFamily = 'any' | '4' | '6';

interface AddressRecord {
  readonly address: string;
  readonly ttl: number;
}

interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/** The resolver calls used; `node:dns/promises` Resolver satisfies it, tests may fake it. */
export interface DnsResolver {
  resolve4(name: string, options: { ttl: true }): Promise<AddressRecord[]>;
  resolve6(name: string, options: { ttl: true }): Promise<AddressRecord[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

export interface DnsSourceOptions {
  readonly spec: DnsBackendsSpec | SrvBackendsSpec;
  readonly family: DnsFamily;
  /** Empty: the system resolvers (/etc/resolv.conf). */
  readonly servers: readonly HostPort[];
  readonly bounds: RefreshBounds;
  readonly flapGuard: boolean;
  /** Per-query timeout; c-ares retries once within it. */
  readonly queryTimeoutMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly resolver?: DnsResolver;
}

/** A refresh that failed in a way that says nothing about the set (keep the last good one). */
class LookupError extends Error {
  readonly reason: string;

  constructor(reason: string, cause: unknown) {
    super(`DNS lookup failed: ${reason}`, { cause });
    this.reason = reason;
  }
}

interface Answer {
  readonly endpoints: Endpoint[];
  /** Shortest TTL seen, seconds; undefined when the answer had no records. */
  readonly ttlSeconds: number | undefined;
}

/**
 * Headless-Service DNS discovery: `dns://NAME:PORT` (A/AAAA) and
 * `srv://_port._tcp.NAME` (SRV, targets resolved to addresses). Re-resolves
 * when the shortest TTL runs out (clamped, jittered); on timeouts, SERVFAIL,
 * refusals and network errors it keeps the last good set and backs off; an
 * answer that drops more than half the set must be confirmed by the next one.
 */
export class DnsSource implements DiscoverySource {
  readonly kind: 'dns' | 'srv';
  readonly uri: string;
  readonly #opts: DnsSourceOptions;
  readonly #resolver: DnsResolver;
  readonly #guard: FlapGuard;
  #sink: DiscoverySink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #current = new Map<string, Endpoint>();
  #signature = '';
  /** Whether any answer has been applied yet (the first is applied even when empty). */
  #applied = false;
  #failures = 0;
  #lastRefreshMs: number | undefined;
  #lastError: string | undefined;
  #nextRefreshMs: number | undefined;
  #queries = 0;

  constructor(opts: DnsSourceOptions) {
    this.kind = opts.spec.scheme;
    this.uri = opts.spec.uri;
    this.#opts = opts;
    this.#guard = new FlapGuard(opts.flapGuard);
    this.#resolver = opts.resolver ?? makeResolver(opts.servers, opts.queryTimeoutMs);
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    void this.#refresh();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  status(): DiscoveryStatus {
    return {
      name: this.#opts.spec.name,
      lastRefreshAt: iso(this.#lastRefreshMs),
      nextRefreshAt: iso(this.#nextRefreshMs),
      lastError: this.#lastError ?? null,
      consecutiveErrors: this.#failures,
      holdingLargeDrop: this.#guard.holding,
      queries: this.#queries,
    };
  }

  async #refresh(): Promise<void> {
    this.#timer = undefined;
    let delayMs: number;
    try {
      const answer =
        this.#opts.spec.scheme === 'dns'
          ? await this.#lookupDns(this.#opts.spec)
          : await this.#lookupSrv(this.#opts.spec);
      if (this.#stopped) return;
      this.#failures = 0;
      this.#lastError = undefined;
      this.#lastRefreshMs = this.#opts.clock.wallMs();
      this.#apply(answer.endpoints);
      delayMs = this.#guard.holding
        ? this.#opts.bounds.minMs
        : refreshDelayMs(answer.ttlSeconds, this.#opts.bounds, this.#opts.random);
    } catch (err) {
      if (this.#stopped) return;
      const reason = err instanceof LookupError ? err.reason : 'other';
      this.#failures++;
      this.#lastError = reason;
      this.#sink?.onError(reason, err);
      delayMs = backoffDelayMs(this.#failures, this.#opts.bounds, this.#opts.random);
    }
    this.#nextRefreshMs = this.#opts.clock.wallMs() + delayMs;
    this.#timer = setTimeout(() => void this.#refresh(), delayMs);
    this.#timer.unref();
  }

  #apply(endpoints: Endpoint[]): void {
    const next = new Map(endpoints.map((e) => [e.id, e]));
    if (!this.#guard.admit(new Set(this.#current.keys()), new Set(next.keys()))) return;
    const signature = endpoints
      .map((e) => `${e.id}|${e.address}|${e.port}|${e.weight}|${e.priority ?? 0}`)
      .sort()
      .join(',');
    // Unchanged answers are not re-applied: the balancer keeps its tables.
    if (this.#applied && signature === this.#signature) return;
    this.#applied = true;
    this.#signature = signature;
    this.#current = next;
    this.#sink?.onSnapshot({ endpoints, updatedAtMs: this.#opts.clock.wallMs() });
  }

  async #lookupDns(spec: DnsBackendsSpec): Promise<Answer> {
    const records = await this.#addresses(spec.name);
    return {
      endpoints: records.map((r) => ({
        id: formatHostPort(r.address, spec.port),
        address: r.address,
        port: spec.port,
        weight: 1,
        state: 'ready' as const,
      })),
      ttlSeconds: minTtl(records),
    };
  }

  async #lookupSrv(spec: SrvBackendsSpec): Promise<Answer> {
    let records: SrvRecord[];
    try {
      this.#queries++;
      records = await this.#resolver.resolveSrv(spec.name);
    } catch (err) {
      if (isEmptyAnswer(err)) return { endpoints: [], ttlSeconds: undefined };
      throw toLookupError(err);
    }
    const maxWeight = Math.max(1, ...records.map((r) => r.weight));
    const scale = maxWeight > MAX_WEIGHT ? MAX_WEIGHT / maxWeight : 1;
    const resolved = await Promise.all(
      records.map(async (r) => ({ srv: r, addresses: await this.#addresses(absolute(r.name)) })),
    );
    // Sorted so ids do not depend on the order the server lists records in.
    resolved.sort((x, y) => x.srv.name.localeCompare(y.srv.name) || x.srv.port - y.srv.port);
    const endpoints: Endpoint[] = [];
    const ttls: AddressRecord[] = [];
    const seen = new Set<string>();
    for (const { srv, addresses } of resolved) {
      const first = addresses[0];
      // A target with no address (its pod just left) is skipped, not an error.
      if (first === undefined) continue;
      const target = srv.name.replace(/\.$/, '');
      const id = seen.has(target) ? `${target}:${srv.port}` : target;
      seen.add(target);
      ttls.push(...addresses);
      endpoints.push({
        id,
        address: first.address,
        port: srv.port,
        // RFC 2782: weight 0 means "rarely", not "never".
        weight: Math.max(1, Math.round(srv.weight * scale)),
        priority: srv.priority,
        hostname: target,
        state: 'ready',
      });
    }
    return { endpoints, ttlSeconds: minTtl(ttls) };
  }

  /** A and/or AAAA records of `name`; NXDOMAIN and NODATA are empty, other failures throw LookupError. */
  async #addresses(name: string): Promise<AddressRecord[]> {
    const family = this.#opts.family;
    const lookups: Promise<AddressRecord[]>[] = [];
    if (family !== '6') lookups.push(this.#resolver.resolve4(name, { ttl: true }));
    if (family !== '4') lookups.push(this.#resolver.resolve6(name, { ttl: true }));
    this.#queries += lookups.length;
    const results = await Promise.allSettled(lookups);
    const out: AddressRecord[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') out.push(...r.value);
      else if (!isEmptyAnswer(r.reason)) throw toLookupError(r.reason);
    }
    return out;
  }
}

function makeResolver(servers: readonly HostPort[], timeoutMs: number): DnsResolver {
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 2)), tries: 2 });
  if (servers.length > 0) resolver.setServers(servers.map((s) => formatHostPort(s.host, s.port)));
  return resolver;
}

/** NXDOMAIN (no ready pod, or no such Service) and NODATA (no record of this family). */
function isEmptyAnswer(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

/** Stable, low-cardinality reasons for `headway_discovery_errors_total{reason}`. */
function toLookupError(err: unknown): LookupError {
  switch (errnoCode(err)) {
    case 'ETIMEOUT':
      return new LookupError('timeout', err);
    case 'ESERVFAIL':
      return new LookupError('servfail', err);
    case 'EREFUSED':
      return new LookupError('refused', err);
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENETUNREACH':
      return new LookupError('network', err);
    default:
      return new LookupError('other', err);
  }
}

function minTtl(records: readonly AddressRecord[]): number | undefined {
  let min: number | undefined;
  for (const r of records) if (min === undefined || r.ttl < min) min = r.ttl;
  return min;
}

function absolute(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
