import { systemClock, systemRandom, type Clock } from '../core/clock.ts';
import type { BalanceTarget, Balancer } from './balancer.ts';
import { GroupedBalancer } from './grouped.ts';
import { LatencyBalancer } from './latency.ts';
import { LeastConnBalancer } from './least-conn.ts';
import { PrimaryBalancer } from './primary.ts';
import { RandomBalancer } from './random.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { StickyBalancer } from './sticky.ts';
import type { StickyKey, StrategyName } from '../config/strategy-names.ts';

/** The listener settings a balancer is built from (`ListenerSettings` has them all). */
export interface BalancerSettings {
  readonly strategy: StrategyName;
  /** `--sticky-key`; default `client-ip`. */
  readonly stickyKey?: StickyKey;
  /** `--sticky-bounded-load`; 0 or absent = no cap. */
  readonly stickyBoundedLoad?: number;
  /** `--latency-decay` in ms; default 10 s. */
  readonly latencyDecay?: number;
  /** Endpoints are grouped by route (`Endpoint.group`): one balancer of the strategy per route. */
  readonly grouped?: boolean;
}

/** Time and randomness, injected so strategies are deterministic under test. */
export interface BalancerDeps {
  readonly clock: Clock;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/** Linkerd's default decay for its peak-EWMA balancer. */
export const DEFAULT_LATENCY_DECAY_MS = 10_000;

const systemDeps: BalancerDeps = { clock: systemClock, random: systemRandom };

export function createBalancer<T extends BalanceTarget>(
  settings: BalancerSettings,
  deps: BalancerDeps = systemDeps,
): Balancer<T> {
  if (settings.grouped === true) {
    const one = { ...settings, grouped: false };
    return new GroupedBalancer<T>(settings.strategy, () => createBalancer<T>(one, deps));
  }
  switch (settings.strategy) {
    case 'least-conn':
      return new LeastConnBalancer();
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'random':
      return new RandomBalancer({ random: deps.random });
    case 'sticky':
      return new StickyBalancer({
        key: settings.stickyKey ?? 'client-ip',
        boundedLoad: settings.stickyBoundedLoad ?? 0,
      });
    case 'latency':
      return new LatencyBalancer({
        random: deps.random,
        clock: deps.clock,
        decayMs: settings.latencyDecay ?? DEFAULT_LATENCY_DECAY_MS,
      });
    case 'primary':
      return new PrimaryBalancer();
  }
}
