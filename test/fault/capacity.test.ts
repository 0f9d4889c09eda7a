import { describe, expect, it } from 'vitest';
import {
  FAULT_TESTS,
  LoadChild,
  MiB,
  fdCount,
  forceGc,
  metricsOf,
  outcomes,
  report,
  rssKiB,
  settleFds,
  stableFds,
  startEchoChild,
  startFaultProxy,
} from './helpers/fault-kit.ts';
import { exchangeOnce, labelled } from './helpers/traffic.ts';
import { metricValue } from '../helpers/sockets.ts';

interface Opened {
  readonly opened: number;
  readonly failed: number;
  readonly seconds: number;
  readonly errors: Record<string, number>;
}
interface PhaseResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly errors: Record<string, number>;
}
interface Churned extends PhaseResult {
  readonly attempted: number;
}

const KiB = 1024;

describe.skipIf(!FAULT_TESTS)('capacity', () => {
  it('8,000 concurrent connections each complete a round trip', async () => {
    const COUNT = 8000;
    // The echo backend holds the other 8,000 sockets in its own process, the clients in a third.
    const echo = await startEchoChild();
    const proxy = await startFaultProxy(['--backends', `static://${echo.address}`], {
      inspect: true,
    });
    let client: LoadChild | undefined;
    try {
      const inspectorUrl = proxy.inspectorUrl ?? '';
      expect((await exchangeOnce(proxy.port, labelled(0, 0, 64))).ok).toBe(true);
      const baseGc = await forceGc(inspectorUrl);
      const baseline = await stableFds(proxy.pid);
      const rssBefore = rssKiB(proxy.pid);

      client = new LoadChild('hold', proxy.port, COUNT, 200);
      const opened = await client.next<Opened>();
      const fdsHeld = fdCount(proxy.pid);
      const rssHeld = rssKiB(proxy.pid);
      // Every held connection sends again at once: 8,000 exchanges in flight together.
      client.send('roundtrip');
      const roundtrip = await client.next<PhaseResult>();
      const rssAfterRoundtrip = rssKiB(proxy.pid);
      const heldGc = await forceGc(inspectorUrl);
      const rssHeldGc = rssKiB(proxy.pid);
      client.send('close');
      const closed = await client.next<PhaseResult>();
      const fdsAfter = await settleFds(proxy.pid, baseline, 20_000);
      const metrics = await metricsOf(proxy.adminUrl);

      report('8,000 concurrent connections', {
        opened: opened.opened,
        openFailed: opened.failed,
        openSeconds: opened.seconds,
        roundtripOk: roundtrip.ok,
        roundtripFailed: roundtrip.failed,
        roundtripSeconds: roundtrip.seconds,
        closedOk: closed.ok,
        errors: { ...opened.errors, ...roundtrip.errors, ...closed.errors },
        fdsBefore: baseline,
        fdsHeld,
        fdsAfter,
        rssBeforeMiB: (rssBefore / KiB).toFixed(1),
        rssHeldMiB: (rssHeld / KiB).toFixed(1),
        rssAfterRoundtripMiB: (rssAfterRoundtrip / KiB).toFixed(1),
        rssPerConnKiB: ((rssHeld - rssBefore) / COUNT).toFixed(2),
        rssPerConnAfterGcKiB: ((rssHeldGc - rssBefore) / COUNT).toFixed(2),
        heapUsedPerConnAfterGcB: Math.round((heldGc.heapUsed - baseGc.heapUsed) / COUNT),
        externalPerConnAfterGcB: Math.round((heldGc.external - baseGc.external) / COUNT),
        outcomes: outcomes(metrics),
      });
      expect(opened).toMatchObject({ opened: COUNT, failed: 0 });
      // A proxied connection holds exactly two descriptors.
      expect(fdsHeld).toBe(baseline + 2 * COUNT);
      expect(roundtrip).toMatchObject({ ok: COUNT, failed: 0 });
      expect(closed).toMatchObject({ ok: COUNT, failed: 0 });
      expect(fdsAfter).toBe(baseline);
      // The warm-up exchange plus 8,000, every one closed cleanly.
      expect(outcomes(metrics)).toEqual({ ok: COUNT + 1 });
    } finally {
      await client?.stop();
      await proxy.stop('SIGKILL');
      await echo.stop();
    }
  });

  it('100,000 connections opened and closed, twice: fds back to baseline, no growth', async () => {
    const COUNT = 100_000;
    const echo = await startEchoChild();
    const proxy = await startFaultProxy(['--backends', `static://${echo.address}`], {
      inspect: true,
    });
    try {
      const inspectorUrl = proxy.inspectorUrl ?? '';
      expect((await exchangeOnce(proxy.port, labelled(0, 0, 64))).ok).toBe(true);
      const baseGc = await forceGc(inspectorUrl);
      const baseline = await stableFds(proxy.pid);
      const rss0 = rssKiB(proxy.pid);

      const batch = async (): Promise<{
        result: Churned;
        fds: number;
        rss: number;
        gc: Awaited<ReturnType<typeof forceGc>>;
        rssGc: number;
      }> => {
        const client = new LoadChild('churn', proxy.port, COUNT, 64);
        try {
          const result = await client.next<Churned>();
          const fds = await settleFds(proxy.pid, baseline, 10_000);
          const rss = rssKiB(proxy.pid);
          const gc = await forceGc(inspectorUrl);
          return { result, fds, rss, gc, rssGc: rssKiB(proxy.pid) };
        } finally {
          await client.stop();
        }
      };
      // An unmeasured warm-up batch first: the allocator's high-water mark depends on how much
      // garbage piles up between two collections, which varies from batch to batch, and one
      // batch does not always reach it (see the report). Then the two batches compared.
      const warmup = await batch();
      const first = await batch();
      const second = await batch();
      const metrics = await metricsOf(proxy.adminUrl);
      const heapMetric = metricValue(metrics, 'nodejs_heap_size_used_bytes');

      const all = [warmup, first, second];
      const mib = (kib: number): string => (kib / KiB).toFixed(1);
      report('100,000 connections opened and closed, twice (after a warm-up batch)', {
        batches: all
          .map((b) => `${b.result.ok}ok/${b.result.failed}failed/${b.result.seconds}s`)
          .join(' '),
        errors: all.map((b) => b.result.errors),
        fdsBefore: baseline,
        fdsAfter: all.map((b) => b.fds).join('/'),
        rssStartMiB: mib(rss0),
        rssAfterMiB: all.map((b) => mib(b.rss)).join('/'),
        rssAfterGcMiB: all.map((b) => mib(b.rssGc)).join('/'),
        secondBatchAddsMiB: mib(second.rss - first.rss),
        secondBatchAddsAfterGcMiB: mib(second.rssGc - first.rssGc),
        heapUsedAfterGcMiB: [baseGc, ...all.map((b) => b.gc)]
          .map((g) => (g.heapUsed / MiB).toFixed(2))
          .join('/'),
        dataHeapAfterGcMiB: [baseGc, ...all.map((b) => b.gc)]
          .map((g) => (g.dataHeapUsed / MiB).toFixed(2))
          .join('/'),
        externalAfterGcMiB: [baseGc, ...all.map((b) => b.gc)]
          .map((g) => (g.external / MiB).toFixed(2))
          .join('/'),
        metricsHeapUsedMiB: (heapMetric / MiB).toFixed(2),
        outcomes: outcomes(metrics),
      });
      for (const b of all) {
        expect(b.result).toMatchObject({ attempted: COUNT, ok: COUNT, failed: 0 });
        expect(b.fds).toBe(baseline);
      }
      expect(outcomes(metrics)).toEqual({ ok: 3 * COUNT + 1 });
      // No growth from the second batch, measured the same way after each (a forced full GC,
      // so that garbage the collector had not reached yet does not count).
      expect(second.rssGc - first.rssGc).toBeLessThan(5 * KiB);
      // The objects, not V8's compiled code (see MemoryUsage.dataHeapUsed).
      expect(second.gc.dataHeapUsed - first.gc.dataHeapUsed).toBeLessThan(1 * MiB);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.stop();
    }
  });
});
