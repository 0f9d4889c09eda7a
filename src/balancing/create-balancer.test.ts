import { describe, expect, it } from 'vitest';
import { makeBackend, pickContext } from '../../test/kit/backends.ts';
import { ManualClock } from '../../test/kit/clock.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { createBalancer } from './create-balancer.ts';
import { STRATEGY_NAMES } from '../config/strategy-names.ts';

const deps = { clock: new ManualClock(), random: seededRandom(1) };

describe('createBalancer', () => {
  it.each(STRATEGY_NAMES)('builds a working %s balancer', (strategy) => {
    const balancer = createBalancer({ strategy }, deps);
    expect(balancer.strategy).toBe(strategy);
    const a = makeBackend('a');
    balancer.update([a]);
    expect(balancer.pick(pickContext())).toBe(a);
  });

  it('passes the sticky key on: client-ip-port tells source ports apart', () => {
    const backends = Array.from({ length: 8 }, (_, i) => makeBackend(`b${i}`));
    const idsByPort = (stickyKey: 'client-ip' | 'client-ip-port') => {
      const balancer = createBalancer({ strategy: 'sticky', stickyKey }, deps);
      balancer.update(backends);
      const ids = new Set<string | undefined>();
      for (let port = 2000; port < 2050; port++) {
        ids.add(balancer.pick(pickContext([], 0, '192.0.2.1', port))?.id);
      }
      return ids.size;
    };
    expect(idsByPort('client-ip')).toBe(1);
    expect(idsByPort('client-ip-port')).toBeGreaterThan(1);
  });
});
