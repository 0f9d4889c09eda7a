import { setTimeout as delay } from 'node:timers/promises';
import type { BackendPool } from '../backends/backend-pool.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendStateCount } from '../metrics/prom-metrics.ts';

/**
 * What the single-thread ProxyApp and the `--workers` ControlPlane share:
 * readiness, backends counted by state, and the first step of shutdown.
 */

/** A listener's name and backends, whether it has sockets (ProxyApp) or not (ControlPlane). */
export interface NamedPool {
  readonly name: string;
  readonly pool: BackendPool;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** `/readyz`: started, not shutting down, and (with --ready-requires-backends) every listener has a usable backend. */
export function readinessOf(
  state: { started: boolean; shuttingDown: boolean; requireBackends: boolean },
  listeners: readonly NamedPool[],
): Readiness {
  if (!state.started) return { ready: false, reason: 'starting' };
  if (state.shuttingDown) return { ready: false, reason: 'shutting down' };
  if (state.requireBackends) {
    const without = listeners.filter((l) => !l.pool.hasUsableBackend);
    if (without.length > 0) {
      return {
        ready: false,
        reason: `no usable backend for ${without.map((l) => l.name).join(', ')}`,
      };
    }
  }
  return { ready: true };
}

/** The rows of `headway_backends{listener,state}`. */
export function* backendStateCounts(listeners: Iterable<NamedPool>): Generator<BackendStateCount> {
  for (const l of listeners) {
    const counts = new Map<string, number>();
    for (const b of l.pool.backends()) counts.set(b.state, (counts.get(b.state) ?? 0) + 1);
    for (const [state, count] of counts) yield { listener: l.name, state, count };
  }
}

/** Log the shutdown and wait out `--shutdown-delay` (while /readyz already says 503). */
export async function shutdownDelay(
  process: ProxyConfig['process'],
  logger: Logger,
): Promise<void> {
  logger.info('shutting down', {
    shutdownDelayMs: process.shutdownDelay,
    drainTimeoutMs: process.drainTimeout,
  });
  if (process.shutdownDelay > 0) await delay(process.shutdownDelay);
}

/** Process-wide options that differ between two configurations (they need a restart). */
export function changedProcessOptions(
  running: ProxyConfig['process'],
  next: ProxyConfig['process'],
): string[] {
  return Object.keys(next).filter(
    (k) =>
      JSON.stringify(next[k as keyof ProxyConfig['process']]) !==
      JSON.stringify(running[k as keyof ProxyConfig['process']]),
  );
}
