import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  FAULT_TESTS,
  adminStatus,
  report,
  sleep,
  startEchoChild,
  startFaultProxy,
} from './helpers/fault-kit.ts';
import { labelled, runExchangeLoad, tally, type Exchange } from './helpers/traffic.ts';

/** One exchange on an open connection: send `data`, read exactly it back. */
function exchangeOn(s: Socket, data: Buffer, timeoutMs: number): Promise<Exchange> {
  const start = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (kind: string): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onError);
      s.off('end', onEnd);
      s.off('close', onClose);
      resolve({ start, end: performance.now(), ok: kind === 'ok', kind });
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length)
        finish(got === data.length && Buffer.concat(chunks).equals(data) ? 'ok' : 'corrupt_reply');
    };
    const onError = (e: NodeJS.ErrnoException): void => finish(e.code ?? 'error');
    const onEnd = (): void => finish('short_reply');
    const onClose = (): void => finish('closed');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    s.on('data', onData);
    s.on('error', onError);
    s.on('end', onEnd);
    s.on('close', onClose);
    s.write(data);
  });
}

describe.skipIf(!FAULT_TESTS)('SIGTERM under load', () => {
  it('cuts no exchange in flight: every one started before the drain deadline completes', async () => {
    // Each exchange takes at least 50 ms at the backend, so many are in flight at any moment.
    const echo = await startEchoChild({ delay: '50ms' });
    const DRAIN_MS = 5000;
    const DELAY_MS = 500;
    const proxy = await startFaultProxy([
      '--shutdown-delay',
      `${DELAY_MS}ms`,
      '--drain-timeout',
      `${DRAIN_MS}ms`,
      '--backends',
      `static://${echo.address}`,
    ]);
    const persistent: Exchange[] = [];
    let stopPersistent = false;
    let stopChurn = false;
    try {
      // 30 long-lived connections exchanging 8 KiB back to back ...
      const longLived = Array.from({ length: 30 }, async (_, w) => {
        const s = connect({
          host: '127.0.0.1',
          port: proxy.port,
          noDelay: true,
          allowHalfOpen: true,
        });
        s.on('error', () => undefined);
        await once(s, 'connect');
        for (let seq = 0; seq < 10_000 && !stopPersistent; seq++) {
          const e = await exchangeOn(s, labelled(w, seq, 8192), 10_000);
          persistent.push(e);
          if (!e.ok) break;
        }
        // ... then close their side once the test says so, as a client would when told to go.
        s.end();
        if (!s.destroyed) await once(s, 'close');
        return s.destroyed;
      });
      // ... and 10 workers opening a connection per exchange.
      const churn = runExchangeLoad({
        port: proxy.port,
        workers: 10,
        size: 1024,
        stop: () => stopChurn,
      });

      await sleep(1000);
      const sigAt = performance.now();
      proxy.proc.kill('SIGTERM');
      const exit = proxy.exited.then((r) => ({ ...r, at: performance.now() }));
      // New connections stop well within the shutdown delay (as when endpoints are removed);
      // the long-lived ones keep exchanging past the point where the listener closes.
      await sleep(DELAY_MS / 2);
      stopChurn = true;
      const readyz = await adminStatus(`${proxy.adminUrl}/readyz`);
      await sleep(DELAY_MS / 2 + 1500);
      stopPersistent = true;
      await Promise.all(longLived);
      const churned = await churn;
      const exited = await exit;

      const inFlightAtSignal = persistent.filter((e) => e.start < sigAt && e.end > sigAt);
      const listenerClosedAt = sigAt + DELAY_MS;
      const duringDrain = persistent.filter((e) => e.end > listenerClosedAt);
      const spanningClose = persistent.filter(
        (e) => e.start < listenerClosedAt && e.end > listenerClosedAt,
      );
      const churnInFlightAtSignal = churned.filter((e) => e.start < sigAt && e.end > sigAt);
      report('SIGTERM under load', {
        persistentExchanges: persistent.length,
        persistentFailed: tally(persistent),
        churnExchanges: churned.length,
        churnFailed: tally(churned),
        inFlightAtSigterm: inFlightAtSignal.length + churnInFlightAtSignal.length,
        spanningListenerClose: spanningClose.length,
        completedDuringDrain: duringDrain.length,
        readyzDuringDelay: readyz,
        exitCode: exited.code,
        exitAfterSigtermMs: Math.round(exited.at - sigAt),
        drainTimeoutMs: DRAIN_MS,
      });
      expect(persistent.filter((e) => !e.ok)).toEqual([]);
      expect(churned.filter((e) => !e.ok)).toEqual([]);
      expect(inFlightAtSignal.length).toBeGreaterThan(0);
      expect(spanningClose.length).toBeGreaterThan(0);
      expect(duringDrain.length).toBeGreaterThan(0);
      expect(readyz).toBe(503);
      expect(exited.code).toBe(0);
      // It left as soon as the last connection ended, before the drain deadline.
      expect(exited.at - sigAt).toBeLessThan(DELAY_MS + DRAIN_MS);
    } finally {
      stopPersistent = true;
      stopChurn = true;
      await proxy.stop('SIGKILL');
      await echo.stop();
    }
  });
  it('cuts only at the drain deadline: connections still busy then are closed, none before', async () => {
    const echo = await startEchoChild({ delay: '50ms' });
    const DRAIN_MS = 1500;
    const proxy = await startFaultProxy([
      '--drain-timeout',
      `${DRAIN_MS}ms`,
      '--backends',
      `static://${echo.address}`,
    ]);
    const exchanges: Exchange[] = [];
    const closedAt: number[] = [];
    try {
      // Ten clients that never stop on their own (bounded by count and by the close).
      const clients = Array.from({ length: 10 }, async (_, w) => {
        const s = connect({
          host: '127.0.0.1',
          port: proxy.port,
          noDelay: true,
          allowHalfOpen: true,
        });
        s.on('error', () => undefined);
        s.on('end', () => s.end());
        const gone = once(s, 'close').then(() => closedAt.push(performance.now()));
        await once(s, 'connect');
        for (let seq = 0; seq < 1000; seq++) {
          const e = await exchangeOn(s, labelled(w, seq, 8192), 10_000);
          exchanges.push(e);
          if (!e.ok) break;
        }
        s.destroy();
        await gone;
      });
      await sleep(500);
      const sigAt = performance.now();
      proxy.proc.kill('SIGTERM');
      const exit = proxy.exited.then((r) => ({ ...r, at: performance.now() }));
      await Promise.all(clients);
      const exited = await exit;
      const deadline = sigAt + DRAIN_MS;
      const failed = exchanges.filter((e) => !e.ok);
      report('SIGTERM: busy past the drain deadline', {
        exchanges: exchanges.length,
        okBeforeDeadline: exchanges.filter((e) => e.ok && e.end <= deadline).length,
        cutAtDeadline: failed.length,
        cutKinds: tally(exchanges),
        firstCutAfterSigtermMs: Math.round(Math.min(...failed.map((e) => e.end)) - sigAt),
        lastCloseAfterSigtermMs: Math.round(Math.max(...closedAt) - sigAt),
        exitCode: exited.code,
        exitAfterSigtermMs: Math.round(exited.at - sigAt),
        drainTimeoutMs: DRAIN_MS,
      });
      // Every exchange that ended before the deadline completed; the cut ones ended at it.
      for (const e of failed) expect(e.end).toBeGreaterThanOrEqual(deadline - 50);
      expect(failed.length).toBeLessThanOrEqual(10);
      expect(exchanges.filter((e) => e.ok).length).toBeGreaterThan(100);
      expect(exited.code).toBe(0);
      expect(exited.at - sigAt).toBeLessThan(DRAIN_MS + 4000);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.stop();
    }
  });
});
