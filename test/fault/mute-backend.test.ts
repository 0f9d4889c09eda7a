import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  FAULT_TESTS,
  backendsOf,
  metricsOf,
  outcomes,
  report,
  settleFds,
  sleep,
  stableFds,
  startEchoChild,
  startFaultProxy,
} from './helpers/fault-kit.ts';
import { exchangeOnce, labelled } from './helpers/traffic.ts';
import { metricValue } from '../helpers/sockets.ts';

interface Mute {
  readonly server: Server;
  readonly address: string;
  /** Every connection accepted so far, with what it received and how it ended. */
  readonly conns: { bytes: Buffer[]; fin: boolean; error: string | undefined; closed: boolean }[];
  close(): Promise<void>;
}

/** A backend that accepts, reads, and never sends a byte (nor closes on FIN). */
async function startMute(): Promise<Mute> {
  const conns: Mute['conns'] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const c = {
      bytes: [] as Buffer[],
      fin: false,
      error: undefined as string | undefined,
      closed: false,
    };
    conns.push(c);
    sockets.add(s);
    s.on('data', (b: Buffer) => c.bytes.push(b));
    s.on('end', () => (c.fin = true));
    s.on('error', (e: NodeJS.ErrnoException) => (c.error = e.code));
    s.on('close', () => {
      c.closed = true;
      sockets.delete(s);
    });
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    address: `127.0.0.1:${port}`,
    conns,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(!FAULT_TESTS)('a backend that accepts and never answers', () => {
  it('the idle timeout closes it: a FIN to both sides after 1 s, fds back to baseline', async () => {
    const mute = await startMute();
    const proxy = await startFaultProxy([
      '--idle-timeout',
      '1s',
      '--backends',
      `static://${mute.address}`,
    ]);
    try {
      const baseline = await stableFds(proxy.pid);
      const t0 = performance.now();
      const result = await exchangeOnce(proxy.port, labelled(0, 0, 100), 10_000);
      const closedAfterMs = Math.round(result.end - t0);
      const fdsAfter = await settleFds(proxy.pid, baseline, 10_000);
      const fdsBackAfterMs = Math.round(performance.now() - t0);
      const metrics = await metricsOf(proxy.adminUrl);
      const backendSide = mute.conns[0];
      report('mute backend: idle timeout', {
        clientClosedAfterMs: closedAfterMs,
        clientSaw: result.kind,
        backendGotBytes: Buffer.concat(backendSide?.bytes ?? []).length,
        backendSawFin: backendSide?.fin,
        backendError: backendSide?.error ?? 'none',
        fdsBefore: baseline,
        fdsAfter,
        fdsBackAfterMs,
        outcomes: outcomes(metrics),
      });
      // The client got a FIN (not a reset) with no reply, after the 1 s idle timeout.
      expect(result.kind).toBe('short_reply');
      expect(closedAfterMs).toBeGreaterThanOrEqual(950);
      expect(closedAfterMs).toBeLessThan(3000);
      // Nothing lost on the way in: the backend got the client's 100 bytes, then a FIN.
      expect(Buffer.concat(backendSide?.bytes ?? [])).toEqual(labelled(0, 0, 100));
      expect(backendSide?.fin).toBe(true);
      expect(outcomes(metrics)).toEqual({ idle_timeout: 1 });
      // The mute side never answers the FIN: reset after the 2 s close grace.
      expect(fdsAfter).toBe(baseline);
    } finally {
      await proxy.stop('SIGKILL');
      await mute.close();
    }
  });

  it('send/expect health checks mark it down; a connect-only check does not', async () => {
    const mute = await startMute();
    const echo = await startEchoChild();
    const check = (extra: string[]) =>
      startFaultProxy([
        '--health-check',
        'tcp',
        '--health-interval',
        '200ms',
        '--health-timeout',
        '300ms',
        ...extra,
        '--backends',
        `static://${mute.address},${echo.address}`,
      ]);
    const expecting = await check(['--health-send', 'PING\\r\\n', '--health-expect', 'PING']);
    const connectOnly = await check([]);
    try {
      const t0 = performance.now();
      let down: number | undefined;
      while (down === undefined && performance.now() - t0 < 10_000) {
        const b = await backendsOf(expecting.adminUrl);
        if (b.find((x) => x.id === mute.address)?.health?.healthy === false)
          down = performance.now() - t0;
        else await sleep(50);
      }
      const expectReport = await backendsOf(expecting.adminUrl);
      const metrics = await metricsOf(expecting.adminUrl);
      // Twenty clients: every one answered, none sent to the mute backend.
      const exchanges = [];
      for (let i = 0; i < 20; i++)
        exchanges.push(await exchangeOnce(expecting.port, labelled(0, i, 64)));
      const afterReport = await backendsOf(expecting.adminUrl);
      const connectOnlyReport = await backendsOf(connectOnly.adminUrl);
      const muteIn = (r: typeof expectReport) => r.find((x) => x.id === mute.address);
      report('mute backend: health checks', {
        markedDownAfterMs: down === undefined ? 'never' : Math.round(down),
        lastResult: muteIn(expectReport)?.health?.lastResult,
        // Only set on a flip (see the report): absent for a backend healthy since the start.
        echoHealthyGauge: metrics.includes(
          `headway_backend_healthy{listener="default",backend="${echo.address}"}`,
        )
          ? metricValue(metrics, 'headway_backend_healthy', { backend: echo.address })
          : 'absent',
        healthyGauge: metricValue(metrics, 'headway_backend_healthy', { backend: mute.address }),
        echoHealthy: expectReport.find((x) => x.id === echo.address)?.health?.healthy,
        clientsOk: `${exchanges.filter((e) => e.ok).length}/${exchanges.length}`,
        sentToMute: (muteIn(afterReport)?.total ?? 0) - (muteIn(expectReport)?.total ?? 0),
        connectOnlyHealthy: muteIn(connectOnlyReport)?.health?.healthy,
        probesAccepted: mute.conns.length,
      });
      expect(down).toBeDefined();
      expect(metricValue(metrics, 'headway_backend_healthy', { backend: mute.address })).toBe(0);
      expect(exchanges.every((e) => e.ok)).toBe(true);
      expect(muteIn(afterReport)?.total).toBe(muteIn(expectReport)?.total);
      // Without send/expect the mute backend accepts connections, which is all a connect check asks.
      expect(muteIn(connectOnlyReport)?.health?.healthy).toBe(true);
    } finally {
      await expecting.stop('SIGKILL');
      await connectOnly.stop('SIGKILL');
      await mute.close();
      await echo.stop();
    }
  });
});
