import { setTimeout as delay } from 'node:timers/promises';
import type { BackendPool } from '../backends/backend-pool.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendStateCount } from '../metrics/prom-metrics.ts';
import { listenerOptions, processOptions, type ProcessSettings } from '../config/schema.ts';
import { changedKeys } from '../config/settings-equal.ts';

/**
 * What the single-thread ProxyApp and the `--workers` ControlPlane share:
 * readiness, backends counted by state, and the first step of shutdown.
 */

/** A listener's name and backends, whether it has sockets (ProxyApp) or not (ControlPlane). */
export interface NamedPool {
  readonly name: string;
  readonly pool: BackendPool;
  /** False when a listener holds no bound socket (a ControlPlane route has none: undefined). */
  readonly listening?: boolean;
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
  const deaf = listeners.filter((l) => l.listening === false);
  if (deaf.length > 0) {
    return {
      ready: false,
      reason: `no bound socket for ${deaf.map((l) => l.name).join(', ')}`,
    };
  }
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

/**
 * Process options a reload applies at once: they are read where they act
 * (the shutdown sequence, /readyz). Every other process option is wired in
 * at start (the admin server, the logger, the access log, the connection
 * gate, worker threads) and needs a restart.
 */
export const LIVE_PROCESS_OPTIONS: ReadonlySet<keyof ProcessSettings> = new Set([
  'shutdownDelay',
  'drainTimeout',
  'readyRequiresBackends',
] as const);

/**
 * Listener options a reload cannot apply to a running listener: the
 * per-pod listeners are set up at start.
 */
export const RESTART_LISTENER_OPTIONS: ReadonlySet<string> = new Set(['perPodPorts', 'perPodMax']);

/** How the process options of a reload split: applied now, or waiting for a restart. */
export interface ProcessChange {
  /** The process settings to run with: the live options from `next`, the rest as running. */
  readonly settings: ProcessSettings;
  /** Flag names applied now. */
  readonly applied: readonly string[];
  /** Flag names that changed in the file but apply only after a restart. */
  readonly needsRestart: readonly string[];
}

export function splitProcessChange(running: ProcessSettings, next: ProcessSettings): ProcessChange {
  const changed = changedKeys(running, next);
  const live = changed.filter((k) => LIVE_PROCESS_OPTIONS.has(k));
  const settings: Record<string, unknown> = { ...running };
  for (const k of live) settings[k] = next[k];
  return {
    settings: settings as ProcessSettings,
    applied: live.map((k) => processOptions[k].flag),
    needsRestart: changed
      .filter((k) => !LIVE_PROCESS_OPTIONS.has(k))
      .map((k) => processOptions[k].flag),
  };
}

/** The flag name of a listener option key (`healthExpect` → `health-expect`). */
export function listenerFlag(key: string): string {
  return (listenerOptions as Record<string, { flag: string }>)[key]?.flag ?? key;
}

/** What a reload did, for the log line that says so. */
export interface ReloadReport {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** `listener.flag` of each applied listener option, and each applied process option's flag. */
  readonly applied: readonly string[];
  /** Options that changed but need a restart (`admin`, `log-level`, `a.per-pod-ports`). */
  readonly needsRestart: readonly string[];
}

export function reportIsEmpty(r: ReloadReport): boolean {
  return (
    r.added.length === 0 &&
    r.removed.length === 0 &&
    r.applied.length === 0 &&
    r.needsRestart.length === 0
  );
}
