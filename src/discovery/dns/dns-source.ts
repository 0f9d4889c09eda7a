import { Resolver } from 'node:dns/promises';
import { formatHostPort, type HostPort } from '../../core/address.ts';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/endpoint.ts';
import { DiscoveryError, errnoCode } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import {
  MAX_WEIGHT,
  type DnsBackendsSpec,
  type SrvBackendsSpec,
} from '../../config/backends-uri.ts';
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
  /** The servers asked, for messages (`node:dns` Resolver has it). */
  getServers?(): string[];
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
  /** Where partial failures, NXDOMAIN and held drops are logged (rate-limited). */
  readonly logger?: Logger;
}

type RecordType = 'A' | 'AAAA' | 'SRV';

/** One query (one record type of one name) that failed: timeout, SERVFAIL, REFUSED, network. */
interface QueryFailure {
  readonly type: RecordType;
  readonly name: string;
  /** Low-cardinality reason: the `reason` label of `headway_discovery_errors_total`. */
  readonly reason: string;
  /** `AAAA redis.example. refused by 127.0.0.1:53`. */
  readonly text: string;
  readonly err: unknown;
}

/** A refresh that failed in a way that says nothing about the set (keep the last good one). */
class LookupError extends DiscoveryError {
  readonly reason: string;

  constructor(failures: readonly QueryFailure[], hint: string) {
    const first = failures[0];
    super(`DNS lookup failed: ${failures.map((f) => f.text).join('; ')}${hint}`, {
      cause: first?.err,
    });
    this.reason = first?.reason ?? 'other';
  }
}

/** A partial failure that keeps failing is logged again at most this often. */
const REPEAT_LOG_MS = 10 * 60_000;
/** Ids named in a held-drop log line. */
const LOG_SAMPLE = 10;

/** What one refresh learned besides the endpoints. */
interface Round {
  /** Families that failed while another answered (the answer was used). */
  readonly partial: QueryFailure[];
  /** `TYPE name` of every address query made, to prune the last-known table. */
  readonly asked: Set<string>;
  /** The queried name itself does not exist. */
  nxdomain: boolean;
}

interface Answer {
  readonly endpoints: Endpoint[];
  /** Shortest TTL seen, seconds; undefined when the answer had no records. */
  readonly ttlSeconds: number | undefined;
  readonly round: Round;
}

/**
 * Headless-Service DNS discovery: `dns://NAME:PORT` (A/AAAA) and
 * `srv://_port._tcp.NAME` (SRV, targets resolved to addresses). Re-resolves
 * when the shortest TTL runs out (clamped, jittered); on timeouts, SERVFAIL,
 * refusals and network errors it keeps the last good set and backs off; an
 * answer that drops more than half the set must be confirmed by the next one.
 * A and AAAA are separate queries with separate outcomes: when one family
 * fails and the other answers, the answer is used, with the failing family's
 * last known records (none at start); NODATA for one family is normal.
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
  readonly #logger: Logger;
  /** `127.0.0.1:53` or `system resolvers 10.96.0.10:53`: named in every message. */
  readonly #server: string;
  /** Appended to messages about a name that is not fully qualified. */
  readonly #hint: string;
  /** Last answer of each `TYPE name`: what a family that fails now is assumed to still hold. */
  #known = new Map<string, AddressRecord[]>();
  /** Partial failures being logged: `TYPE name reason` → last log time and repeats since. */
  #partialLog = new Map<string, { atMs: number; repeats: number }>();
  #nxdomain = false;

  constructor(opts: DnsSourceOptions) {
    this.kind = opts.spec.scheme;
    this.uri = opts.spec.uri;
    this.#opts = opts;
    this.#guard = new FlapGuard(opts.flapGuard);
    this.#resolver = opts.resolver ?? makeResolver(opts.servers, opts.queryTimeoutMs);
    this.#logger = opts.logger ?? silentLogger;
    this.#server = serverLabel(opts.servers, this.#resolver);
    this.#hint = searchListHint(opts.spec);
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
      this.#lastRefreshMs = this.#opts.clock.wallMs();
      this.#noteRound(answer.round);
      this.#apply(answer.endpoints);
      delayMs = this.#guard.holding
        ? this.#opts.bounds.minMs
        : refreshDelayMs(answer.ttlSeconds, this.#opts.bounds, this.#opts.random);
    } catch (err) {
      if (this.#stopped) return;
      const reason = err instanceof LookupError ? err.reason : 'other';
      this.#failures++;
      this.#lastError = `${reason}: ${err instanceof Error ? err.message : String(err)}`;
      this.#sink?.onError(reason, err);
      delayMs = backoffDelayMs(this.#failures, this.#opts.bounds, this.#opts.random);
    }
    this.#nextRefreshMs = this.#opts.clock.wallMs() + delayMs;
    this.#timer = setTimeout(() => void this.#refresh(), delayMs);
    this.#timer.unref();
  }

  /** Report what a successful refresh learned besides the set: partial failures, NXDOMAIN. */
  #noteRound(round: Round): void {
    for (const key of this.#known.keys()) if (!round.asked.has(key)) this.#known.delete(key);
    const now = this.#opts.clock.nowMs();
    const failing = new Set<string>();
    const unlogged: string[] = [];
    let logged = 0;
    for (const f of round.partial) {
      const key = `${f.type} ${f.name} ${f.reason}`;
      failing.add(key);
      // Counted every time; logged once, then at most every REPEAT_LOG_MS.
      this.#sink?.onError(f.reason, f.err, { partial: true });
      const seen = this.#partialLog.get(key);
      if (seen !== undefined && now - seen.atMs < REPEAT_LOG_MS) {
        seen.repeats++;
      } else if (logged >= LOG_SAMPLE) {
        // Hundreds of SRV targets failing at once: one summary line, not hundreds.
        unlogged.push(f.text);
        this.#partialLog.set(key, { atMs: now, repeats: 0 });
      } else {
        logged++;
        const other = f.type === 'A' ? 'AAAA' : 'A';
        this.#logger.warn(`DNS ${f.type} query failed; using the ${other} answer`, {
          name: f.name,
          type: f.type,
          server: this.#server,
          reason: f.reason,
          error: f.text,
          ...(seen === undefined ? {} : { repeatsSinceLastLog: seen.repeats }),
        });
        this.#partialLog.set(key, { atMs: now, repeats: 0 });
      }
    }
    if (unlogged.length > 0) {
      this.#logger.warn('more DNS queries failed; using the other family for each', {
        count: unlogged.length,
        server: this.#server,
        errors: unlogged.slice(0, LOG_SAMPLE),
      });
    }
    const recovered = [...this.#partialLog.keys()].filter((key) => !failing.has(key));
    for (const key of recovered) this.#partialLog.delete(key);
    if (recovered.length > 0) {
      this.#logger.info(
        recovered.length === 1 ? 'DNS query no longer fails' : 'DNS queries no longer fail',
        {
          query: recovered.slice(0, LOG_SAMPLE).join(', '),
          count: recovered.length,
          server: this.#server,
        },
      );
    }
    const name = this.#opts.spec.name;
    if (round.nxdomain && !this.#nxdomain) {
      this.#logger.warn('DNS name does not exist (NXDOMAIN)', {
        name,
        server: this.#server,
        ...(this.#hint === '' ? {} : { hint: this.#hint.replace(/^; /, '') }),
      });
    } else if (!round.nxdomain && this.#nxdomain) {
      this.#logger.info('DNS name exists again', { name, server: this.#server });
    }
    this.#nxdomain = round.nxdomain;
    const partial = round.partial[0];
    this.#lastError = round.nxdomain
      ? `nxdomain: ${name} does not exist (asked ${this.#server})${this.#hint}`
      : partial !== undefined
        ? `${partial.reason}: ${round.partial.map((f) => f.text).join('; ')} (the other family's answer is used, with this family's last known records)`
        : undefined;
  }

  #apply(endpoints: Endpoint[]): void {
    const next = new Map(endpoints.map((e) => [e.id, e]));
    const wasHolding = this.#guard.holding;
    const admitted = this.#guard.admit(new Set(this.#current.keys()), new Set(next.keys()));
    this.#logGuard(wasHolding, admitted, next);
    if (!admitted) return;
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

  /** Say what the flap guard does: an operator sees a held drop, its confirmation or its end. */
  #logGuard(wasHolding: boolean, admitted: boolean, next: ReadonlyMap<string, Endpoint>): void {
    if (admitted && !wasHolding) return;
    const dropped = [...this.#current.keys()].filter((id) => !next.has(id));
    const fields = {
      name: this.#opts.spec.name,
      current: this.#current.size,
      answered: next.size,
      dropping: dropped.slice(0, LOG_SAMPLE),
      ...(dropped.length > LOG_SAMPLE ? { droppingTotal: dropped.length } : {}),
    };
    if (!admitted && !wasHolding) {
      this.#logger.warn(
        'DNS answer drops more than half of the backends; holding it until the next answer confirms',
        fields,
      );
    } else if (!admitted) {
      this.#logger.debug('DNS answer still drops more than half of the backends; holding', fields);
    } else if (dropped.length * 2 > this.#current.size) {
      this.#logger.warn('large drop confirmed by the next DNS answer; applying it', fields);
    } else {
      this.#logger.info('held DNS drop not confirmed; backends kept', fields);
    }
  }

  async #lookupDns(spec: DnsBackendsSpec): Promise<Answer> {
    const round: Round = { partial: [], asked: new Set(), nxdomain: false };
    const { records, nxdomain } = await this.#addresses(spec.name, round, true);
    round.nxdomain = nxdomain;
    return {
      round,
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
    const round: Round = { partial: [], asked: new Set(), nxdomain: false };
    let records: SrvRecord[];
    try {
      this.#queries++;
      records = await this.#resolver.resolveSrv(spec.name);
    } catch (err) {
      const code = errnoCode(err);
      round.nxdomain = code === 'ENOTFOUND';
      if (code === 'ENOTFOUND' || code === 'ENODATA') {
        return { endpoints: [], ttlSeconds: undefined, round };
      }
      throw new LookupError([this.#failure('SRV', spec.name, err)], this.#hint);
    }
    const maxWeight = Math.max(1, ...records.map((r) => r.weight));
    const scale = maxWeight > MAX_WEIGHT ? MAX_WEIGHT / maxWeight : 1;
    const resolved = await Promise.all(
      records.map(async (r) => ({
        srv: r,
        addresses: (await this.#addresses(absolute(r.name), round, false)).records,
      })),
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
    return { endpoints, ttlSeconds: minTtl(ttls), round };
  }

  /**
   * A and/or AAAA records of `name`, each family its own query: NXDOMAIN and
   * NODATA are empty answers. A family that fails while another answered with
   * records contributes its own last known records (none at start) and is
   * noted in `round.partial`. Otherwise a failure fails the lookup
   * (LookupError: the whole last set is kept): an empty set built on a
   * failure would be a guess.
   */
  async #addresses(
    name: string,
    round: Round,
    top: boolean,
  ): Promise<{ records: AddressRecord[]; nxdomain: boolean }> {
    const family = this.#opts.family;
    const types: ('A' | 'AAAA')[] =
      family === '4' ? ['A'] : family === '6' ? ['AAAA'] : ['A', 'AAAA'];
    this.#queries += types.length;
    const results = await Promise.allSettled(
      types.map((t) =>
        t === 'A'
          ? this.#resolver.resolve4(name, { ttl: true })
          : this.#resolver.resolve6(name, { ttl: true }),
      ),
    );
    const out: AddressRecord[] = [];
    const failed: QueryFailure[] = [];
    let nxdomain = false;
    for (const [i, r] of results.entries()) {
      const type = types[i] ?? 'A';
      const key = `${type} ${name}`;
      round.asked.add(key);
      if (r.status === 'fulfilled') {
        this.#known.set(key, r.value);
        out.push(...r.value);
        continue;
      }
      const code = errnoCode(r.reason);
      if (code === 'ENOTFOUND' || code === 'ENODATA') {
        if (code === 'ENOTFOUND') nxdomain = true;
        this.#known.set(key, []);
        continue;
      }
      failed.push(this.#failure(type, name, r.reason));
    }
    if (failed.length === 0) return { records: out, nxdomain };
    const hint = top ? this.#hint : '';
    // NXDOMAIN is about the name, not one family: the failing family has nothing either.
    if (nxdomain) return { records: [], nxdomain };
    // Only records are an answer to build on: "no AAAA" beside a failed A says nothing about A.
    if (out.length === 0) throw new LookupError(failed, hint);
    const kept = failed.flatMap((f) => this.#known.get(`${f.type} ${name}`) ?? []);
    round.partial.push(...failed);
    return { records: [...out, ...kept], nxdomain };
  }

  #failure(type: RecordType, name: string, err: unknown): QueryFailure {
    const code = errnoCode(err);
    const reason = reasonOf(code);
    const what =
      reason === 'timeout'
        ? 'timed out'
        : reason === 'servfail'
          ? 'got SERVFAIL'
          : reason === 'refused'
            ? 'refused'
            : `failed (${code ?? (err instanceof Error ? err.message : String(err))})`;
    return { type, name, reason, err, text: `${type} ${name} ${what} (server ${this.#server})` };
  }
}

function makeResolver(servers: readonly HostPort[], timeoutMs: number): DnsResolver {
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 2)), tries: 2 });
  if (servers.length > 0) resolver.setServers(servers.map((s) => formatHostPort(s.host, s.port)));
  return resolver;
}

/** Stable, low-cardinality reasons for `headway_discovery_errors_total{reason}`. */
function reasonOf(code: string | undefined): string {
  switch (code) {
    case 'ETIMEOUT':
      return 'timeout';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENETUNREACH':
      return 'network';
    default:
      return 'other';
  }
}

/** The servers a message names: the configured ones, else the system's. */
function serverLabel(servers: readonly HostPort[], resolver: DnsResolver): string {
  if (servers.length > 0) return servers.map((s) => formatHostPort(s.host, s.port)).join(',');
  const system = resolver.getServers?.() ?? [];
  return system.length > 0 ? `system resolvers ${system.join(',')}` : 'system resolvers';
}

/**
 * Names are queried as absolute names: the resolv.conf search list never
 * applies. A short name (`redis`, `redis.prod`) then fails where `getent`
 * inside the pod would have found it; say so and suggest the full name.
 */
function searchListHint(spec: DnsBackendsSpec | SrvBackendsSpec): string {
  const written = spec.uri.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '');
  if (written.endsWith('.')) return '';
  const service = written.replace(/^_[^.]+\._(tcp|udp)\./, '');
  const labels = service.split('.').filter((l) => l !== '');
  if (labels.length > 2) return '';
  const suggestion =
    labels.length === 1 ? `${service}.NAMESPACE.svc.cluster.local` : `${service}.svc.cluster.local`;
  const full = written.slice(0, written.length - service.length) + suggestion;
  return `; "${written}" is not fully qualified and Headway does not use the DNS search list: for a Kubernetes Service write the full name, e.g. ${full}`;
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
