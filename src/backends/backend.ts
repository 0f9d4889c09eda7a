import type { BalanceTarget } from '../balancing/balancer.ts';
import type { Endpoint, EndpointState } from '../core/endpoint.ts';
import type { BackendLatency } from '../metrics/latency.ts';
import type { BackendMetrics } from '../metrics/proxy-metrics.ts';

/**
 * The one state a backend is reported in: by `/backends`, the status page and
 * `headway_backends{state}`. When several apply, the first in this order
 * wins (it is the reason it gets no new connections, or fewer):
 *
 * | state         | meaning                                                              | new connections |
 * |---------------|----------------------------------------------------------------------|-----------------|
 * | `removed`     | discovery no longer lists it; open connections finish                | no              |
 * | `maintenance` | drained through the admin API (`POST /backends/{id}/drain`)           | no              |
 * | `not-serving` | discovery says it is neither ready nor serving (pod not ready)         | no              |
 * | `unhealthy`   | failing its active health checks                                     | only in panic   |
 * | `ejected`     | taken out by passive outlier detection for a while                   | only in panic   |
 * | `draining`    | terminating but still serving (EndpointSlice `serving`, not `ready`)   | only if no ready one |
 * | `ready`       | none of the above                                                    | yes             |
 */
export const BACKEND_STATES = [
  'removed',
  'maintenance',
  'not-serving',
  'unhealthy',
  'ejected',
  'draining',
  'ready',
] as const;
export type BackendState = (typeof BACKEND_STATES)[number];

/** What the reported state is derived from. */
export interface BackendStateInputs {
  readonly listed: boolean;
  readonly adminDrained: boolean;
  readonly endpointState: EndpointState;
  readonly healthy: boolean;
  readonly ejected: boolean;
}

/** Fold discovery, maintenance, health and ejection into the one reported state (table above). */
export function backendState(b: BackendStateInputs): BackendState {
  if (!b.listed) return 'removed';
  if (b.adminDrained) return 'maintenance';
  if (b.endpointState === 'not-serving') return 'not-serving';
  if (!b.healthy) return 'unhealthy';
  if (b.ejected) return 'ejected';
  return b.endpointState === 'draining' ? 'draining' : 'ready';
}

/** One backend's cell in an Int32Array that worker threads share (see workers/shared-counts.ts). */
export interface SharedCount {
  readonly counts: Int32Array;
  readonly index: number;
}

/** Something attached to a backend that can be closed when the backend must be cut off. */
export interface Closable {
  closeGracefully(reason: 'drained'): void;
}

/**
 * Runtime state of one backend of one listener, kept beside the immutable
 * `Endpoint` that discovery produced. It survives snapshot updates for as long
 * as the endpoint's stable id stays in the set (or it still has connections).
 */
export class Backend implements BalanceTarget {
  readonly id: string;
  /** The newest endpoint discovery gave for this id (its address may change). */
  endpoint: Endpoint;
  /** False once discovery no longer lists it; it stays until its connections end. */
  listed = true;
  /** Put in maintenance through the admin API (`POST /backends/{id}/drain`). */
  adminDrained = false;
  /** Passing active health checks (true while none are configured). */
  healthy = true;
  /** Monotonic ms until which passive ejection keeps it out (0 = not ejected). */
  ejectedUntilMs = 0;
  /** Monotonic ms since it is usable (new, or back from unhealthy/ejected): the slow-start origin. */
  usableSinceMs = 0;
  /**
   * Share of its weight it gets now: 1, or less while slow start ramps it
   * up. Changed only by the pool right before it hands candidates to the
   * balancer, so balancer tables never see it move under them.
   */
  rampFactor = 1;
  /** Connections this thread has open or being opened to it. */
  open = 0;
  /**
   * Its cell in a count every worker thread updates (`--workers`), or null
   * when this thread is the only one proxying.
   */
  shared: SharedCount | null = null;
  /** Monotonic ms since it is in its current reported `state` (see `noteState`). */
  stateSinceMs = 0;
  #notedState: BackendState | undefined;
  /** Times passive ejection took it out. */
  ejections = 0;
  /** Connections ever attempted to it. */
  total = 0;
  /** Connection attempts that failed. */
  failures = 0;
  /** Bytes relayed by closed connections, each way. */
  bytesFromClient = 0;
  bytesFromBackend = 0;
  readonly metrics: BackendMetrics;
  /** Latency tracking (HDR histograms), or null when `--latency-tracking off`. */
  readonly latency: BackendLatency | null;
  /** Open connections, so a drain deadline can close them. */
  readonly sessions = new Set<Closable>();
  /** Deadline timer for connections of a backend that left (`--backend-drain-timeout`). */
  drainTimer: NodeJS.Timeout | undefined;

  constructor(endpoint: Endpoint, metrics: BackendMetrics, latency: BackendLatency | null = null) {
    this.id = endpoint.id;
    this.endpoint = endpoint;
    this.metrics = metrics;
    this.latency = latency;
  }

  // Latency hooks of the data path: one histogram record each, no allocation.

  recordConnect(ms: number, nowMs: number): void {
    if (this.latency === null) return;
    this.latency.connect.record(ms, nowMs);
    this.metrics.observeConnect(ms / 1000);
  }

  recordFirstByte(ms: number, nowMs: number): void {
    if (this.latency === null) return;
    this.latency.firstByte.record(ms, nowMs);
    this.metrics.observeFirstByte(ms / 1000);
  }

  recordSession(ms: number, nowMs: number): void {
    if (this.latency === null) return;
    this.latency.session.record(ms, nowMs);
    this.metrics.observeSession(ms / 1000);
  }

  /**
   * Connections open or being opened to it, by every worker thread when
   * counts are shared: the load balancers and limits compare.
   */
  get active(): number {
    return this.shared === null ? this.open : Atomics.load(this.shared.counts, this.shared.index);
  }

  /** The route it serves on a listener with several (see `BalanceTarget.group`). */
  get group(): number | undefined {
    return this.endpoint.group;
  }

  /** Other worker threads' connections count in `active` (see `BalanceTarget.activeShared`). */
  get activeShared(): boolean {
    return this.shared !== null;
  }

  /** Tests and simulations set the load directly (single-threaded pools only). */
  set active(n: number) {
    this.open = n;
  }

  /** Effective weight for balancing: the endpoint's weight, scaled during slow start. */
  get weight(): number {
    return this.rampFactor === 1 ? this.endpoint.weight : this.endpoint.weight * this.rampFactor;
  }

  /**
   * The state reported by `/backends`, the status page and `headway_backends`
   * (see BACKEND_STATES). An ejection counts until the pool notices it ended
   * (its refresh timer fires at the expiry).
   */
  get state(): BackendState {
    return backendState({
      listed: this.listed,
      adminDrained: this.adminDrained,
      endpointState: this.endpoint.state,
      healthy: this.healthy,
      ejected: this.ejectedUntilMs !== 0,
    });
  }

  /**
   * Record the time its reported state changed. The pool calls it on every
   * refresh, which follows every change of the inputs (discovery,
   * maintenance, health, ejection and its end).
   */
  noteState(nowMs: number): void {
    const now = this.state;
    if (now === this.#notedState) return;
    this.#notedState = now;
    this.stateSinceMs = nowMs;
  }

  /** True while it must get no new connections but its open ones continue. */
  isLeaving(): boolean {
    return !this.listed || this.endpoint.state === 'not-serving';
  }
}
