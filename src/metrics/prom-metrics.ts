import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BucketHistogram, BucketSeries } from './bucket-histogram.ts';
import { registerBuildInfo } from './build-info.ts';
import type { Outcome } from '../core/outcome.ts';
import type { BackendMetrics, ListenerMetrics, ProxyMetrics } from './proxy-metrics.ts';

/** One row of `headway_backends`. */
export interface BackendStateCount {
  readonly listener: string;
  readonly state: string;
  readonly count: number;
}

/** Latency buckets, 50 µs … 60 s (seconds). */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5, 10, 30, 60,
];

export interface PromMetricsOptions {
  /** prom-client's default process metrics (default on). */
  readonly processMetrics?: boolean;
  /**
   * Per-backend series (default on). Off: every backend of a listener is
   * counted under `backend=""`, for very large sets.
   */
  readonly backendLabel?: boolean;
}

/** Label value used for connections that never reached a backend. */
export const NO_BACKEND_LABEL = '';

/**
 * Prometheus metrics (prom-client). One registry per process; each
 * listener/backend pair gets cached child handles, created on first use and
 * removed when the backend has gone and drained.
 */
export class PromMetrics implements ProxyMetrics {
  readonly registry = new Registry();
  readonly connections: Counter<'listener' | 'backend' | 'outcome'>;
  readonly active: Gauge<'listener' | 'backend'>;
  readonly bytes: Counter<'listener' | 'backend' | 'direction'>;
  readonly discoveryUpdates: Counter<'listener' | 'source'>;
  readonly discoveryErrors: Counter<'listener' | 'source' | 'reason'>;
  readonly backendsByState: Gauge<'listener' | 'state'>;
  readonly connectSeconds: BucketHistogram<'listener' | 'backend'>;
  readonly firstByteSeconds: BucketHistogram<'listener' | 'backend'>;
  readonly sessionSeconds: BucketHistogram<'listener' | 'backend'>;
  readonly backendLabel: boolean;
  readonly healthy: Gauge<'listener' | 'backend'>;
  readonly ejections: Counter<'listener' | 'backend'>;
  readonly panics: Counter<'listener'>;
  readonly queued: Gauge<'listener'>;
  readonly accessLogDropped: Counter;
  readonly sentinelErrors: Counter<'listener' | 'sentinel' | 'reason'>;
  readonly localErrors: Counter<'kind'>;
  readonly acceptErrors: Counter<'kind'>;
  #countQueued: () => Iterable<{ listener: string; count: number }> = () => [];
  #countBackends: () => Iterable<BackendStateCount> = () => [];
  readonly #listeners = new Map<string, PromListenerMetrics>();

  constructor(opts: PromMetricsOptions = {}) {
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Process-wide like the default metrics: the main thread's to report.
      registerBuildInfo(this.registry);
    }
    this.backendLabel = opts.backendLabel ?? true;
    // Per-connection figures are plain numbers in each backend's PromBackendMetrics,
    // read at scrape time: prom-client's labelled inc/observe hash the labels on every call.
    const backends = (): Iterable<PromBackendMetrics> => this.#allBackends();
    const histogram = (
      name: string,
      help: string,
      pick: (b: PromBackendMetrics) => BucketSeries,
    ): BucketHistogram<'listener' | 'backend'> => {
      const h = new BucketHistogram<'listener' | 'backend'>({
        name,
        help,
        bounds: LATENCY_BUCKETS,
        series: function* () {
          for (const b of backends())
            if (pick(b).count > 0) yield { labels: b.labels, series: pick(b) };
        },
      });
      this.registry.registerMetric(h.asMetric());
      return h;
    };
    this.healthy = new Gauge({
      name: 'headway_backend_healthy',
      help: 'Whether a backend passes its active health checks (1) or not (0)',
      labelNames: ['listener', 'backend'],
      // With worker threads every thread knows the same verdict: merge, not add.
      aggregator: 'max',
      registers: [this.registry],
    });
    this.ejections = new Counter({
      name: 'headway_backend_ejections_total',
      help: 'Times a backend was ejected after consecutive connect failures',
      labelNames: ['listener', 'backend'],
      registers: [this.registry],
    });
    this.panics = new Counter({
      name: 'headway_panic_total',
      help: 'Times every backend of a listener was unhealthy or ejected, so traffic went to all of them (panic mode)',
      labelNames: ['listener'],
      registers: [this.registry],
    });
    this.accessLogDropped = new Counter({
      name: 'headway_access_log_dropped_total',
      help: 'Access log lines dropped because the sink could not keep up (the buffer is bounded)',
      registers: [this.registry],
    });
    this.localErrors = new Counter({
      name: 'headway_local_errors_total',
      help: 'Local resource errors (file descriptors, buffers, memory) on upstream sockets and health checks; never counted against a backend',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.acceptErrors = new Counter({
      name: 'headway_accept_errors_total',
      help: 'Client connections lost at accept: fd_limit = refused to keep the file descriptor reserve, else the accept error',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    const countQueued = (): Iterable<{ listener: string; count: number }> => this.#countQueued();
    this.queued = new Gauge({
      name: 'headway_queued_connections',
      help: 'Clients waiting for a backend below --max-connections-per-backend',
      labelNames: ['listener'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const q of countQueued()) this.set({ listener: q.listener }, q.count);
      },
    });
    this.connectSeconds = histogram(
      'headway_backend_connect_seconds',
      'Time to establish the TCP connection to a backend',
      (b) => b.connect,
    );
    this.firstByteSeconds = histogram(
      'headway_backend_first_byte_seconds',
      "From the client's first byte sent upstream to the backend's first byte back (client-speaks-first protocols only)",
      (b) => b.firstByte,
    );
    this.sessionSeconds = histogram(
      'headway_session_seconds',
      'Client connection duration, accept to close, of connections that reached a backend',
      (b) => b.session,
    );
    this.connections = new Counter({
      name: 'headway_connections_total',
      help: 'Client connections closed, by listener, backend (stable id; empty when none was reached) and outcome',
      labelNames: ['listener', 'backend', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of backends()) {
          for (const [outcome, n] of b.byOutcome) this.inc({ ...b.labels, outcome }, n);
        }
      },
    });
    this.active = new Gauge({
      name: 'headway_active_connections',
      help: 'Connections open or being opened to each backend',
      labelNames: ['listener', 'backend'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of backends()) if (b.seen) this.set(b.labels, b.active);
      },
    });
    this.bytes = new Counter({
      name: 'headway_bytes_total',
      help: 'Bytes relayed, by direction (client_to_backend, backend_to_client); counted when a connection closes',
      labelNames: ['listener', 'backend', 'direction'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of backends()) {
          if (b.bytesIn > 0) this.inc({ ...b.labels, direction: 'client_to_backend' }, b.bytesIn);
          if (b.bytesOut > 0) this.inc({ ...b.labels, direction: 'backend_to_client' }, b.bytesOut);
        }
      },
    });
    this.discoveryUpdates = new Counter({
      name: 'headway_discovery_updates_total',
      help: 'Endpoint sets delivered by discovery (only changes count), by listener and source',
      labelNames: ['listener', 'source'],
      registers: [this.registry],
    });
    this.discoveryErrors = new Counter({
      name: 'headway_discovery_errors_total',
      help: 'Failed discovery refreshes (the last set stays in force), by listener, source and reason',
      labelNames: ['listener', 'source', 'reason'],
      registers: [this.registry],
    });
    const countBackends = (): Iterable<BackendStateCount> => this.#countBackends();
    this.backendsByState = new Gauge({
      name: 'headway_backends',
      help: 'Backends known to each listener, by state (ready, draining, ejected, unhealthy, not-serving, maintenance, removed; one state each)',
      labelNames: ['listener', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of countBackends())
          this.set({ listener: c.listener, state: c.state }, c.count);
      },
    });
    this.sentinelErrors = new Counter({
      name: 'headway_sentinel_errors_total',
      help: 'Failed connections, queries and answers of each Redis sentinel (sentinel:// discovery), by listener, sentinel address and reason',
      labelNames: ['listener', 'sentinel', 'reason'],
      registers: [this.registry],
    });
  }

  /** Where `headway_queued_connections{listener}` reads its values at scrape time. */
  countQueuedWith(fn: () => Iterable<{ listener: string; count: number }>): void {
    this.#countQueued = fn;
  }

  /** Where `headway_backends{listener,state}` reads its values at scrape time. */
  countBackendsWith(fn: () => Iterable<BackendStateCount>): void {
    this.#countBackends = fn;
  }

  *#allBackends(): Generator<PromBackendMetrics> {
    for (const l of this.#listeners.values()) yield* l.backends();
  }

  localError(kind: string): void {
    this.localErrors.inc({ kind });
  }

  acceptError(kind: string): void {
    this.acceptErrors.inc({ kind });
  }

  #reloads: ReloadMetrics | undefined;

  /**
   * `headway_config_reload_total{result}`, `headway_config_last_reload_success`
   * and `headway_config_last_reload_timestamp_seconds` (as Prometheus and
   * Alertmanager expose them). Registered by the process that reloads (not
   * by worker threads), and set as a success at start-up.
   */
  enableReloadMetrics(startedAtMs: number): void {
    if (this.#reloads !== undefined) return;
    this.#reloads = {
      total: new Counter({
        name: 'headway_config_reload_total',
        help: 'Config reloads by result (success, failure: the running config was kept; refused: shutting down)',
        labelNames: ['result'],
        registers: [this.registry],
      }),
      success: new Gauge({
        name: 'headway_config_last_reload_success',
        help: 'Whether the last config reload succeeded (1) or failed and the previous config is still running (0)',
        registers: [this.registry],
      }),
      timestamp: new Gauge({
        name: 'headway_config_last_reload_timestamp_seconds',
        help: 'When the running configuration was loaded (start-up or the last successful reload), Unix seconds',
        registers: [this.registry],
      }),
    };
    for (const result of ['success', 'failure', 'refused']) this.#reloads.total.inc({ result }, 0);
    this.#reloads.success.set(1);
    this.#reloads.timestamp.set(startedAtMs / 1000);
  }

  /** Count one reload attempt (after `enableReloadMetrics`). */
  reloaded(result: 'success' | 'failure' | 'refused', atMs: number): void {
    const m = this.#reloads;
    if (m === undefined) return;
    m.total.inc({ result });
    if (result === 'refused') return;
    m.success.set(result === 'success' ? 1 : 0);
    if (result === 'success') m.timestamp.set(atMs / 1000);
  }

  listener(name: string): ListenerMetrics {
    let l = this.#listeners.get(name);
    if (l === undefined) {
      l = new PromListenerMetrics(this, name);
      this.#listeners.set(name, l);
    }
    return l;
  }
}

interface ReloadMetrics {
  readonly total: Counter<'result'>;
  readonly success: Gauge;
  readonly timestamp: Gauge;
}

class PromListenerMetrics implements ListenerMetrics {
  readonly #prom: PromMetrics;
  readonly #name: string;
  readonly #backends = new Map<string, PromBackendMetrics>();
  readonly #none: PromBackendMetrics;

  /** Every backend's metrics, and the listener's `backend=""` series. */
  *backends(): Generator<PromBackendMetrics> {
    yield this.#none;
    yield* this.#backends.values();
  }

  constructor(prom: PromMetrics, name: string) {
    this.#prom = prom;
    this.#name = name;
    this.#none = new PromBackendMetrics(prom, name, NO_BACKEND_LABEL, () => undefined);
  }

  backend(id: string): BackendMetrics {
    // Without the backend label, every backend shares the listener's series (never removed).
    if (!this.#prom.backendLabel) return this.#none;
    let b = this.#backends.get(id);
    if (b === undefined) {
      b = new PromBackendMetrics(this.#prom, this.#name, id, () => this.#backends.delete(id));
      this.#backends.set(id, b);
    }
    return b;
  }

  connectionClosedWithoutBackend(outcome: Outcome, bytesFromClient: number): void {
    this.#none.connectionClosed(outcome, bytesFromClient, 0);
  }

  discoveryUpdated(source: string): void {
    this.#prom.discoveryUpdates.inc({ listener: this.#name, source });
  }

  discoveryFailed(source: string, reason: string): void {
    this.#prom.discoveryErrors.inc({ listener: this.#name, source, reason });
  }

  panicEntered(): void {
    this.#prom.panics.inc({ listener: this.#name });
  }

  outcomesWithoutBackend(): ReadonlyMap<Outcome, number> {
    return this.#none.byOutcome;
  }

  sentinelFailed(sentinel: string, reason: string): void {
    this.#prom.sentinelErrors.inc({ listener: this.#name, sentinel, reason });
  }
}

class PromBackendMetrics implements BackendMetrics {
  readonly #prom: PromMetrics;
  readonly labels: { listener: string; backend: string };
  readonly #forget: () => void;
  /** Plain numbers on the connection path; PromMetrics reads them at scrape time. */
  readonly byOutcome = new Map<Outcome, number>();
  active = 0;
  /** A connection was attempted: the active gauge has a series from then on. */
  seen = false;
  bytesIn = 0;
  bytesOut = 0;
  readonly connect = new BucketSeries(LATENCY_BUCKETS);
  readonly firstByte = new BucketSeries(LATENCY_BUCKETS);
  readonly session = new BucketSeries(LATENCY_BUCKETS);

  constructor(prom: PromMetrics, listener: string, backend: string, forget: () => void) {
    this.#prom = prom;
    this.labels = { listener, backend };
    this.#forget = forget;
  }

  attemptStarted(): void {
    this.seen = true;
    this.active++;
  }

  attemptEnded(): void {
    this.active--;
  }

  connectionClosed(outcome: Outcome, bytesFromClient: number, bytesFromBackend: number): void {
    this.byOutcome.set(outcome, (this.byOutcome.get(outcome) ?? 0) + 1);
    this.bytesIn += bytesFromClient;
    this.bytesOut += bytesFromBackend;
  }

  observeConnect(seconds: number): void {
    this.connect.observe(seconds);
  }

  observeFirstByte(seconds: number): void {
    this.firstByte.observe(seconds);
  }

  observeSession(seconds: number): void {
    this.session.observe(seconds);
  }

  setHealthy(healthy: boolean): void {
    this.#prom.healthy.set(this.labels, healthy ? 1 : 0);
  }

  ejected(): void {
    this.#prom.ejections.inc(this.labels);
  }

  outcomes(): ReadonlyMap<Outcome, number> {
    return this.byOutcome;
  }

  /** The backend has gone and drained: its series go (the scrape-time ones with this object). */
  remove(): void {
    if (this.labels.backend === NO_BACKEND_LABEL) return;
    this.#prom.healthy.remove(this.labels);
    this.#prom.ejections.remove(this.labels);
    this.#forget();
  }
}
