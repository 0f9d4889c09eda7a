import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint, EndpointSnapshot } from '../../core/endpoint.ts';
import type { DnsBackendsSpec, SrvBackendsSpec } from '../../config/backends-uri.ts';
import type { LogFields, Logger } from '../../core/logger.ts';
import type { DiscoveryErrorInfo, DiscoverySink } from '../discovery-source.ts';
import { DnsSource, type DnsResolver, type DnsSourceOptions } from './dns-source.ts';

type AddressRecords = Awaited<ReturnType<DnsResolver['resolve4']>>;
type SrvRecords = Awaited<ReturnType<DnsResolver['resolveSrv']>>;

/** A reply that the test settles by hand (answers arriving late). */
class Deferred<T> {
  readonly promise: Promise<T>;
  resolve: (value: T) => void = () => undefined;
  reject: (err: unknown) => void = () => undefined;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

type Reply<T> = T | Error | Deferred<T>;

/** An error shaped like the ones `node:dns/promises` rejects with. */
function dnsError(code: string, syscall = 'queryA', hostname = 'test'): Error & { code: string } {
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}

function rec(address: string, ttl = 30): AddressRecords[number] {
  return { address, ttl };
}

/**
 * Scripted resolver. A name absent from every table is NXDOMAIN
 * (ENOTFOUND); a name known to one table but not another is NODATA (ENODATA).
 */
class FakeResolver implements DnsResolver {
  readonly a = new Map<string, Reply<AddressRecords>>();
  readonly aaaa = new Map<string, Reply<AddressRecords>>();
  readonly srv = new Map<string, Reply<SrvRecords>>();
  readonly calls: string[] = [];
  readonly addressOptions: unknown[] = [];

  resolve4(name: string, options: { ttl: true }): Promise<AddressRecords> {
    this.calls.push(`A ${name}`);
    this.addressOptions.push(options);
    return this.#reply(name, this.a.get(name));
  }

  resolve6(name: string, options: { ttl: true }): Promise<AddressRecords> {
    this.calls.push(`AAAA ${name}`);
    this.addressOptions.push(options);
    return this.#reply(name, this.aaaa.get(name));
  }

  resolveSrv(name: string): Promise<SrvRecords> {
    this.calls.push(`SRV ${name}`);
    return this.#reply(name, this.srv.get(name));
  }

  /** Set both address families of `name`; a family left undefined answers NODATA. */
  host(name: string, a?: Reply<AddressRecords>, aaaa?: Reply<AddressRecords>): void {
    this.a.set(name, a ?? dnsError('ENODATA', 'queryA', name));
    this.aaaa.set(name, aaaa ?? dnsError('ENODATA', 'queryAaaa', name));
  }

  nxdomain(name: string): void {
    this.a.set(name, dnsError('ENOTFOUND', 'queryA', name));
    this.aaaa.set(name, dnsError('ENOTFOUND', 'queryAaaa', name));
  }

  takeCalls(): string[] {
    return this.calls.splice(0);
  }

  #reply<T>(name: string, reply: Reply<T> | undefined): Promise<T> {
    if (reply === undefined) {
      const known = this.a.has(name) || this.aaaa.has(name) || this.srv.has(name);
      return Promise.reject(dnsError(known ? 'ENODATA' : 'ENOTFOUND', 'query', name));
    }
    if (reply instanceof Deferred) return reply.promise;
    if (reply instanceof Error) return Promise.reject(reply);
    return Promise.resolve(reply);
  }
}

interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

class RecordingLogger implements Logger {
  readonly lines: LogRecord[] = [];
  debug = (msg: string, fields?: LogFields): void => this.#push('debug', msg, fields);
  info = (msg: string, fields?: LogFields): void => this.#push('info', msg, fields);
  warn = (msg: string, fields?: LogFields): void => this.#push('warn', msg, fields);
  error = (msg: string, fields?: LogFields): void => this.#push('error', msg, fields);
  child = (): Logger => this;

  #push(level: string, msg: string, fields?: LogFields): void {
    if (level !== 'debug') this.lines.push({ level, msg, fields: { ...fields } });
  }
}

class RecordingSink implements DiscoverySink {
  readonly snapshots: EndpointSnapshot[] = [];
  readonly errors: { reason: string; err: unknown }[] = [];
  /** Per error: whether it was a partial failure (the source applied the rest). */
  readonly partial: boolean[] = [];

  onSnapshot(snapshot: EndpointSnapshot): void {
    this.snapshots.push(snapshot);
  }

  onError(reason: string, err: unknown, info?: DiscoveryErrorInfo): void {
    this.errors.push({ reason, err });
    this.partial.push(info?.partial === true);
  }

  get last(): EndpointSnapshot {
    const s = this.snapshots.at(-1);
    if (s === undefined) throw new Error('no snapshot yet');
    return s;
  }

  /** Ids of the last snapshot, sorted. */
  lastIds(): string[] {
    return this.last.endpoints.map((e) => e.id).sort();
  }

  reasons(): string[] {
    return this.errors.map((e) => e.reason);
  }
}

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const NAME = 'web.prod.svc.cluster.local.';
const PORT = 6379;
const SRV_NAME = '_tcp-main._tcp.web.prod.svc.cluster.local.';

/** Follows the faked Date, so it moves with vi.advanceTimersByTime. */
const clock: Clock = { nowMs: () => Date.now() - T0, wallMs: () => Date.now() };

const DNS_SPEC: DnsBackendsSpec = {
  scheme: 'dns',
  uri: `dns://web.prod.svc.cluster.local:${PORT}`,
  name: NAME,
  port: PORT,
};

const SRV_SPEC: SrvBackendsSpec = {
  scheme: 'srv',
  uri: 'srv://_tcp-main._tcp.web.prod.svc.cluster.local',
  name: SRV_NAME,
};

function makeSource(
  resolver: DnsResolver,
  over: Partial<Omit<DnsSourceOptions, 'resolver'>> = {},
): DnsSource {
  return new DnsSource({
    spec: DNS_SPEC,
    family: 'any',
    servers: [{ host: '127.0.0.1', port: 53 }],
    bounds: { minMs: 1000, maxMs: 30_000 },
    flapGuard: true,
    queryTimeoutMs: 2000,
    clock,
    random: () => 0,
    resolver,
    ...over,
  });
}

/** Let every pending promise chain settle (setImmediate is left real). */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush();
}

async function started(source: DnsSource, sink = new RecordingSink()): Promise<RecordingSink> {
  source.start(sink);
  await flush();
  return sink;
}

/** Milliseconds until the scheduled refresh, as status() reports it. */
function nextDelay(source: DnsSource): number {
  const next = source.status().nextRefreshAt;
  if (typeof next !== 'string') throw new Error(`no refresh scheduled: ${String(next)}`);
  return Date.parse(next) - Date.now();
}

/** Checks that the next refresh happens exactly `ms` from now, and lets it happen. */
async function expectRefreshAfter(source: DnsSource, r: FakeResolver, ms: number): Promise<void> {
  expect(nextDelay(source)).toBe(ms);
  r.takeCalls();
  await advance(ms - 1);
  expect(r.calls).toEqual([]);
  await advance(1);
  expect(r.calls.length).toBeGreaterThan(0);
}

function byId(endpoints: readonly Endpoint[]): Endpoint[] {
  return [...endpoints].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('DnsSource dns://', () => {
  it('emits the first answer as a snapshot: ip:port ids ([v6]:port), weight 1, ready', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.2'), rec('10.0.0.1')], [rec('fd00::1')]);
    const source = makeSource(r);
    expect(source.kind).toBe('dns');
    expect(source.uri).toBe(DNS_SPEC.uri);
    const sink = await started(source);
    expect(sink.errors).toEqual([]);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.last.updatedAtMs).toBe(T0);
    expect(byId(sink.last.endpoints)).toEqual([
      { id: '10.0.0.1:6379', address: '10.0.0.1', port: PORT, weight: 1, state: 'ready' },
      { id: '10.0.0.2:6379', address: '10.0.0.2', port: PORT, weight: 1, state: 'ready' },
      { id: '[fd00::1]:6379', address: 'fd00::1', port: PORT, weight: 1, state: 'ready' },
    ]);
    // Absolute names only (no search list), always asking for TTLs.
    expect(r.calls.sort()).toEqual([`A ${NAME}`, `AAAA ${NAME}`]);
    expect(r.addressOptions).toEqual([{ ttl: true }, { ttl: true }]);
    source.stop();
  });

  it.each([
    ['4', [`A ${NAME}`], ['10.0.0.1:6379']],
    ['6', [`AAAA ${NAME}`], ['[fd00::1]:6379']],
    ['any', [`A ${NAME}`, `AAAA ${NAME}`], ['10.0.0.1:6379', '[fd00::1]:6379']],
  ] as const)('family %s queries only its record types', async (family, calls, expected) => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1')], [rec('fd00::1')]);
    const source = makeSource(r, { family });
    const sink = await started(source);
    expect(r.calls.sort()).toEqual(calls);
    expect(sink.lastIds()).toEqual(expected);
    expect(source.status().queries).toBe(calls.length);
    source.stop();
  });

  it('family any: NODATA for one family gives the set of the other', async () => {
    const v4only = new FakeResolver();
    v4only.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2')]);
    const s4 = makeSource(v4only);
    const sink4 = await started(s4);
    expect(sink4.errors).toEqual([]);
    expect(sink4.lastIds()).toEqual(['10.0.0.1:6379', '10.0.0.2:6379']);
    s4.stop();

    const v6only = new FakeResolver();
    v6only.host(NAME, undefined, [rec('fd00::2')]);
    const s6 = makeSource(v6only);
    const sink6 = await started(s6);
    expect(sink6.errors).toEqual([]);
    expect(sink6.lastIds()).toEqual(['[fd00::2]:6379']);
    s6.stop();
  });

  it('family 4: NODATA is an empty set, not an error', async () => {
    const r = new FakeResolver();
    r.host(NAME, undefined, [rec('fd00::1')]);
    const source = makeSource(r, { family: '4' });
    const sink = await started(source);
    expect(sink.errors).toEqual([]);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.last.endpoints).toEqual([]);
    source.stop();
  });

  it.each([
    ['ETIMEOUT', 'timeout'],
    ['ESERVFAIL', 'servfail'],
    ['EREFUSED', 'refused'],
    ['ECONNREFUSED', 'network'],
    ['ECONNRESET', 'network'],
    ['ENETUNREACH', 'network'],
    ['EBADRESP', 'other'],
  ])('%s: onError(%s), no snapshot, the last set kept', async (code, reason) => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2')]);
    const source = makeSource(r);
    const sink = await started(source);
    expect(sink.snapshots).toHaveLength(1);

    const failure = dnsError(code, 'queryA', NAME);
    r.a.set(NAME, failure);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.reasons()).toEqual([reason]);
    const err = sink.errors[0]?.err;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).cause).toBe(failure);
    expect(source.status()).toMatchObject({ consecutiveErrors: 1 });
    // The reason, the record type, the name and the server.
    expect(source.status().lastError).toMatch(
      new RegExp(`^${reason}: DNS lookup failed: A ${NAME}`),
    );
    expect(source.status().lastError).toContain('(server 127.0.0.1:53)');

    // Recovery with the same set: nothing to apply, errors cleared.
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2')]);
    await advance(1000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.errors).toHaveLength(1);
    expect(source.status()).toMatchObject({ lastError: null, consecutiveErrors: 0 });
    source.stop();
  });

  it("a failure in one family keeps its last records and uses the other family's answer", async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')], [rec('fd00::1')]);
    const source = makeSource(r);
    const sink = await started(source);
    r.host(NAME, [rec('10.0.0.1')], dnsError('ETIMEOUT', 'queryAaaa', NAME));
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(2);
    expect(sink.lastIds()).toEqual(['10.0.0.1:6379', '[fd00::1]:6379']);
    expect(sink.reasons()).toEqual(['timeout']);
    expect(sink.partial).toEqual([true]);
    expect(source.status()).toMatchObject({ consecutiveErrors: 0 });
    expect(source.status().lastError).toMatch(/^timeout: AAAA web\.prod\S+ timed out/);
    source.stop();
  });

  it('a refused AAAA at start does not discard the A answer; logged once, counted each time', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1', 1), rec('10.0.0.2', 1)], dnsError('EREFUSED', 'queryAaaa', NAME));
    const logs = new RecordingLogger();
    const source = makeSource(r, { logger: logs });
    const sink = await started(source);
    expect(sink.lastIds()).toEqual(['10.0.0.1:6379', '10.0.0.2:6379']);
    await advance(1000);
    await advance(1000);
    expect(sink.reasons()).toEqual(['refused', 'refused', 'refused']);
    expect(sink.partial).toEqual([true, true, true]);
    const warned = logs.lines.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      msg: 'DNS AAAA query failed; using the A answer',
      fields: { type: 'AAAA', name: NAME, server: '127.0.0.1:53', reason: 'refused' },
    });
    // Recovery is said once.
    r.host(NAME, [rec('10.0.0.1', 1), rec('10.0.0.2', 1)]);
    await advance(1000);
    expect(logs.lines.filter((l) => l.msg === 'DNS query no longer fails')).toHaveLength(1);
    expect(source.status().lastError).toBeNull();
    source.stop();
  });

  it('both families failing is a failure naming both', async () => {
    const r = new FakeResolver();
    r.host(NAME, dnsError('EREFUSED', 'queryA', NAME), dnsError('EREFUSED', 'queryAaaa', NAME));
    const source = makeSource(r);
    const sink = await started(source);
    expect(sink.snapshots).toEqual([]);
    expect(sink.reasons()).toEqual(['refused']);
    expect(sink.partial).toEqual([false]);
    expect((sink.errors[0]?.err as Error).message).toBe(
      `DNS lookup failed: A ${NAME} refused (server 127.0.0.1:53); AAAA ${NAME} refused (server 127.0.0.1:53)`,
    );
    source.stop();
  });

  it('NXDOMAIN at start: warned once with name and server, shown in lastError', async () => {
    const r = new FakeResolver();
    r.nxdomain(NAME);
    const logs = new RecordingLogger();
    const source = makeSource(r, { logger: logs });
    const sink = await started(source);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.lastIds()).toEqual([]);
    await advance(5000);
    const warned = logs.lines.filter((l) => l.level === 'warn');
    expect(warned).toEqual([
      {
        level: 'warn',
        msg: 'DNS name does not exist (NXDOMAIN)',
        fields: { name: NAME, server: '127.0.0.1:53' },
      },
    ]);
    expect(source.status().lastError).toBe(`nxdomain: ${NAME} does not exist (asked 127.0.0.1:53)`);
    r.host(NAME, [rec('10.0.0.1')]);
    await advance(5000);
    expect(source.status().lastError).toBeNull();
    expect(logs.lines.at(-1)?.msg).toBe('DNS name exists again');
    source.stop();
  });

  it.each([
    ['dns://redis:6379', 'redis.', 'redis.NAMESPACE.svc.cluster.local'],
    ['dns://redis.prod:6379', 'redis.prod.', 'redis.prod.svc.cluster.local'],
  ])('NXDOMAIN for the short name %s hints at the full name', async (uri, name, full) => {
    const r = new FakeResolver();
    r.nxdomain(name);
    const logs = new RecordingLogger();
    const source = makeSource(r, { logger: logs, spec: { scheme: 'dns', uri, name, port: 6379 } });
    await started(source);
    expect(String(logs.lines[0]?.fields.hint)).toContain('search list');
    expect(String(logs.lines[0]?.fields.hint)).toContain(full);
    expect(source.status().lastError).toContain(full);
    source.stop();
  });

  it('logs a held large drop, then its confirmation', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')]);
    const logs = new RecordingLogger();
    const source = makeSource(r, { logger: logs });
    await started(source);
    r.host(NAME, [rec('10.0.0.1')]);
    await advance(30_000);
    expect(logs.lines.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'DNS answer drops more than half of the backends; holding it until the next answer confirms',
      fields: { current: 3, answered: 1, dropping: ['10.0.0.2:6379', '10.0.0.3:6379'] },
    });
    await advance(1000);
    expect(logs.lines.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'large drop confirmed by the next DNS answer; applying it',
    });
    source.stop();
  });

  it('a failing first refresh emits no snapshot; the first good answer does', async () => {
    const r = new FakeResolver();
    r.host(NAME, dnsError('ESERVFAIL', 'queryA', NAME));
    const source = makeSource(r);
    const sink = await started(source);
    expect(sink.snapshots).toEqual([]);
    expect(sink.reasons()).toEqual(['servfail']);
    expect(source.status().lastRefreshAt).toBeNull();
    r.host(NAME, [rec('10.0.0.1')]);
    await advance(1000);
    expect(sink.lastIds()).toEqual(['10.0.0.1:6379']);
    source.stop();
  });

  it('retries failures after a backoff that doubles from min and caps at max', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1', 5)]);
    const source = makeSource(r, { bounds: { minMs: 1000, maxMs: 10_000 } });
    const sink = await started(source);
    r.host(NAME, dnsError('ETIMEOUT', 'queryA', NAME));
    await advance(5000);
    expect(sink.errors).toHaveLength(1);

    for (const [i, delay] of [1000, 2000, 4000, 8000, 10_000, 10_000].entries()) {
      await expectRefreshAfter(source, r, delay);
      expect(sink.errors).toHaveLength(i + 2);
      expect(source.status().consecutiveErrors).toBe(i + 2);
    }
    expect(sink.snapshots).toHaveLength(1);

    // Success resets the backoff: the next wait follows the TTL, the next failure starts over.
    r.host(NAME, [rec('10.0.0.1', 5)]);
    await advance(10_000);
    expect(source.status().consecutiveErrors).toBe(0);
    r.host(NAME, dnsError('ESERVFAIL', 'queryA', NAME));
    await expectRefreshAfter(source, r, 5000);
    await expectRefreshAfter(source, r, 1000);
    expect(sink.reasons().at(-1)).toBe('servfail');
    source.stop();
  });

  it('NXDOMAIN once is held (no change); twice in a row empties the set', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')]);
    const source = makeSource(r);
    const sink = await started(source);
    r.nxdomain(NAME);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.errors).toEqual([]);
    expect(source.status().holdingLargeDrop).toBe(true);
    // A held drop is re-checked soon, at the minimum interval.
    await expectRefreshAfter(source, r, 1000);
    expect(sink.snapshots).toHaveLength(2);
    expect(sink.last.endpoints).toEqual([]);
    expect(source.status().holdingLargeDrop).toBe(false);
    source.stop();
  });

  it('NXDOMAIN followed by the full set changes nothing', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')]);
    const source = makeSource(r);
    const sink = await started(source);
    r.nxdomain(NAME);
    await advance(30_000);
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')]);
    await advance(1000);
    expect(sink.snapshots).toHaveLength(1);
    expect(source.status().holdingLargeDrop).toBe(false);
    source.stop();
  });

  it('with the flap guard off, NXDOMAIN empties the set at once', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3')]);
    const source = makeSource(r, { flapGuard: false });
    const sink = await started(source);
    r.nxdomain(NAME);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(2);
    expect(sink.last.endpoints).toEqual([]);
    source.stop();
  });

  it('a drop of at most half is applied at once', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2'), rec('10.0.0.3'), rec('10.0.0.4')]);
    const source = makeSource(r);
    const sink = await started(source);
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2')]);
    await advance(30_000);
    expect(sink.lastIds()).toEqual(['10.0.0.1:6379', '10.0.0.2:6379']);
    source.stop();
  });

  it('emits no new snapshot for an unchanged answer (order and TTL do not count)', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1'), rec('10.0.0.2')], [rec('fd00::1')]);
    const source = makeSource(r);
    const sink = await started(source);
    await advance(30_000);
    r.host(NAME, [rec('10.0.0.2', 20), rec('10.0.0.1', 20)], [rec('fd00::1', 20)]);
    await advance(30_000);
    await advance(20_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(source.status().queries).toBe(8);

    r.host(NAME, [rec('10.0.0.2'), rec('10.0.0.1'), rec('10.0.0.9')], [rec('fd00::1')]);
    await advance(20_000);
    expect(sink.snapshots).toHaveLength(2);
    expect(sink.lastIds()).toEqual([
      '10.0.0.1:6379',
      '10.0.0.2:6379',
      '10.0.0.9:6379',
      '[fd00::1]:6379',
    ]);
    expect(sink.last.updatedAtMs).toBe(T0 + 100_000);
    source.stop();
  });

  it('emits no new snapshot while the set stays empty', async () => {
    const r = new FakeResolver();
    r.nxdomain(NAME);
    const source = makeSource(r);
    const sink = await started(source);
    expect(sink.snapshots).toHaveLength(1);
    await advance(5000);
    await advance(5000);
    expect(sink.snapshots).toHaveLength(1);
    source.stop();
  });

  it('emits no new snapshot for NXDOMAIN after the set was emptied', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1')]);
    const source = makeSource(r);
    const sink = await started(source);
    r.nxdomain(NAME);
    await advance(30_000); // held
    await advance(1000); // confirmed: empty snapshot
    expect(sink.snapshots).toHaveLength(2);
    await advance(5000);
    await advance(5000);
    expect(sink.snapshots).toHaveLength(2);
    source.stop();
  });

  it('schedules the next refresh from the shortest TTL of the answer', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1', 30), rec('10.0.0.2', 7)], [rec('fd00::1', 12)]);
    const source = makeSource(r);
    await started(source);
    await expectRefreshAfter(source, r, 7000);
    r.host(NAME, [rec('10.0.0.1', 0), rec('10.0.0.2', 0)]);
    await expectRefreshAfter(source, r, 7000);
    // TTL 0 is raised to the minimum, a long TTL lowered to the maximum.
    r.host(NAME, [rec('10.0.0.1', 3600), rec('10.0.0.2', 3600)]);
    await expectRefreshAfter(source, r, 1000);
    await expectRefreshAfter(source, r, 30_000);
    source.stop();
  });

  it('uses 5 s for an answer without records', async () => {
    const r = new FakeResolver();
    r.nxdomain(NAME);
    const source = makeSource(r);
    await started(source);
    expect(nextDelay(source)).toBe(5000);
    source.stop();
  });

  it('jitters the wait with the injected random, shortening it only', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1', 10)]);
    const source = makeSource(r, { random: () => 0.5 });
    await started(source);
    expect(nextDelay(source)).toBe(9250);
    source.stop();
  });

  it('stop() cancels the refresh timer', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1')]);
    const source = makeSource(r);
    const sink = await started(source);
    expect(vi.getTimerCount()).toBe(1);
    source.stop();
    expect(vi.getTimerCount()).toBe(0);
    r.takeCalls();
    await advance(3_600_000);
    expect(r.calls).toEqual([]);
    expect(sink.snapshots).toHaveLength(1);
  });

  it('stop() during a lookup: a late answer is ignored and nothing is rescheduled', async () => {
    const r = new FakeResolver();
    const late = new Deferred<AddressRecords>();
    r.host(NAME, late);
    const source = makeSource(r);
    const sink = await started(source);
    source.stop();
    late.resolve([rec('10.0.0.1')]);
    await flush();
    expect(sink.snapshots).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() during a lookup: a late failure is not reported', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1')]);
    const source = makeSource(r);
    const sink = await started(source);
    const late = new Deferred<AddressRecords>();
    r.host(NAME, late);
    await advance(30_000); // the timer fires; the lookup is in flight
    source.stop();
    late.reject(dnsError('ETIMEOUT', 'queryA', NAME));
    await flush();
    expect(sink.errors).toEqual([]);
    expect(sink.snapshots).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('status() reports name, refresh times, errors, hold and query count', async () => {
    const r = new FakeResolver();
    r.host(NAME, [rec('10.0.0.1', 10), rec('10.0.0.2', 10), rec('10.0.0.3', 10)]);
    const source = makeSource(r);
    expect(source.status()).toEqual({
      name: NAME,
      lastRefreshAt: null,
      nextRefreshAt: null,
      lastError: null,
      consecutiveErrors: 0,
      holdingLargeDrop: false,
      queries: 0,
    });
    await started(source);
    expect(source.status()).toEqual({
      name: NAME,
      lastRefreshAt: new Date(T0).toISOString(),
      nextRefreshAt: new Date(T0 + 10_000).toISOString(),
      lastError: null,
      consecutiveErrors: 0,
      holdingLargeDrop: false,
      queries: 2,
    });

    r.host(NAME, dnsError('EREFUSED', 'queryA', NAME));
    await advance(10_000);
    expect(source.status()).toEqual({
      name: NAME,
      lastRefreshAt: new Date(T0).toISOString(),
      nextRefreshAt: new Date(T0 + 11_000).toISOString(),
      lastError: `refused: DNS lookup failed: A ${NAME} refused (server 127.0.0.1:53)`,
      consecutiveErrors: 1,
      holdingLargeDrop: false,
      queries: 4,
    });

    r.nxdomain(NAME);
    await advance(1000);
    expect(source.status()).toEqual({
      name: NAME,
      lastRefreshAt: new Date(T0 + 11_000).toISOString(),
      nextRefreshAt: new Date(T0 + 12_000).toISOString(),
      lastError: `nxdomain: ${NAME} does not exist (asked 127.0.0.1:53)`,
      consecutiveErrors: 0,
      holdingLargeDrop: true,
      queries: 6,
    });
    source.stop();
  });
});

function srvRecord(name: string, port: number, weight = 10, priority = 0): SrvRecords[number] {
  return { name, port, weight, priority };
}

function target(pod: string): string {
  return `${pod}.web.prod.svc.cluster.local`;
}

describe('DnsSource srv://', () => {
  function srvSource(r: FakeResolver, over: Partial<Omit<DnsSourceOptions, 'resolver'>> = {}) {
    return makeSource(r, { spec: SRV_SPEC, family: '4', ...over });
  }

  it('targets whose AAAA is refused keep their A; many at once give one summary line', async () => {
    const r = new FakeResolver();
    const pods = Array.from({ length: 30 }, (_, i) => `web-${String(i)}`);
    r.srv.set(
      SRV_NAME,
      pods.map((p) => srvRecord(target(p), 6379)),
    );
    pods.forEach((p, i) => {
      const name = `${target(p)}.`;
      r.host(name, [rec(`10.0.1.${String(i)}`)], dnsError('EREFUSED', 'queryAaaa', name));
    });
    const logs = new RecordingLogger();
    const source = srvSource(r, { family: 'any', logger: logs });
    const sink = await started(source);
    expect(sink.lastIds()).toHaveLength(30);
    expect(sink.reasons()).toHaveLength(30);
    const warned = logs.lines.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(11);
    expect(warned.at(-1)).toMatchObject({
      msg: 'more DNS queries failed; using the other family for each',
      fields: { count: 20 },
    });
    // The next refresh: counted again, not logged again.
    await advance(30_000);
    expect(sink.reasons()).toHaveLength(60);
    expect(logs.lines.filter((l) => l.level === 'warn')).toHaveLength(11);
    source.stop();
  });

  it('resolves the targets: id and hostname are the target name, port and priority from SRV', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [
      srvRecord(target('web-0'), 6379, 33, 0),
      // Some resolvers hand back the absolute form.
      srvRecord(`${target('web-1')}.`, 6380, 20, 1),
    ]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    r.host(`${target('web-1')}.`, [rec('10.0.0.2')]);
    const source = srvSource(r);
    expect(source.kind).toBe('srv');
    const sink = await started(source);
    expect(sink.errors).toEqual([]);
    expect(byId(sink.last.endpoints)).toEqual([
      {
        id: target('web-0'),
        address: '10.0.0.1',
        port: 6379,
        weight: 33,
        priority: 0,
        hostname: target('web-0'),
        state: 'ready',
      },
      {
        id: target('web-1'),
        address: '10.0.0.2',
        port: 6380,
        weight: 20,
        priority: 1,
        hostname: target('web-1'),
        state: 'ready',
      },
    ]);
    // Targets are looked up as absolute names.
    expect(r.calls.sort()).toEqual([
      `A ${target('web-0')}.`,
      `A ${target('web-1')}.`,
      `SRV ${SRV_NAME}`,
    ]);
    expect(source.status().queries).toBe(3);
    source.stop();
  });

  it('resolves targets in the configured family', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379)]);
    r.host(`${target('web-0')}.`, undefined, [rec('fd00::7')]);
    const source = srvSource(r, { family: 'any' });
    const sink = await started(source);
    expect(sink.last.endpoints).toMatchObject([{ id: target('web-0'), address: 'fd00::7' }]);
    expect(source.status().queries).toBe(3);
    source.stop();
  });

  it.each([
    [[0], [1]],
    [
      [0, 5],
      [1, 5],
    ],
    [
      [10, 20, 30],
      [10, 20, 30],
    ],
    [
      [1000, 1],
      [1000, 1],
    ],
    [
      [500, 2000],
      [250, 1000],
    ],
    [
      [65535, 32768, 1, 0],
      [1000, 500, 1, 1],
    ],
  ])('SRV weights %j become backend weights %j', async (weights, expected) => {
    const r = new FakeResolver();
    r.srv.set(
      SRV_NAME,
      weights.map((w, i) => srvRecord(target(`web-${i}`), 6379, w)),
    );
    weights.forEach((_, i) => r.host(`${target(`web-${i}`)}.`, [rec(`10.0.0.${i + 1}`)]));
    const source = srvSource(r);
    const sink = await started(source);
    expect(sink.last.endpoints.map((e) => e.weight)).toEqual(expected);
    source.stop();
  });

  it('skips a target that resolves to nothing (NXDOMAIN or NODATA)', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [
      srvRecord(target('web-0'), 6379),
      srvRecord(target('web-1'), 6379),
      srvRecord(target('web-2'), 6379),
    ]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    r.nxdomain(`${target('web-1')}.`);
    r.host(`${target('web-2')}.`, undefined, [rec('fd00::3')]); // no A record, family 4
    const source = srvSource(r);
    const sink = await started(source);
    expect(sink.errors).toEqual([]);
    expect(sink.lastIds()).toEqual([target('web-0')]);
    source.stop();
  });

  it('a target lookup error fails the refresh and keeps the last set', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-1'), 6379)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    r.host(`${target('web-1')}.`, [rec('10.0.0.2')]);
    const source = srvSource(r);
    const sink = await started(source);
    r.host(`${target('web-1')}.`, dnsError('ESERVFAIL', 'queryA', `${target('web-1')}.`));
    r.host(`${target('web-0')}.`, [rec('10.0.0.9')]);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.reasons()).toEqual(['servfail']);
    expect(sink.last.endpoints.map((e) => e.address).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(nextDelay(source)).toBe(1000);
    source.stop();
  });

  it('an SRV query error fails the refresh and keeps the last set', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    const source = srvSource(r);
    const sink = await started(source);
    r.srv.set(SRV_NAME, dnsError('ETIMEOUT', 'querySrv', SRV_NAME));
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.reasons()).toEqual(['timeout']);
    source.stop();
  });

  it('keeps the id when a target comes back with a new address', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-1'), 6379)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    r.host(`${target('web-1')}.`, [rec('10.0.0.2')]);
    const source = srvSource(r);
    const sink = await started(source);
    r.host(`${target('web-0')}.`, [rec('10.0.0.7')]);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(2);
    expect(byId(sink.last.endpoints).map((e) => [e.id, e.address])).toEqual([
      [target('web-0'), '10.0.0.7'],
      [target('web-1'), '10.0.0.2'],
    ]);
    source.stop();
  });

  it('tells apart one target listed on two ports', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-0'), 6380)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    const source = srvSource(r);
    const sink = await started(source);
    expect(sink.lastIds()).toEqual([target('web-0'), `${target('web-0')}:6380`]);
    source.stop();
  });

  // Regression: which record of a target listed twice keeps the bare id must not
  // depend on the order the server returned the records in.
  it('gives ids that do not depend on the order of the SRV records', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-0'), 6380)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    const source = srvSource(r);
    const sink = await started(source);
    const first = byId(sink.last.endpoints).map((e) => [e.id, e.port]);
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6380), srvRecord(target('web-0'), 6379)]);
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(byId(sink.last.endpoints).map((e) => [e.id, e.port])).toEqual(first);
    source.stop();
  });

  it('schedules from the shortest target TTL (SRV answers carry none)', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-1'), 6379)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1', 20)]);
    r.host(`${target('web-1')}.`, [rec('10.0.0.2', 8)]);
    const source = srvSource(r);
    await started(source);
    expect(nextDelay(source)).toBe(8000);
    source.stop();
  });

  it('NXDOMAIN for the SRV name is held once, then empties the set', async () => {
    const r = new FakeResolver();
    r.srv.set(SRV_NAME, [srvRecord(target('web-0'), 6379), srvRecord(target('web-1'), 6379)]);
    r.host(`${target('web-0')}.`, [rec('10.0.0.1')]);
    r.host(`${target('web-1')}.`, [rec('10.0.0.2')]);
    const source = srvSource(r);
    const sink = await started(source);
    r.srv.set(SRV_NAME, dnsError('ENOTFOUND', 'querySrv', SRV_NAME));
    await advance(30_000);
    expect(sink.snapshots).toHaveLength(1);
    expect(sink.errors).toEqual([]);
    await advance(1000);
    expect(sink.snapshots).toHaveLength(2);
    expect(sink.last.endpoints).toEqual([]);
    source.stop();
  });
});
