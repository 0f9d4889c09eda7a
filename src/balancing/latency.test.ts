import { describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.ts';
import { makeBackend, pickContext } from '../../test/kit/backends.ts';
import { CONFORMANCE_SEED, runBalancerConformance } from '../../test/kit/balancer-conformance.ts';
import { ManualClock } from '../../test/kit/clock.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { DEFAULT_LATENCY_MS, LatencyBalancer } from './latency.ts';

runBalancerConformance({
  name: 'latency',
  create: () =>
    new LatencyBalancer<Backend>({
      random: seededRandom(CONFORMANCE_SEED),
      clock: new ManualClock(),
      decayMs: 10_000,
    }),
  notApplicable: [
    {
      reason: 'random draws, not a rotation',
      tests: [
        'continues the rotation of the remaining backends when one is removed',
        'rotates through equal backends',
      ],
    },
  ],
});

/** A `random()` that returns the given values in turn. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

interface Setup {
  readonly clock: ManualClock;
  readonly balancer: LatencyBalancer<Backend>;
  readonly list: Backend[];
}

function setup(ids: string[], opts: { random?: () => number; decayMs?: number } = {}): Setup {
  const clock = new ManualClock(1000);
  const balancer = new LatencyBalancer<Backend>({
    random: opts.random ?? seededRandom(CONFORMANCE_SEED),
    clock,
    decayMs: opts.decayMs ?? 1000,
  });
  const list = ids.map((id) => makeBackend(id));
  balancer.update(list);
  return { clock, balancer, list };
}

/**
 * Sequential connections as the proxy makes them: pick, connect (0.1 ms),
 * the client speaks, the backend answers after `latencyMs(backend)`, close.
 * The clock moves by the reply time plus `gapMs`. Returns picks per id.
 */
function run(
  { clock, balancer }: Setup,
  connections: number,
  latencyMs: (b: Backend) => number,
  gapMs = 1,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < connections; i++) {
    const b = balancer.pick(pickContext()) as Backend;
    counts.set(b.id, (counts.get(b.id) ?? 0) + 1);
    b.active++;
    balancer.onConnect(b, 0.1);
    const ms = latencyMs(b);
    clock.advance(ms);
    balancer.onFirstByte(b, ms);
    b.active--;
    clock.advance(gapMs);
  }
  return counts;
}

describe('LatencyBalancer', () => {
  it('names its strategy', () => {
    const { balancer } = setup([]);
    expect(balancer.strategy).toBe('latency');
  });

  it('starts every backend from the neutral default when none has a sample', () => {
    const { balancer, list } = setup(['a', 'b']);
    for (const b of list) expect(balancer.estimateMs(b)).toBe(DEFAULT_LATENCY_MS);
  });

  it('of the two drawn, keeps the lower latency × (active + 1)', () => {
    // Equal weights: draws 0.1 → a, then 0.5 of b,c → c ((0 + 1 + 1) % 3).
    const { balancer, list } = setup(['a', 'b', 'c'], { random: scripted(0.1, 0.5) });
    const [a, , c] = list as [Backend, Backend, Backend];
    balancer.onFirstByte(a, 5); // a: 5 ms (a peak above the 1 ms default)
    expect(balancer.pick(pickContext())?.id).toBe('c'); // 5 × 1 against 1 × 1
    c.active = 5;
    expect(balancer.pick(pickContext())?.id).toBe('a'); // 5 × 1 against 1 × 6
    a.active = 1;
    expect(balancer.pick(pickContext())?.id).toBe('c'); // 5 × 2 against 1 × 6
  });

  it('sends a slow backend under 15 % of new connections', () => {
    const s = setup(['fast-0', 'fast-1', 'slow']);
    const counts = run(s, 2000, (b) => (b.id === 'slow' ? 20 : 0.2));
    expect((counts.get('slow') ?? 0) / 2000).toBeLessThan(0.15);
  });

  it('gives a recovered backend its share back as its estimate decays', () => {
    const s = setup(['fast-0', 'fast-1', 'slow'], { decayMs: 1000 });
    run(s, 2000, (b) => (b.id === 'slow' ? 20 : 0.2));
    // The delay goes away; a few seconds later (several τ) the share is back.
    run(s, 2000, () => 0.2, 2);
    const counts = run(s, 1500, () => 0.2, 2);
    expect((counts.get('slow') ?? 0) / 1500).toBeGreaterThan(0.25);
  });

  it('starts a backend that joins from the mean estimate of the others', () => {
    const s = setup(['a', 'b']);
    const [a, b] = s.list as [Backend, Backend];
    s.balancer.onFirstByte(a, 4);
    s.balancer.onFirstByte(b, 8);
    const c = makeBackend('c');
    s.balancer.update([a, b, c]);
    expect(s.balancer.estimateMs(c)).toBeCloseTo(6, 10);
    // The others keep their estimates across the update.
    expect(s.balancer.estimateMs(a)).toBe(4);
    expect(s.balancer.estimateMs(b)).toBe(8);
  });

  it('forgets a backend that leaves: it comes back at the neutral value', () => {
    const s = setup(['a', 'b']);
    const [a, b] = s.list as [Backend, Backend];
    s.balancer.onFirstByte(a, 4);
    s.balancer.onFirstByte(b, 40);
    s.balancer.update([a]);
    s.balancer.update([a, b]);
    expect(s.balancer.estimateMs(b)).toBe(4);
  });

  it('uses connect times until the client is seen speaking first, then only first-byte times', () => {
    const s = setup(['a', 'b']);
    const [a, b] = s.list as [Backend, Backend];
    s.balancer.onConnect(a, 7);
    expect(s.balancer.estimateMs(a)).toBe(7);
    s.balancer.onFirstByte(b, 3);
    s.balancer.onConnect(a, 50);
    expect(s.balancer.estimateMs(a)).toBe(7);
  });

  it('ignores samples for backends that are not candidates', () => {
    const s = setup(['a']);
    const gone = makeBackend('gone');
    s.balancer.onFirstByte(gone, 100);
    expect(s.balancer.estimateMs(gone)).toBeUndefined();
  });

  it('shares equally fast backends by weight, idle or loaded', () => {
    const clock = new ManualClock();
    const balancer = new LatencyBalancer<Backend>({
      random: seededRandom(CONFORMANCE_SEED),
      clock,
      decayMs: 1000,
    });
    const list = [makeBackend('heavy', 3), makeBackend('light', 1)];
    balancer.update(list);
    const counts = run({ clock, balancer, list }, 4000, () => 0.5);
    expect((counts.get('heavy') ?? 0) / 4000).toBeCloseTo(0.75, 1);
  });
});
