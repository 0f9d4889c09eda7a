import { describe, expect, it } from 'vitest';
import { Backend } from '../backends/backend.ts';
import { noopBackend } from '../metrics/proxy-metrics.ts';
import type { PickContext } from './balancer.ts';
import { PrimaryBalancer } from './primary.ts';

function backend(id: string): Backend {
  return new Backend(
    { id, address: '10.0.0.1', port: 6379, weight: 1, state: 'ready' },
    noopBackend,
  );
}

const ctx = (tried: Backend[] = []): PickContext => ({
  clientAddress: '10.1.1.1',
  clientPort: 1,
  nowMs: 0,
  tried,
});

describe('PrimaryBalancer', () => {
  it('sends everything to one backend, the first by id, and keeps it while it stays a candidate', () => {
    const [a, b, c] = [backend('db-0'), backend('db-1'), backend('db-2')];
    const p = new PrimaryBalancer<Backend>();
    expect(p.pick(ctx())).toBeUndefined();
    p.update([c, b, a]);
    expect([p.pick(ctx()), p.pick(ctx())]).toEqual([a, a]);
    // Another backend also passing (a promotion in progress) does not move it.
    p.update([b, a]);
    expect(p.pick(ctx())).toBe(a);
    // Only its failure does; replicas with the same set pick the same next one.
    p.update([c, b]);
    expect(p.pick(ctx())).toBe(b);
    p.update([a, b, c]);
    expect(p.pick(ctx())).toBe(b);
  });

  it('retries on another backend without moving the primary', () => {
    const [a, b] = [backend('db-0'), backend('db-1')];
    const p = new PrimaryBalancer<Backend>();
    p.update([a, b]);
    expect(p.pick(ctx())).toBe(a);
    expect(p.pick(ctx([a]))).toBe(b);
    expect(p.pick(ctx())).toBe(a);
    expect(p.pick(ctx([a, b]))).toBe(a);
  });
});
