import type { Backend } from '../backends/backend.ts';
import { formatHostPort } from '../core/address.ts';
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

/** The JSON body of `GET /backends`. */
export interface BackendsReport {
  readonly listeners: readonly ListenerReport[];
}

export interface ListenerReport {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly strategy: string;
  readonly source: { readonly kind: string; readonly uri: string; readonly [key: string]: unknown };
  readonly updatedAt: string | null;
  /** Whether a new connection would find a backend. */
  readonly usable: boolean;
  /** `ready`, `draining-fallback` (only terminating endpoints left) or `none`. */
  readonly tier: string;
  readonly activeConnections: number;
  /** Clients waiting for a backend below `--max-connections-per-backend`. */
  readonly queued: number;
  readonly backends: readonly BackendReport[];
}

export interface BackendReport {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly priority?: number;
  readonly state: string;
  readonly active: number;
  readonly total: number;
  readonly failures: number;
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

export function reportListener(listener: ReportedListener): ListenerReport {
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
    backends: [...pool.backends()].map((b) => reportBackend(listener, b)),
  };
}

function reportBackend(listener: ReportedListener, b: Backend): BackendReport {
  const ep = b.endpoint;
  const nowMs = listener.clock.nowMs();
  const check = listener.checker?.status(b.id);
  const ejectedUntil =
    b.ejectedUntilMs > nowMs ? listener.clock.wallMs() + (b.ejectedUntilMs - nowMs) : undefined;
  return {
    id: b.id,
    address: formatHostPort(ep.address, ep.port),
    weight: ep.weight,
    ...(ep.priority === undefined ? {} : { priority: ep.priority }),
    state: b.state,
    active: b.active,
    total: b.total,
    failures: b.failures,
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
    ...(ejectedUntil === undefined ? {} : { ejectedUntil: new Date(ejectedUntil).toISOString() }),
    ...(b.rampFactor < 1 ? { slowStart: Math.round(b.rampFactor * 100) / 100 } : {}),
    bytes: { clientToBackend: b.bytesFromClient, backendToClient: b.bytesFromBackend },
    ...(b.latency === null ? {} : { latency: b.latency.report(nowMs) }),
    ...(ep.pod === undefined ? {} : { pod: ep.pod }),
    ...(ep.hostname === undefined ? {} : { hostname: ep.hostname }),
    ...(ep.node === undefined ? {} : { node: ep.node }),
    ...(ep.zone === undefined ? {} : { zone: ep.zone }),
  };
}
