import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  FAULT_TESTS,
  MiB,
  backendsOf,
  fdCount,
  metricsOf,
  outcomes,
  report,
  settleFds,
  sleep,
  stableFds,
  startEchoChild,
  startFaultProxy,
  type EchoChild,
} from './helpers/fault-kit.ts';
import {
  exchangeOnce,
  labelled,
  runExchangeLoad,
  startTransfer,
  tally,
} from './helpers/traffic.ts';

async function connectTo(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
  await once(s, 'connect');
  return s;
}

describe.skipIf(!FAULT_TESTS)('backend killed mid-transfer', () => {
  it('its clients see a reset, the others finish intact, the proxy serves on and its fds return to baseline', async () => {
    const a = await startEchoChild();
    const b = await startEchoChild();
    const proxy = await startFaultProxy([
      '--strategy',
      'round-robin',
      '--backends',
      `static://${a.address},${b.address}`,
    ]);
    try {
      // Baseline after one warm-up exchange (lazily opened descriptors are in it).
      expect((await exchangeOnce(proxy.port, labelled(0, 0, 64))).ok).toBe(true);
      const baseline = await stableFds(proxy.pid);

      // Four connections; round-robin puts two on each backend. Which is where comes from /backends.
      const sockets: { socket: Socket; backend: string }[] = [];
      for (let i = 0; i < 4; i++) {
        const before = await backendsOf(proxy.adminUrl);
        const socket = await connectTo(proxy.port);
        let backend: string | undefined;
        const deadline = Date.now() + 5000;
        while (backend === undefined && Date.now() < deadline) {
          const now = await backendsOf(proxy.adminUrl);
          backend = now.find(
            (x) => x.active > (before.find((y) => y.id === x.id)?.active ?? 0),
          )?.id;
          if (backend === undefined) await sleep(20);
        }
        sockets.push({ socket, backend: backend ?? '?' });
      }
      const onA = sockets.filter((s) => s.backend === a.address);
      const onB = sockets.filter((s) => s.backend === b.address);
      expect(onA).toHaveLength(2);
      expect(onB).toHaveLength(2);

      // A's clients stream without end (bounded by the test); B's stream 48 MiB each.
      const B_TOTAL = 48 * MiB;
      const victims = onA.map((s, i) => startTransfer(s.socket, 4096 * MiB, 10 + i, 60_000));
      const others = onB.map((s, i) => startTransfer(s.socket, B_TOTAL, 20 + i, 60_000));
      const deadline = Date.now() + 20_000;
      while (victims.some((t) => t.received() < 4 * MiB) && Date.now() < deadline) await sleep(10);
      const receivedAtKill = victims.map((t) => t.received());
      const otherAtKill = others.map((t) => t.received());
      const fdsDuring = fdCount(proxy.pid);
      const killed = await a.kill9();

      const victimResults = await Promise.all(victims.map((t) => t.done));
      const otherResults = await Promise.all(others.map((t) => t.done));

      // The proxy is up and serves: ten new connections, the dead backend's share retried on B.
      expect(proxy.proc.exitCode).toBeNull();
      const after = [];
      for (let i = 0; i < 10; i++) after.push(await exchangeOnce(proxy.port, labelled(1, i, 1024)));
      const fdsAfter = await settleFds(proxy.pid, baseline, 10_000);
      const metrics = await metricsOf(proxy.adminUrl);

      report('backend killed mid-transfer', {
        fdsBefore: baseline,
        fdsDuring,
        fdsAfter,
        victimMiBAtKill: receivedAtKill.map((n) => (n / MiB).toFixed(1)).join('/'),
        otherMiBAtKill: otherAtKill.map((n) => (n / MiB).toFixed(1)).join('/'),
        killToExitMs: Math.round(killed.deadAt - killed.sentAt),
        victims: victimResults
          .map((r) => `${r.error ?? (r.ended ? 'FIN' : '?')}@${(r.received / MiB).toFixed(1)}MiB`)
          .join(','),
        others: otherResults
          .map(
            (r) =>
              `${r.received === B_TOTAL && r.intact ? 'intact' : 'BAD'}:${(r.received / MiB).toFixed(0)}MiB/${r.ms}ms`,
          )
          .join(','),
        afterKillExchangesOk: `${after.filter((e) => e.ok).length}/${after.length}`,
        outcomesA: outcomes(metrics, a.address),
        outcomesB: outcomes(metrics, b.address),
      });

      for (const r of victimResults) {
        // A reset, never a clean FIN over a truncated stream; what did arrive is intact.
        expect(r.ended).toBe(false);
        expect(['ECONNRESET', 'EPIPE']).toContain(r.error);
        expect(r.intact).toBe(true);
      }
      for (const r of otherResults) {
        expect(r.error).toBeUndefined();
        expect(r.ended).toBe(true);
        expect(r.sent).toBe(B_TOTAL);
        expect(r.received).toBe(B_TOTAL);
        expect(r.intact).toBe(true);
      }
      expect(after.every((e) => e.ok)).toBe(true);
      expect(fdsAfter).toBe(baseline);
      expect(outcomes(metrics, a.address).reset).toBe(2);
      expect(outcomes(metrics, b.address).reset).toBeUndefined();
    } finally {
      await proxy.stop('SIGKILL');
      await a.stop();
      await b.stop();
    }
  });
});

describe.skipIf(!FAULT_TESTS)('backends killed and restarted under a new-connection load', () => {
  it('fails only exchanges in flight on a backend at the moment it died', async () => {
    const echoes: EchoChild[] = [];
    for (let i = 0; i < 3; i++) echoes.push(await startEchoChild({ delay: '10ms' }));
    const ports = echoes.map((e) => e.port);
    const ids = echoes.map((e) => e.address);
    const proxy = await startFaultProxy([
      '--strategy',
      'round-robin',
      '--health-check',
      'tcp',
      '--health-interval',
      '200ms',
      '--health-timeout',
      '500ms',
      '--backends',
      `static://${ids.join(',')}`,
    ]);
    const kills: { backend: string; sentAt: number; deadAt: number; activeBefore: number }[] = [];
    const restarts: string[] = [];
    let stop = false;
    try {
      const t0 = performance.now();
      const load = runExchangeLoad({
        port: proxy.port,
        workers: 16,
        size: 1024,
        stop: () => stop,
        maxPerWorker: 5000,
      });
      const kill = async (i: number): Promise<void> => {
        const victim = echoes[i] as EchoChild;
        const active =
          (await backendsOf(proxy.adminUrl)).find((x) => x.id === victim.address)?.active ?? -1;
        const k = await victim.kill9();
        kills.push({ backend: victim.address, ...k, activeBefore: active });
      };
      const restart = async (i: number): Promise<void> => {
        echoes[i] = await startEchoChild({ port: ports[i], delay: '10ms' });
        restarts.push(ids[i] ?? '?');
      };
      // A dies, then B: only C is left. Both come back; then C dies (A and B left) and comes back.
      await sleep(700);
      await kill(0);
      await sleep(700);
      await kill(1);
      await sleep(1000);
      await restart(0);
      await sleep(700);
      await restart(1);
      await sleep(1000);
      await kill(2);
      await sleep(700);
      await restart(2);
      await sleep(700);
      stop = true;
      const exchanges = await load;
      const seconds = (performance.now() - t0) / 1000;

      const failures = exchanges.filter((e) => !e.ok);
      // A failure is allowed only if it was in flight when a backend died.
      const unexplained = failures.filter(
        (f) => !kills.some((k) => f.start <= k.deadAt && f.end >= k.sentAt),
      );
      const perKill = kills.map(
        (k) => failures.filter((f) => f.start <= k.deadAt && f.end >= k.sentAt).length,
      );
      // The proxy counts a connection once both its sides are closed: wait for the last ones.
      const total = (m: string): number => Object.values(outcomes(m)).reduce((n, v) => n + v, 0);
      let metrics = await metricsOf(proxy.adminUrl);
      for (let i = 0; i < 50 && total(metrics) < exchanges.length; i++) {
        await sleep(100);
        metrics = await metricsOf(proxy.adminUrl);
      }
      const backends = await backendsOf(proxy.adminUrl);
      report('backends killed and restarted under load', {
        seconds: seconds.toFixed(1),
        exchanges: exchanges.length,
        ok: exchanges.length - failures.length,
        failed: failures.length,
        failedByKind: tally(exchanges),
        unexplained: unexplained.length,
        failuresPerKill: perKill.join('/'),
        victimActiveBeforeKill: kills.map((k) => k.activeBefore).join('/'),
        killToExitMs: kills.map((k) => Math.round(k.deadAt - k.sentAt)).join('/'),
        restarts: restarts.length,
        outcomes: outcomes(metrics),
        perBackend: backends
          .map((x) => `${x.id}:total=${x.total},failures=${x.failures}`)
          .join(' '),
      });
      expect(exchanges.length).toBeGreaterThan(500);
      expect(unexplained).toEqual([]);
      // Nothing lost: the proxy accounted for every connection the clients made.
      expect(total(metrics)).toBe(exchanges.length);
      expect(outcomes(metrics).connect_error).toBeUndefined();
      expect(outcomes(metrics).no_backend).toBeUndefined();
    } finally {
      stop = true;
      await proxy.stop('SIGKILL');
      for (const e of echoes) await e.stop();
    }
  });
});
