import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outcome } from '../core/outcome.ts';
import type { BackendMetrics, ListenerMetrics, ProxyMetrics } from './proxy-metrics.ts';

/** One row of `headway_backends`. */
export interface BackendStateCount {
  readonly listener: string;
  readonly state: string;
  readonly count: number;
}

type CounterChild = ReturnType<Counter['labels']>;
type GaugeChild = ReturnType<Gauge['labels']>;

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
  #countBackends: () => Iterable<BackendStateCount> = () => [];
  readonly #listeners = new Map<string, PromListenerMetrics>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.connections = new Counter({
      name: 'headway_connections_total',
      help: 'Client connections closed, by listener, backend (stable id; empty when none was reached) and outcome',
      labelNames: ['listener', 'backend', 'outcome'],
      registers: [this.registry],
    });
    this.active = new Gauge({
      name: 'headway_active_connections',
      help: 'Connections open or being opened to each backend',
      labelNames: ['listener', 'backend'],
      registers: [this.registry],
    });
    this.bytes = new Counter({
      name: 'headway_bytes_total',
      help: 'Bytes relayed, by direction (client_to_backend, backend_to_client); counted when a connection closes',
      labelNames: ['listener', 'backend', 'direction'],
      registers: [this.registry],
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
      help: 'Backends known to each listener, by state (ready, draining, not-serving, removed)',
      labelNames: ['listener', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of countBackends())
          this.set({ listener: c.listener, state: c.state }, c.count);
      },
    });
  }

  /** Where `headway_backends{listener,state}` reads its values at scrape time. */
  countBackendsWith(fn: () => Iterable<BackendStateCount>): void {
    this.#countBackends = fn;
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

class PromListenerMetrics implements ListenerMetrics {
  readonly #prom: PromMetrics;
  readonly #name: string;
  readonly #backends = new Map<string, PromBackendMetrics>();
  readonly #none: PromBackendMetrics;

  constructor(prom: PromMetrics, name: string) {
    this.#prom = prom;
    this.#name = name;
    this.#none = new PromBackendMetrics(prom, name, NO_BACKEND_LABEL, () => undefined);
  }

  backend(id: string): BackendMetrics {
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
}

class PromBackendMetrics implements BackendMetrics {
  readonly #prom: PromMetrics;
  readonly #labels: { listener: string; backend: string };
  readonly #forget: () => void;
  readonly #byOutcome: Partial<Record<Outcome, CounterChild>> = {};
  #active: GaugeChild | undefined;
  #bytesIn: CounterChild | undefined;
  #bytesOut: CounterChild | undefined;

  constructor(prom: PromMetrics, listener: string, backend: string, forget: () => void) {
    this.#prom = prom;
    this.#labels = { listener, backend };
    this.#forget = forget;
  }

  attemptStarted(): void {
    (this.#active ??= this.#prom.active.labels(this.#labels)).inc();
  }

  attemptEnded(): void {
    (this.#active ??= this.#prom.active.labels(this.#labels)).dec();
  }

  connectionClosed(outcome: Outcome, bytesFromClient: number, bytesFromBackend: number): void {
    const counter = (this.#byOutcome[outcome] ??= this.#prom.connections.labels({
      ...this.#labels,
      outcome,
    }));
    counter.inc();
    if (bytesFromClient > 0) {
      (this.#bytesIn ??= this.#prom.bytes.labels({
        ...this.#labels,
        direction: 'client_to_backend',
      })).inc(bytesFromClient);
    }
    if (bytesFromBackend > 0) {
      (this.#bytesOut ??= this.#prom.bytes.labels({
        ...this.#labels,
        direction: 'backend_to_client',
      })).inc(bytesFromBackend);
    }
  }

  remove(): void {
    for (const outcome of Object.keys(this.#byOutcome)) {
      this.#prom.connections.remove({ ...this.#labels, outcome });
    }
    this.#prom.active.remove(this.#labels);
    this.#prom.bytes.remove({ ...this.#labels, direction: 'client_to_backend' });
    this.#prom.bytes.remove({ ...this.#labels, direction: 'backend_to_client' });
    this.#forget();
  }
}
