import { describe, expect, it } from 'vitest';
import { runBalancerConformance } from '../../test/kit/balancer-conformance.ts';
import { makeBackend, pickContext as ctx } from '../../test/kit/backends.ts';
import { PrimaryBalancer } from './primary.ts';

runBalancerConformance({
  name: 'primary',
  create: () => new PrimaryBalancer(),
  notApplicable: [
    {
      reason: 'one backend takes every connection until it drops out, not a rotation',
      tests: [
        'continues the rotation of the remaining backends when one is removed',
        'rotates through equal backends',
      ],
    },
    {
      reason: 'weights do not apply: the first backend by id takes everything',
      tests: [
        'honours weights under load',
        'shares picks by weight when connections never overlap',
      ],
    },
  ],
});

describe('PrimaryBalancer', () => {
  it('sends everything to one backend, the first by id, and keeps it while it stays a candidate', () => {
    const [a, b, c] = [makeBackend('db-0'), makeBackend('db-1'), makeBackend('db-2')];
    const p = new PrimaryBalancer();
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
    const [a, b] = [makeBackend('db-0'), makeBackend('db-1')];
    const p = new PrimaryBalancer();
    p.update([a, b]);
    expect(p.pick(ctx())).toBe(a);
    expect(p.pick(ctx([a]))).toBe(b);
    expect(p.pick(ctx())).toBe(a);
    expect(p.pick(ctx([a, b]))).toBe(a);
  });
});
