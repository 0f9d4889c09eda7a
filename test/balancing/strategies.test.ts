import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRATEGY_NAMES } from '../../src/config/strategy-names.ts';
import {
  runHeadway,
  spawnHeadway,
  startProxy,
  type HeadwayProcess,
  type RunningProxy,
} from '../helpers/headway-process.ts';
import {
  connectTo,
  eventually,
  readAll,
  startEcho,
  startServer,
  type Backend,
} from '../helpers/sockets.ts';
import { listenerReport, type ListenerReport } from '../kit/backends-report.ts';

function backendsOf(proxy: RunningProxy): Promise<ListenerReport> {
  return listenerReport(proxy.adminUrl);
}

async function totals(proxy: RunningProxy): Promise<Map<string, number>> {
  return new Map((await backendsOf(proxy)).backends.map((b) => [b.id, b.total]));
}

/** One short exchange through the proxy: send, read the echo until the backend's FIN. */
async function exchange(port: number, payload = 'ping'): Promise<string> {
  const socket = await connectTo(port);
  socket.end(payload);
  return (await readAll(socket)).toString();
}

describe('every strategy through the CLI', () => {
  let echoes: Backend[];

  beforeAll(async () => {
    echoes = await Promise.all([startEcho(), startEcho(), startEcho()]);
  });

  afterAll(async () => {
    await Promise.all(echoes.map((e) => e.close()));
  });

  it.each(STRATEGY_NAMES)('--strategy %s relays and uses the backends', async (strategy) => {
    const proxy = await startProxy([
      '--strategy',
      strategy,
      '--backends',
      `static://${echoes.map((e) => e.address).join(',')}`,
    ]);
    try {
      for (let i = 0; i < 30; i++) expect(await exchange(proxy.port, `m${i}`)).toBe(`m${i}`);
      const listener = await backendsOf(proxy);
      expect(listener.strategy).toBe(strategy);
      const used = listener.backends.filter((b) => b.total > 0);
      expect(used.reduce((n, b) => n + b.total, 0)).toBe(30);
      // Every client here is 127.0.0.1: sticky keeps it on one backend; primary uses one by design.
      expect(used).toHaveLength(strategy === 'sticky' || strategy === 'primary' ? 1 : 3);
    } finally {
      await proxy.stop();
    }
  });

  it('--sticky-key client-ip-port spreads one client address over the backends', async () => {
    const proxy = await startProxy([
      '--strategy',
      'sticky',
      '--sticky-key',
      'client-ip-port',
      '--sticky-bounded-load',
      '1.5',
      '--backends',
      `static://${echoes.map((e) => e.address).join(',')}`,
    ]);
    try {
      for (let i = 0; i < 30; i++) expect(await exchange(proxy.port)).toBe('ping');
      const used = (await backendsOf(proxy)).backends.filter((b) => b.total > 0);
      expect(used.length).toBeGreaterThan(1);
    } finally {
      await proxy.stop();
    }
  });

  it.each([
    [
      '--sticky-key',
      'mac',
      /^--sticky-key: unknown value "mac" \(expected one of: client-ip, client-ip-port\)$/,
    ],
    [
      '--sticky-bounded-load',
      '0.5',
      /^--sticky-bounded-load: "0\.5" is not a load factor \(a number from 1 to 100, e\.g\. 1\.25, or off\)$/,
    ],
    ['--latency-decay', '0', /^--latency-decay: 0 is too short \(at least 1ms\)$/],
  ])('refuses %s %s with exit code 2', async (flag, value, line) => {
    const result = await runHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      flag,
      value,
      '--backends',
      'static://127.0.0.1:9',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().replace(/^headway: /, '')).toMatch(line);
  });
});

describe('least-conn with long-lived clients', () => {
  const names = ['a', 'b', 'c'];
  let servers: Backend[];
  let proxy: RunningProxy;

  beforeAll(async () => {
    // Each backend answers with its name, so a client knows where it landed.
    servers = await Promise.all(
      names.map((name) =>
        startServer((s: Socket) => {
          s.on('data', (d: Buffer) => s.write(`${name}:${d.toString()}`));
          s.on('end', () => s.end());
          s.on('error', () => undefined);
        }),
      ),
    );
    proxy = await startProxy([
      '--strategy',
      'least-conn',
      '--backends',
      `static://${servers.map((s) => s.address).join(',')}`,
    ]);
  });

  afterAll(async () => {
    await proxy.stop();
    await Promise.all(servers.map((s) => s.close()));
  });

  /** Open a connection that stays open; resolves with the backend name once it answered. */
  async function openClient(): Promise<{ socket: Socket; backend: string }> {
    const socket = await connectTo(proxy.port);
    socket.write('hi');
    const [data] = (await once(socket, 'data')) as [Buffer];
    return { socket, backend: data.toString().split(':')[0] ?? '' };
  }

  async function activeSpread(): Promise<number> {
    const actives = (await backendsOf(proxy)).backends.map((b) => b.active);
    return Math.max(...actives) - Math.min(...actives);
  }

  it('keeps active connections within max − min ≤ 1, also after one backend’s clients leave', async () => {
    const clients: { socket: Socket; backend: string }[] = [];
    for (let i = 0; i < 30; i++) {
      clients.push(await openClient());
      expect(await activeSpread(), `after ${i + 1} clients`).toBeLessThanOrEqual(1);
    }
    expect(clients.filter((c) => c.backend === 'a')).toHaveLength(10);

    // Every client of backend a leaves: the next ten new clients all go to a.
    const leaving = clients.filter((c) => c.backend === 'a');
    for (const c of leaving) c.socket.end();
    await eventually(async () => {
      const a = (await backendsOf(proxy)).backends.find((b) => b.id === servers[0]?.address);
      return a?.active === 0 ? true : undefined;
    });
    const newcomers = [];
    for (let i = 0; i < 10; i++) newcomers.push(await openClient());
    expect(newcomers.map((c) => c.backend)).toEqual(Array.from({ length: 10 }, () => 'a'));
    expect(await activeSpread()).toBeLessThanOrEqual(1);
    for (const c of [...clients, ...newcomers]) c.socket.destroy();
  });
});

describe('latency with one slow backend (headway echo --delay 20ms)', () => {
  let fast: Backend[];
  let slow: HeadwayProcess;
  let slowAddress: string;

  /** Run `headway echo` on `listen`; resolves with the process and its bound address. */
  async function startHeadwayEcho(
    listen: string,
    delay?: string,
  ): Promise<{ proc: HeadwayProcess; address: string }> {
    const args = ['echo', '--listen', listen, ...(delay === undefined ? [] : ['--delay', delay])];
    const proc = spawnHeadway(args);
    const line = await proc.waitForLog((l) => l.msg === 'echo listening');
    return { proc, address: String(line.address) };
  }

  beforeAll(async () => {
    fast = await Promise.all([startEcho(), startEcho()]);
    const started = await startHeadwayEcho('127.0.0.1:0', '20ms');
    slow = started.proc;
    slowAddress = started.address;
  });

  afterAll(async () => {
    await slow.stop();
    await Promise.all(fast.map((e) => e.close()));
  });

  /** `n` sequential exchanges; the slow backend's share of the new connections. */
  async function slowShare(proxy: RunningProxy, n: number): Promise<number> {
    const before = await totals(proxy);
    for (let i = 0; i < n; i++) expect(await exchange(proxy.port)).toBe('ping');
    const after = await totals(proxy);
    const delta = (id: string) => (after.get(id) ?? 0) - (before.get(id) ?? 0);
    const all = [...after.keys()].reduce((s, id) => s + delta(id), 0);
    return delta(slowAddress) / all;
  }

  it('sends the slow backend under 15 % of new connections, and its share back once the delay goes', async () => {
    const proxy = await startProxy([
      '--strategy',
      'latency',
      '--latency-decay',
      '500ms',
      '--backends',
      `static://${[...fast.map((e) => e.address), slowAddress].join(',')}`,
    ]);
    try {
      expect(await slowShare(proxy, 300)).toBeLessThan(0.15);
      // Idle for a while (its estimate decays and it is tried again), still slow: still avoided.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await slowShare(proxy, 150)).toBeLessThan(0.15);

      // The same pod without the delay.
      await slow.stop();
      slow = (await startHeadwayEcho(slowAddress)).proc;
      const shares: number[] = [];
      const recovered = await eventually(
        async () => {
          const share = await slowShare(proxy, 60);
          shares.push(share);
          return share >= 0.2 ? share : undefined;
        },
        30_000,
        0,
      );
      expect(recovered, `shares per 60 connections: ${shares.join(', ')}`).toBeGreaterThanOrEqual(
        0.2,
      );
    } finally {
      await proxy.stop();
    }
  });
});
