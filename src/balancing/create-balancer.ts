import type { Balancer } from './balancer.ts';
import { LeastConnBalancer } from './least-conn.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { StrategyName } from './strategy-names.ts';

export function createBalancer(strategy: StrategyName): Balancer {
  switch (strategy) {
    case 'least-conn':
      return new LeastConnBalancer();
    case 'round-robin':
      return new RoundRobinBalancer();
  }
}
