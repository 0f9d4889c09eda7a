import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../core/endpoint.ts';
import { ConfigError } from '../../core/errors.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
import { parseBackendsUri, type SentinelBackendsSpec } from '../../config/backends-uri.ts';
import { PushSource } from '../push-source.ts';
import { StaticSource } from '../static-source.ts';
import { RespErrorReply, RespParser, type RespValue } from './resp.ts';
import {
  MAX_SENTINELS,
  SentinelSource,
  healthyReplicas,
  promotionInProgress,
} from './sentinel-source.ts';

/** A RESP reply for the fake: strings are bulk strings. */
type Reply = string | number | null | { err: string } | readonly Reply[];

function encode(v: Reply): string {
  if (v === null) return '$-1\r\n';
  if (typeof v === 'number') return `:${v}\r\n`;
  if (typeof v === 'string') return `$${Buffer.byteLength(v)}\r\n${v}\r\n`;
  if (Array.isArray(v)) return `*${v.length}\r\n${v.map(encode).join('')}`;
  return `-${(v as { err: string }).err}\r\n`;
}

interface FakeState {
  password?: string;
  master: [string, number] | null;
  epoch: number;
  flags: string;
  failoverState: string;
  replicas: Record<string, string>[];
}

/** Just enough of a sentinel: AUTH, SENTINEL get-master-addr-by-name / master / replicas, SUBSCRIBE. */
class FakeSentinel {
  readonly state: FakeState = {
    master: ['10.0.0.1', 6379],
    epoch: 0,
    flags: 'master',
    failoverState: 'none',
    replicas: [],
  };
  /** Commands per connection, in order (AUTH's argument included, to check it came first). */
  readonly connections: string[][] = [];
  readonly #subscribers = new Set<Socket>();
  /** Subscribers stop answering PING (a sentinel gone without a FIN). */
  muteSubscribers = false;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  async listen(port = 0): Promise<void> {
    this.#server = createServer((s) => this.#serve(s));
    this.#server.listen({ host: '127.0.0.1', port });
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as AddressInfo).port;
  }

  #serve(s: Socket): void {
    this.#sockets.add(s);
    s.on('close', () => {
      this.#sockets.delete(s);
      this.#subscribers.delete(s);
    });
    s.on('error', () => undefined);
    const log: string[] = [];
    this.connections.push(log);
    const parser = new RespParser();
    let authed = this.state.password === undefined;
    s.on('data', (chunk: Buffer) => {
      for (const cmd of parser.push(chunk)) {
        const args = (cmd as RespValue[]).map(String);
        log.push(args.join(' '));
        const [name = '', sub = ''] = args;
        if (name.toUpperCase() === 'AUTH') {
          authed = args[1] === this.state.password;
          s.write(encode(authed ? 'OK' : { err: 'WRONGPASS invalid username-password pair' }));
        } else if (!authed) {
          s.write(encode({ err: 'NOAUTH Authentication required.' }));
        } else if (name === 'PING') {
          if (!(this.muteSubscribers && this.#subscribers.has(s))) s.write(encode(['pong', '']));
        } else if (name === 'SUBSCRIBE') {
          this.#subscribers.add(s);
          args.slice(1).forEach((ch, i) => s.write(encode(['subscribe', ch, i + 1])));
        } else if (name === 'SENTINEL' && sub === 'get-master-addr-by-name') {
          const m = this.state.master;
          s.write(m === null ? '*-1\r\n' : encode([m[0], String(m[1])]));
        } else if (name === 'SENTINEL' && sub === 'master') {
          s.write(
            this.state.master === null
              ? encode({ err: 'ERR No such master with that name' })
              : encode([
                  'name',
                  'm',
                  'flags',
                  this.state.flags,
                  'failover-state',
                  this.state.failoverState,
                  'config-epoch',
                  String(this.state.epoch),
                ]),
          );
        } else if (name === 'SENTINEL' && sub === 'replicas') {
          s.write(encode(this.state.replicas.map((r) => Object.entries(r).flat())));
        } else {
          s.write(encode({ err: 'ERR unknown command' }));
        }
      }
    });
  }

  publish(channel: string, payload: string): void {
    for (const s of this.#subscribers) s.write(encode(['message', channel, payload]));
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server?.close(() => r()));
  }
}

const clock = { nowMs: () => performance.now(), wallMs: () => Date.now() };
let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function fakes(n: number): Promise<FakeSentinel[]> {
  const list: FakeSentinel[] = [];
  for (let i = 0; i < n; i++) {
    const f = new FakeSentinel();
    await f.listen();
    cleanup.push(() => f.close());
    list.push(f);
  }
  return list;
}

interface Harness {
  readonly source: SentinelSource;
  readonly snapshots: EndpointSnapshot[];
  readonly errors: string[];
  readonly peerErrors: string[];
  readonly logs: string[];
  last(): string[] | undefined;
}

async function harness(
  sentinels: FakeSentinel[],
  opts: {
    role?: 'replica';
    passwordFile?: string;
    env?: Record<string, string>;
    refreshMs?: number;
  } = {},
): Promise<Harness> {
  const list = sentinels.map((f) => `127.0.0.1:${f.port}`).join(',');
  const spec = parseBackendsUri(
    `sentinel://m@${list}${opts.role === 'replica' ? '?role=replica' : ''}`,
  ) as SentinelBackendsSpec;
  if (spec.sentinels.scheme !== 'static') throw new Error('static expected');
  const logs: string[] = [];
  const logger: Logger = createLogger({
    level: 'debug',
    format: 'json',
    write: (l) => logs.push(l),
  });
  const source = new SentinelSource({
    spec,
    finder: new StaticSource(spec.sentinels, clock),
    passwordFile: opts.passwordFile ?? null,
    env: opts.env ?? {},
    clock,
    random: () => 0.5,
    logger,
    timing: {
      refreshMs: opts.refreshMs ?? 60_000,
      backoffMinMs: 20,
      backoffMaxMs: 100,
      logEveryMs: 60_000,
      commandTimeoutMs: 1000,
      connectTimeoutMs: 1000,
    },
  });
  await source.init();
  const h: Harness = {
    source,
    snapshots: [],
    errors: [],
    peerErrors: [],
    logs,
    last: () => h.snapshots.at(-1)?.endpoints.map((e) => e.id),
  };
  source.start({
    onSnapshot: (s) => h.snapshots.push(s),
    onError: (reason) => h.errors.push(reason),
    onPeerError: (peer, reason) => h.peerErrors.push(`${peer} ${reason}`),
  });
  cleanup.push(() => source.stop());
  return h;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SentinelSource', () => {
  it('delivers the master, and moves on an event without waiting for the periodic refresh', async () => {
    const [a, b] = await fakes(2);
    if (a === undefined || b === undefined) throw new Error('fakes');
    const h = await harness([a, b]);
    await until(() => h.last()?.[0] === '10.0.0.1:6379');
    await until(() => a.subscribers === 1 && b.subscribers === 1);
    // The leader promotes 10.0.0.2 (epoch 1) and publishes; the other still says the old one.
    a.state.master = ['10.0.0.2', 6379];
    a.state.epoch = 1;
    a.publish('+promoted-slave', 'slave 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379');
    await until(() => h.last()?.[0] === '10.0.0.2:6379', 2000);
    expect(h.snapshots).toHaveLength(2);
    expect(h.source.status()).toMatchObject({ currentMaster: '10.0.0.2:6379', configEpoch: 1 });
  });

  it('follows a promotion under way (REPLICAOF NO ONE sent), and returns if the failover aborts', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    const h = await harness([a]);
    await until(() => h.last()?.[0] === '10.0.0.1:6379' && a.subscribers === 1);
    a.state.flags = 'master,failover_in_progress';
    a.state.failoverState = 'wait_promotion';
    a.state.replicas = [{ ip: '10.0.0.3', port: '6379', flags: 'slave,promoted' }];
    a.publish(
      '+failover-state-wait-promotion',
      'slave 10.0.0.3:6379 10.0.0.3 6379 @ m 10.0.0.1 6379',
    );
    await until(() => h.last()?.[0] === '10.0.0.3:6379', 2000);
    a.state.flags = 'master';
    a.state.failoverState = 'none';
    a.state.replicas = [{ ip: '10.0.0.3', port: '6379', flags: 'slave' }];
    a.publish('-failover-abort-slave-timeout', 'master m 10.0.0.1 6379');
    await until(() => h.last()?.[0] === '10.0.0.1:6379', 2000);
  });

  it('authenticates first on every connection; a wrong password is counted as auth, never logged', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    a.state.password = 'right-one';
    const dir = mkdtempSync(join(tmpdir(), 'headway-sentinel-unit-'));
    const file = join(dir, 'pw');
    writeFileSync(file, 'right-one\n');
    const h = await harness([a], {
      passwordFile: file,
      env: { HEADWAY_SENTINEL_PASSWORD: 'ignored' },
    });
    await until(() => h.last()?.[0] === '10.0.0.1:6379' && a.subscribers === 1);
    expect(a.connections.length).toBeGreaterThanOrEqual(2);
    for (const c of a.connections) expect(c[0]).toBe('AUTH right-one');

    const [b] = await fakes(1);
    if (b === undefined) throw new Error('fakes');
    b.state.password = 'right-one';
    const bad = await harness([b], { env: { HEADWAY_SENTINEL_PASSWORD: 'wrong-one' } });
    await until(() => bad.peerErrors.length >= 2);
    expect(bad.peerErrors[0]).toBe(`127.0.0.1:${b.port} auth`);
    expect(bad.snapshots).toEqual([]);
    const text = bad.logs.join('') + JSON.stringify(bad.source.status()) + h.logs.join('');
    expect(text).toContain('sentinel error');
    expect(text).not.toContain('wrong-one');
    expect(text).not.toContain('right-one');
  });

  it('keeps the last master while every sentinel is down; reconnects when one returns', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    const h = await harness([a]);
    await until(() => h.last()?.[0] === '10.0.0.1:6379');
    const port = a.port;
    await a.close();
    await until(() => h.errors.includes('sentinels-unreachable'));
    expect(h.snapshots).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.snapshots).toHaveLength(1);
    expect(h.errors.filter((e) => e === 'sentinels-unreachable')).toHaveLength(1);
    expect(h.peerErrors.length).toBeGreaterThan(1);
    // One warning line for many failures (rate-limited), naming the sentinel.
    const warnings = h.logs.filter((l) => l.includes('sentinel error'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${port}`);

    const back = new FakeSentinel();
    back.state.master = ['10.0.0.9', 6379];
    await back.listen(port);
    cleanup.push(() => back.close());
    await until(() => h.last()?.[0] === '10.0.0.9:6379', 3000);
  });

  it('?role=replica: the healthy replicas of the sentinel with the newest configuration', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    a.state.replicas = [
      { ip: '10.0.0.2', port: '6379', flags: 'slave', 'master-link-status': 'ok' },
      { ip: '10.0.0.3', port: '6379', flags: 'slave,s_down', 'master-link-status': 'ok' },
      { ip: '10.0.0.4', port: '6379', flags: 'slave', 'master-link-status': 'err' },
      { ip: '10.0.0.5', port: '6379', flags: 'slave,disconnected', 'master-link-status': 'ok' },
      { ip: '10.0.0.6', port: '6379', flags: 'slave', 'master-link-status': 'ok' },
    ];
    const h = await harness([a], { role: 'replica', refreshMs: 50 });
    await until(() => h.last()?.join() === '10.0.0.2:6379,10.0.0.6:6379');
    a.state.replicas = [{ ip: '10.0.0.6', port: '6379', flags: 'slave,o_down' }];
    await until(() => h.last()?.join() === '');
  });

  it('rebuilds a subscriber connection that stops answering PING', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    const h = await harness([a], { refreshMs: 100 });
    await until(() => a.subscribers === 1);
    const subscribes = (): number =>
      a.connections.filter((c) => c.some((cmd) => cmd.startsWith('SUBSCRIBE'))).length;
    expect(subscribes()).toBe(1);
    a.muteSubscribers = true;
    await until(() => subscribes() >= 2, 5000);
    expect(h.peerErrors).toContain(`127.0.0.1:${a.port} timeout`);
  });

  it('a sentinel that does not know the master is an error, not an empty set', async () => {
    const [a] = await fakes(1);
    if (a === undefined) throw new Error('fakes');
    a.state.master = null;
    const h = await harness([a]);
    await until(() => h.peerErrors.length > 0);
    expect(h.snapshots).toEqual([]);
    expect(h.logs.join('')).toContain('does not monitor a master named');
  });

  it('refuses an unreadable or empty password file at init, naming the flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headway-sentinel-unit-'));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    for (const file of [join(dir, 'missing'), empty]) {
      const err = await harness(await fakes(1), { passwordFile: file }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe('--sentinel-password-file');
    }
  });
});

describe('reading SENTINEL replies', () => {
  const reply = (...items: Record<string, string>[]): RespValue =>
    items.map((r) => Object.entries(r).flat());

  it('healthyReplicas skips down, disconnected, promoted and broken-link replicas', () => {
    expect(
      healthyReplicas(
        reply(
          { ip: 'b', port: '2', flags: 'slave' },
          { ip: 'a', port: '1', flags: 'slave', 'master-link-status': 'ok' },
          { ip: 'c', port: '3', flags: 'slave,promoted' },
          { ip: 'd', port: 'x', flags: 'slave' },
        ),
      ),
    ).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(healthyReplicas(new RespErrorReply('ERR'))).toEqual([]);
  });

  it('promotionInProgress needs the failover flag, a promoting state and a promoted replica', () => {
    const replicas = reply({ ip: 'r', port: '7', flags: 'slave,promoted' });
    const fields = (flags: string, state: string): Map<string, string> =>
      new Map([
        ['flags', flags],
        ['failover-state', state],
      ]);
    expect(
      promotionInProgress(fields('master,failover_in_progress', 'wait_promotion'), replicas),
    ).toEqual({ host: 'r', port: 7 });
    expect(
      promotionInProgress(fields('master,failover_in_progress', 'select_slave'), replicas),
    ).toBeUndefined();
    expect(promotionInProgress(fields('master', 'wait_promotion'), replicas)).toBeUndefined();
    expect(
      promotionInProgress(
        fields('master,failover_in_progress', 'send_slaveof_noone'),
        reply({ ip: 'r', port: '7', flags: 'slave' }),
      ),
    ).toBeUndefined();
  });
});

describe('SentinelSource against a hostile sentinel', () => {
  it('drops a connection that sends garbage or an endless reply, counts it, and keeps the other sentinel', async () => {
    const [good] = await fakes(1);
    if (good === undefined) throw new Error('fakes');
    let n = 0;
    const open = new Set<Socket>();
    const evil = createServer((s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
      // Read (and drop) what the client sends, so that its close is seen.
      s.resume();
      // Alternately: a bad type byte, and a bulk string far beyond the parser's bound.
      if (n++ % 2 === 0) s.write('?what\r\n');
      else s.write(`$${64 * 1024 * 1024}\r\n` + 'x'.repeat(2 * 1024 * 1024));
    });
    evil.listen({ host: '127.0.0.1', port: 0 });
    await once(evil, 'listening');
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          for (const s of open) s.destroy();
          evil.close(() => r());
        }),
    );
    const evilPort = (evil.address() as AddressInfo).port;
    const spec = parseBackendsUri(
      `sentinel://m@127.0.0.1:${good.port},127.0.0.1:${evilPort}`,
    ) as SentinelBackendsSpec;
    if (spec.sentinels.scheme !== 'static') throw new Error('static expected');
    const snapshots: EndpointSnapshot[] = [];
    const peerErrors: string[] = [];
    const source = new SentinelSource({
      spec,
      finder: new StaticSource(spec.sentinels, clock),
      passwordFile: null,
      env: {},
      clock,
      random: () => 0.5,
      logger: createLogger({ level: 'error', format: 'json', write: () => undefined }),
      timing: { refreshMs: 50, backoffMinMs: 20, backoffMaxMs: 50, commandTimeoutMs: 500 },
    });
    cleanup.push(() => source.stop());
    await source.init();
    source.start({
      onSnapshot: (s) => snapshots.push(s),
      onError: () => undefined,
      onPeerError: (peer, reason) => peerErrors.push(`${peer} ${reason}`),
    });
    await until(
      () =>
        snapshots.length > 0 &&
        peerErrors.filter((e) => e === `127.0.0.1:${evilPort} protocol`).length >= 2,
    );
    expect(snapshots.at(-1)?.endpoints.map((e) => e.id)).toEqual(['10.0.0.1:6379']);
    expect(source.status()['sentinelsAnswering']).toBe(1);
  });
});

describe('SentinelSource limits', () => {
  it('connects to at most MAX_SENTINELS sentinels, whatever DNS lists', async () => {
    const endpoints = Array.from({ length: 40 }, (_, i) => ({
      id: `s${i}`,
      address: '127.0.0.1',
      port: 1 + i,
      weight: 1,
      state: 'ready' as const,
    }));
    const spec = parseBackendsUri('sentinel://m@127.0.0.1:1') as SentinelBackendsSpec;
    const logs: string[] = [];
    const finder = new PushSource('dns', 'dns://x:1');
    finder.push({ endpoints, updatedAtMs: 0 });
    const source = new SentinelSource({
      spec,
      finder,
      passwordFile: null,
      env: {},
      clock,
      random: () => 0.5,
      logger: createLogger({ level: 'warn', format: 'json', write: (l) => logs.push(l) }),
      timing: { backoffMinMs: 60_000, backoffMaxMs: 60_000, refreshMs: 60_000 },
    });
    cleanup.push(() => source.stop());
    await source.init();
    source.start({ onSnapshot: () => undefined, onError: () => undefined });
    expect(String(source.status()['sentinels']).split(', ')).toHaveLength(MAX_SENTINELS);
    expect(logs.join('')).toContain('too many sentinels');
  });
});
