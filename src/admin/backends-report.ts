import { backendState, type Backend, type BackendState } from '../backends/backend.ts';
import { formatHostPort } from '../core/address.ts';
import type { EndpointState } from '../core/endpoint.ts';
import type { LatencyReport } from '../metrics/latency.ts';
import type { Listener } from '../proxy/listener.ts';

/** What /backends reads of a listener: a Listener, or a worker-mode main-thread route (workers/control-plane.ts). */
export type ReportedListener = Pick<
  Listener,
  | 'name'
  | 'addresses'
  | 'strategy'
  | 'source'
  | 'pool'
  | 'activeConnections'
  | 'queueLength'
  | 'clock'
  | 'checker'
>;

/** Who is answering: the status page's header. */
export interface ProcessReport {
  readonly version: string;
  readonly revision: string;
  /** When the process started (UTC, ISO 8601). */
  readonly startedAt: string;
  /** When this report was made (UTC, ISO 8601): the clock rates are computed against. */
  readonly now: string;
  /** Worker threads relaying connections (`--workers`; 0 = the main thread does). */
  readonly workers: number;
}

/** The JSON body of `GET /backends`. */
export interface BackendsReport extends Partial<ProcessReport> {
  readonly listeners: readonly ListenerReport[];
}

/** Connections closed, by outcome (`headway_connections_total`'s outcome label). */
export type OutcomeCounts = Readonly<Record<string, number>>;

export interface ListenerReport {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly strategy: string;
  readonly source: { readonly kind: string; readonly uri: string; readonly [key: string]: unknown };
  readonly updatedAt: string | null;
  /** Whether a new connection would find a backend. */
  readonly usable: boolean;
  /** `ready`, `draining-fallback` (only terminating endpoints left), `panic` or `none`. */
  readonly tier: string;
  readonly activeConnections: number;
  /** Clients waiting for a backend below `--max-connections-per-backend`. */
  readonly queued: number;
  /** Connections closed without reaching a backend (no_backend, denied, rejected, ...). */
  readonly withoutBackend: OutcomeCounts;
  readonly backends: readonly BackendReport[];
}

export interface BackendReport {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly priority?: number;
  /** The one reported state (BACKEND_STATES in backends/backend.ts), as in `headway_backends{state}`. */
  readonly state: BackendState;
  /** Since when it is in that state (UTC, ISO 8601). */
  readonly stateSince: string;
  /** What discovery alone says (ready, draining, not-serving). */
  readonly endpointState: EndpointState;
  readonly active: number;
  readonly total: number;
  readonly failures: number;
  /** Closed connections that used it, by outcome. */
  readonly outcomes: OutcomeCounts;
  /** Times passive ejection took it out. */
  readonly ejections: number;
  /** Active health checks: absent when off. */
  readonly health?: {
    readonly healthy: boolean;
    readonly checks: number;
    readonly lastCheckAt: string | null;
    readonly lastResult: string | null;
    readonly lastMs: number | null;
    /** The HTTP status code of the last check (`--health-check http`); null otherwise. */
    readonly lastStatus: number | null;
  };
  /** Passive ejection: when it ends (absent when not ejected). */
  readonly ejectedUntil?: string;
  /**
   * With `--workers`: how many worker threads have it ejected (the main
   * thread's outlier detection decides for all; fewer only while its
   * verdict is on the way or a worker started since).
   */
  readonly ejectedByWorkers?: number;
  /** Slow start: share of its weight it gets now (absent at 100 %). */
  readonly slowStart?: number;
  /** Bytes relayed by closed connections. */
  readonly bytes: { readonly clientToBackend: number; readonly backendToClient: number };
  /** Latency percentiles in ms (absent with `--latency-tracking off`). */
  readonly latency?: {
    readonly connect: LatencyReport;
    readonly firstByte: LatencyReport;
    readonly session: LatencyReport;
  };
  readonly pod?: string;
  readonly hostname?: string;
  readonly node?: string;
  readonly zone?: string;
}

/**
 * The figures of one backend that the thread relaying its connections
 * counts. With `--workers` each worker thread has its own, and the control
 * plane adds them up (workers/worker-figures.ts) before reporting.
 */
export interface BackendFigures {
  readonly total: number;
  readonly failures: number;
  readonly bytesFromClient: number;
  readonly bytesFromBackend: number;
  readonly ejections: number;
  readonly outcomes: OutcomeCounts;
  /** Remaining ejection in ms (0 = not ejected). */
  readonly ejectedForMs: number;
  /** How long ago the current ejection started (undefined when not ejected). */
  readonly ejectedAgoMs: number | undefined;
  readonly ejectedByWorkers?: number;
  readonly latency: BackendReport['latency'] | null;
}

/** Where a listener's per-thread figures come from. */
export interface FigureSource {
  backend(b: Backend): BackendFigures;
  withoutBackend(): OutcomeCounts;
}

/** The figures this thread counted itself (no worker threads). */
export function ownFigures(listener: ReportedListener): FigureSource {
  const nowMs = listener.clock.nowMs();
  return {
    backend: (b) => figuresOf(b, nowMs),
    withoutBackend: () => countsOf(listener.pool.listenerMetrics.outcomesWithoutBackend?.()),
  };
}

/** The figures of a backend that add up across threads (everything but latency). */
export type CountedFigures = Omit<BackendFigures, 'latency' | 'ejectedByWorkers'>;

/** One backend's own counters, at monotonic time `nowMs`. */
export function countedFiguresOf(b: Backend, nowMs: number): CountedFigures {
  const ejected = b.ejectedUntilMs > nowMs;
  return {
    total: b.total,
    failures: b.failures,
    bytesFromClient: b.bytesFromClient,
    bytesFromBackend: b.bytesFromBackend,
    ejections: b.ejections,
    outcomes: countsOf(b.metrics.outcomes?.()),
    ejectedForMs: ejected ? b.ejectedUntilMs - nowMs : 0,
    ejectedAgoMs: ejected && b.state === 'ejected' ? nowMs - b.stateSinceMs : undefined,
  };
}

/** One backend's own figures, at monotonic time `nowMs`. */
export function figuresOf(b: Backend, nowMs: number): BackendFigures {
  return {
    ...countedFiguresOf(b, nowMs),
    latency: b.latency === null ? null : b.latency.report(nowMs),
  };
}

export function countsOf(map: ReadonlyMap<string, number> | undefined): OutcomeCounts {
  const out: Record<string, number> = {};
  if (map !== undefined) for (const [k, n] of map) if (n > 0) out[k] = n;
  return out;
}

export function reportListener(
  listener: ReportedListener,
  figures: FigureSource = ownFigures(listener),
): ListenerReport {
  const pool = listener.pool;
  const updated = pool.updatedAtMs;
  return {
    name: listener.name,
    addresses: listener.addresses,
    strategy: listener.strategy,
    source: { kind: listener.source.kind, uri: listener.source.uri, ...listener.source.status?.() },
    updatedAt: updated === undefined ? null : new Date(updated).toISOString(),
    usable: pool.hasUsableBackend,
    tier: pool.tier,
    activeConnections: listener.activeConnections,
    queued: listener.queueLength,
    withoutBackend: figures.withoutBackend(),
    backends: [...pool.backends()].map((b) => reportBackend(listener, b, figures.backend(b))),
  };
}

/**
 * The reported state from this thread's view plus the figures' ejection:
 * with worker threads, ejection happens in the workers, so the main
 * thread's own backend never has it.
 */
export function reportedState(b: Backend, f: BackendFigures): BackendState {
  return backendState({
    listed: b.listed,
    adminDrained: b.adminDrained,
    endpointState: b.endpoint.state,
    healthy: b.healthy,
    ejected: f.ejectedForMs > 0,
  });
}

function reportBackend(listener: ReportedListener, b: Backend, f: BackendFigures): BackendReport {
  const ep = b.endpoint;
  const nowMs = listener.clock.nowMs();
  const wallMs = listener.clock.wallMs();
  const check = listener.checker?.status(b.id);
  const state = reportedState(b, f);
  // Ejection known only from the figures (worker threads): it started then.
  const sinceMs =
    state === 'ejected' && f.ejectedAgoMs !== undefined
      ? wallMs - f.ejectedAgoMs
      : wallMs - (nowMs - b.stateSinceMs);
  return {
    id: b.id,
    address: formatHostPort(ep.address, ep.port),
    weight: ep.weight,
    ...(ep.priority === undefined ? {} : { priority: ep.priority }),
    state,
    stateSince: new Date(Math.min(sinceMs, wallMs)).toISOString(),
    endpointState: ep.state,
    active: b.active,
    total: f.total,
    failures: f.failures,
    outcomes: f.outcomes,
    ejections: f.ejections,
    ...(check === undefined
      ? {}
      : {
          health: {
            healthy: check.healthy,
            checks: check.checks,
            lastCheckAt:
              check.lastCheckAtMs === undefined
                ? null
                : new Date(check.lastCheckAtMs).toISOString(),
            lastResult: check.lastReason ?? null,
            lastMs: check.lastMs === undefined ? null : Math.round(check.lastMs * 1000) / 1000,
            lastStatus: check.lastStatus ?? null,
          },
        }),
    ...(f.ejectedForMs > 0
      ? { ejectedUntil: new Date(wallMs + f.ejectedForMs).toISOString() }
      : {}),
    ...(f.ejectedByWorkers === undefined ? {} : { ejectedByWorkers: f.ejectedByWorkers }),
    ...(b.rampFactor < 1 ? { slowStart: Math.round(b.rampFactor * 100) / 100 } : {}),
    bytes: { clientToBackend: f.bytesFromClient, backendToClient: f.bytesFromBackend },
    ...(f.latency === null || f.latency === undefined ? {} : { latency: f.latency }),
    ...(ep.pod === undefined ? {} : { pod: ep.pod }),
    ...(ep.hostname === undefined ? {} : { hostname: ep.hostname }),
    ...(ep.node === undefined ? {} : { node: ep.node }),
    ...(ep.zone === undefined ? {} : { zone: ep.zone }),
  };
}
