import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BackendPool } from '../backends/backend-pool.ts';
import type { Closable } from '../backends/backend.ts';
import { LeastConnBalancer } from '../balancing/least-conn.ts';
import { silentLogger } from '../core/logger.ts';
import { PromMetrics } from './prom-metrics.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function seriesCount(prom: PromMetrics): Promise<number> {
  return (await prom.registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith('headway_') && l.includes('backend="')).length;
}

describe('metrics under endpoint churn', () => {
  it('removes the series of backends that left and drained: 1,000 churned endpoints, bounded series and memory', async () => {
    const prom = new PromMetrics({ processMetrics: false });
    const pool = new BackendPool({
      listener: 'churn',
      balancer: new LeastConnBalancer(),
      metrics: prom.listener('churn'),
      logger: silentLogger,
      backendDrainTimeoutMs: 0,
      trackLatency: true,
      clock: { nowMs: () => 0, wallMs: () => 0 },
    });
    const session: Closable = { closeGracefully: () => undefined };
    const counts: number[] = [];
    const memory: number[] = [];
    for (let round = 0; round < 5; round++) {
      const endpoints = Array.from({ length: 200 }, (_, i) => ({
        id: `pod-${round}-${i}`,
        address: `10.${round}.${i >> 8}.${i & 255}`,
        port: 6379,
        weight: 1,
        state: 'ready' as const,
      }));
      pool.applySnapshot({ endpoints, updatedAtMs: round });
      for (const b of pool.backends()) {
        pool.attach(b, session);
        b.recordConnect(0.2, 0);
        b.metrics.connectionClosed('ok', 100, 200);
      }
      // While they serve, every backend has its series.
      expect(await seriesCount(prom)).toBeGreaterThanOrEqual(200);
      // The set is replaced; the old backends still have a connection each, then it closes.
      const previous = [...pool.backends()];
      pool.applySnapshot({ endpoints: [], updatedAtMs: round + 0.5 });
      for (const b of previous) pool.detach(b, session);
      counts.push(await seriesCount(prom));
      gc();
      memory.push(process.memoryUsage().heapUsed);
    }
    // Every round left nothing behind.
    expect(counts).toEqual([0, 0, 0, 0, 0]);
    expect([...pool.backends()]).toHaveLength(0);
    const growth = (memory[4] ?? 0) - (memory[1] ?? 0);
    console.log(
      `1,000 churned endpoints: series left ${counts.join('/')}, heap growth rounds 2→5 ${(growth / 1024).toFixed(0)} KiB`,
    );
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });
});
