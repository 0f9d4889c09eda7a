import type { Endpoint } from '../core/endpoint.ts';
import type { BackendLatency } from '../metrics/latency.ts';
import type { BackendMetrics } from '../metrics/proxy-metrics.ts';

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
export class Backend {
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

  /** Tests and simulations set the load directly (single-threaded pools only). */
  set active(n: number) {
    this.open = n;
  }

  /** Effective weight for balancing: the endpoint's weight, scaled during slow start. */
  get weight(): number {
    return this.rampFactor === 1 ? this.endpoint.weight : this.endpoint.weight * this.rampFactor;
  }

  /** The state shown to users: discovery's state, `removed` once unlisted, `maintenance` when drained by hand. */
  get state(): string {
    if (!this.listed) return 'removed';
    return this.adminDrained ? 'maintenance' : this.endpoint.state;
  }

  /** True while it must get no new connections but its open ones continue. */
  isLeaving(): boolean {
    return !this.listed || this.endpoint.state === 'not-serving';
  }
}
