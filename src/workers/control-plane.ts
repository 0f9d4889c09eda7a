import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import {
  reportListener,
  reportedState,
  type BackendsReport,
  type ReportedListener,
} from '../admin/backends-report.ts';
import { processReport } from '../admin/process-report.ts';
import { adminAuthFrom } from '../admin/admin-auth.ts';
import {
  type Readiness,
  type ReloadReport,
  listenerFlag,
  readinessOf,
  shutdownDelay,
  splitProcessChange,
} from '../app/lifecycle.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { formatHostPort, type HostPort } from '../core/address.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import { asError, errorMessage, ReloadRefusedError, WorkerError } from '../core/errors.ts';
import { changedKeys } from '../config/settings-equal.ts';
import type { Logger } from '../core/logger.ts';
import { PromMetrics, type BackendStateCount } from '../metrics/prom-metrics.ts';
import { DEFAULT_LISTEN } from '../config/listen-addresses.ts';
import { PerPodListeners } from '../proxy/per-pod-listeners.ts';
import { ListenerUpstream } from '../upstream/listener-upstream.ts';
import type { UpstreamObserver } from '../upstream/thread-link.ts';
import type { Upstream, UpstreamDeps } from '../upstream/upstream.ts';
import { failureError } from './failure.ts';
import type { FromWorker, ListenerFeedState, ToWorker, WorkerStart } from './messages.ts';
import { SharedCounts } from './shared-counts.ts';
import { mergedFigures, type WorkerFigures } from './worker-figures.ts';

export interface ControlPlaneDeps {
  readonly logger: Logger;
  readonly onFatal: (err: Error) => void;
  readonly clock?: Clock;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A worker has this long to answer a metrics request before the scrape goes on without it. */
const METRICS_TIMEOUT_MS = 2000;
/** Workers' figures younger than this are reused rather than asked for again (see #collectFigures). */
const FIGURES_MAX_AGE_MS = 1000;
/** Beyond the drain timeout, how long a worker may take to stop before it is terminated. */
const STOP_MARGIN_MS = 5000;

type JsonMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** One worker thread and what the main thread waits for from it. */
interface WorkerHandle {
  readonly worker: Worker;
  readonly index: number;
  stopped: boolean;
  onStopped: (() => void) | undefined;
  /** Set while a forced exit waits for this worker to reset its connections. */
  onAborted?: (() => void) | undefined;
}

/**
 * The main thread of `--workers N`: runs discovery and active health checks
 * once per listener (upstreams, without sockets), forwards every snapshot and
 * verdict to N worker threads that accept and relay connections on the same
 * ports (SO_REUSEPORT), shares per-backend connection counts with them
 * through SharedArrayBuffers (so least-connections and per-backend limits see
 * the whole process), and serves the admin endpoint, merging the workers'
 * metrics on each scrape. Signals map as without workers: reload and reopen
 * are passed on, shutdown drains every worker.
 */
export class ControlPlane implements UpstreamObserver {
  config: ProxyConfig;
  readonly metrics: PromMetrics;
  readonly #logger: Logger;
  readonly #deps: ControlPlaneDeps;
  readonly #clock: Clock;
  readonly #upstreamDeps: UpstreamDeps;
  /** Discovery and health checks of every listener, run once here for all the workers. */
  readonly #upstreams = new Map<string, Upstream>();
  /** Upstreams of per-pod listeners (`--per-pod-ports`), opened and closed as pods come and go. */
  readonly #podUpstreams = new Map<string, Upstream>();
  /** One per listener with `--per-pod-ports`: the same split of the pods as every worker makes. */
  readonly #perPod: PerPodListeners[] = [];
  readonly #counts = new Map<string, SharedCounts>();
  /** Concrete ports chosen for listen addresses given as port 0, by listener. */
  readonly #resolvedListen = new Map<string, { asked: string; bound: HostPort[] }>();
  readonly #workers: WorkerHandle[] = [];
  /** Answers awaited from workers (metrics, figures), by request number. */
  readonly #waiters = new Map<number, (answer: unknown) => void>();
  /** The workers' figures as last collected (for headway_backends{state} between requests). */
  #lastFigures: WorkerFigures[] = [];
  #figuresAtMs = -Infinity;
  #figuresInFlight: Promise<WorkerFigures[]> | undefined;
  #nextRequest = 0;
  #admin: AdminServer | undefined;
  #started = false;
  #shuttingDown = false;

  constructor(config: ProxyConfig, deps: ControlPlaneDeps) {
    this.config = config;
    this.#deps = deps;
    this.#logger = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    this.metrics = new PromMetrics({ backendLabel: config.process.metricsBackendLabel });
    this.#upstreamDeps = {
      clock: this.#clock,
      logger: deps.logger,
      metrics: this.metrics,
      random: Math.random,
      env: deps.env ?? process.env,
      onFatal: deps.onFatal,
      observer: this,
    };
    this.metrics.countBackendsWith(() => this.#stateCounts());
  }

  get adminAddress(): string | undefined {
    return this.#admin?.address;
  }

  get accessLog(): null {
    return null;
  }

  async start(): Promise<void> {
    const adminAuth = adminAuthFrom(this.config.process);
    const config = await this.#withConcretePorts(this.config);
    this.config = config;
    try {
      for (const l of config.listeners) {
        await this.#addUpstream(l);
        if (l.perPodPorts > 0) await this.#startPerPod(l);
      }
      await Promise.all(
        Array.from({ length: config.process.workers }, (_, i) => this.#startWorker(i, config)),
      );
      const admin = config.process.admin;
      if (admin !== null) {
        this.#admin = await startAdminServer(
          admin,
          {
            readiness: () => this.readiness(),
            backends: () => this.#backendsReport(),
            metrics: () => this.#mergedMetrics(),
            pods: () => ({
              listeners: this.#perPod.map((m) => ({ name: m.name, pods: m.ports() })),
            }),
            setDrain: (id, listener, drained) => this.#setDrain(id, listener, drained),
          },
          this.#logger,
          adminAuth,
        );
      }
    } catch (err) {
      await this.#stopWorkers(0);
      this.#retireAll();
      throw err;
    }
    this.#started = true;
    this.#logger.info('workers started', { workers: config.process.workers });
  }

  // UpstreamObserver: what the main thread's upstreams learn goes to every worker.

  sharedCount(listener: string, id: string): ReturnType<SharedCounts['assign']> {
    const counts = this.#countsOf(listener);
    const cell = counts.assign(id);
    if (cell === null && counts.full) {
      this.#logger.warn('no shared count cell left; this backend is counted per worker', {
        listener,
        backend: id,
      });
    }
    return cell;
  }

  snapshot(listener: string, snapshot: EndpointSnapshot): void {
    const counts = this.#countsOf(listener);
    for (const ep of snapshot.endpoints) counts.assign(ep.id);
    this.#broadcast({
      type: 'snapshot',
      listener,
      snapshot,
      counts: counts.buffer,
      cells: counts.entries(),
    });
  }

  health(listener: string, id: string, healthy: boolean): void {
    this.#broadcast({ type: 'health', listener, id, healthy });
  }

  ejected(listener: string, id: string, forMs: number): void {
    // The streak that ejected it is over; back in, it needs `--eject-after` fresh failures.
    this.#countsOf(listener).resetStreak(id);
    this.#broadcast({ type: 'eject', listener, id, forMs });
  }

  /** A worker's connect outcome: the input of this thread's outlier detection for every worker. */
  #connectOutcome(listener: string, id: string, ok: boolean): void {
    const pool = this.#upstreamNamed(listener)?.pool;
    const backend = pool?.get(id);
    if (pool === undefined || backend === undefined) return;
    if (ok) pool.connectSucceeded(backend);
    else pool.connectFailed(backend);
  }

  readiness(): Readiness {
    return readinessOf(
      {
        started: this.#started,
        shuttingDown: this.#shuttingDown,
        requireBackends: this.config.process.readyRequiresBackends,
      },
      this.#everyUpstream(),
    );
  }

  /** New listeners start, removed ones stop, changed ones get a new upstream; then the workers follow. */
  async reload(next: ProxyConfig): Promise<ReloadReport> {
    if (this.#shuttingDown) throw new ReloadRefusedError('shutting down');
    const proc = splitProcessChange(this.config.process, next.process);
    const config = await this.#withConcretePorts({
      process: proc.settings,
      listeners: next.listeners,
    });
    const wanted = new Set(config.listeners.map((l) => l.name));
    const removed: string[] = [];
    const added: string[] = [];
    const applied: string[] = [];
    for (const [name, upstream] of this.#upstreams) {
      if (!wanted.has(name)) {
        retire(upstream);
        this.#upstreams.delete(name);
        removed.push(name);
      }
    }
    for (const l of config.listeners) {
      const existing = this.#upstreams.get(l.name);
      const options = existing === undefined ? [] : changedKeys(existing.config, l);
      if (existing !== undefined && options.length === 0) continue;
      if (existing === undefined) added.push(l.name);
      else applied.push(...options.map((o) => `${l.name}.${listenerFlag(o)}`));
      if (existing !== undefined) retire(existing);
      await this.#addUpstream(l);
    }
    this.config = config;
    this.#broadcast({ type: 'reload', config });
    return {
      added,
      removed,
      applied: [...applied, ...proc.applied],
      needsRestart: proc.needsRestart,
    };
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  reopenLogs(): void {
    this.#broadcast({ type: 'reopen' });
  }

  /**
   * The forced exit (second signal): every worker resets its open
   * connections; resolves once each has said so, or after `timeoutMs`.
   */
  async abort(timeoutMs = 1000): Promise<void> {
    await Promise.all(
      this.#workers.map(
        (h) =>
          new Promise<void>((resolve) => {
            if (h.stopped) {
              resolve();
              return;
            }
            const timer = setTimeout(resolve, timeoutMs);
            h.onAborted = () => {
              clearTimeout(timer);
              resolve();
            };
            h.worker.postMessage({ type: 'abort' } satisfies ToWorker);
          }),
      ),
    );
  }

  /** As without workers: /readyz 503 for the shutdown delay, then every worker drains. */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    await shutdownDelay(this.config.process, this.#logger);
    await this.#stopWorkers(this.config.process.drainTimeout + STOP_MARGIN_MS);
    this.#retireAll();
    await this.#admin?.close();
    this.#logger.info('shutdown complete');
  }

  async #addUpstream(settings: ListenerSettings): Promise<void> {
    const upstream = new ListenerUpstream(
      settings,
      this.#upstreamDeps,
      this.#logger.child({ listener: settings.name }),
    );
    await upstream.init();
    this.#upstreams.set(settings.name, upstream);
    upstream.start();
  }

  /**
   * `--per-pod-ports` with workers: this thread splits the pods as each
   * worker does (same snapshots, same ordinals) and runs each pod's upstream
   * (checks, ejection, shared counts) under the pod listener's name; the
   * workers open the listeners and take the slices from here.
   */
  async #startPerPod(settings: ListenerSettings): Promise<void> {
    const manager = new PerPodListeners(
      settings,
      {
        open: async (pod, slice) => {
          const upstream = new ListenerUpstream(
            pod,
            this.#upstreamDeps,
            this.#logger.child({ listener: pod.name }),
            slice,
          );
          await upstream.init();
          this.#podUpstreams.set(pod.name, upstream);
          upstream.start();
        },
        close: (name) => {
          const upstream = this.#podUpstreams.get(name);
          this.#podUpstreams.delete(name);
          if (upstream !== undefined) retire(upstream);
          return Promise.resolve();
        },
      },
      this.#upstreamDeps,
    );
    await manager.start();
    this.#perPod.push(manager);
    // The pods known now are in the workers' start state.
    await manager.settled();
  }

  #upstreamNamed(name: string): Upstream | undefined {
    return this.#upstreams.get(name) ?? this.#podUpstreams.get(name);
  }

  /** The configured listeners' upstreams and the per-pod ones. */
  #everyUpstream(): Upstream[] {
    return [...this.#upstreams.values(), ...this.#podUpstreams.values()];
  }

  #retireAll(): void {
    for (const m of this.#perPod) m.stop();
    for (const u of this.#everyUpstream()) retire(u);
  }

  #countsOf(listener: string): SharedCounts {
    let counts = this.#counts.get(listener);
    if (counts === undefined) {
      counts = new SharedCounts();
      this.#counts.set(listener, counts);
    }
    return counts;
  }

  #feedState(): Record<string, ListenerFeedState> {
    const feed: Record<string, ListenerFeedState> = {};
    for (const upstream of this.#everyUpstream()) {
      const name = upstream.name;
      const counts = this.#countsOf(name);
      const backends = [...upstream.pool.backends()].filter((b) => b.listed);
      feed[name] = {
        counts: counts.buffer,
        cells: counts.entries(),
        snapshot: upstream.pool.updatedAtMs === undefined ? null : snapshotOf(upstream),
        unhealthy: backends.filter((b) => !b.healthy).map((b) => b.id),
        drained: backends.filter((b) => b.adminDrained).map((b) => b.id),
      };
    }
    return feed;
  }

  #startWorker(index: number, config: ProxyConfig): Promise<void> {
    const start: WorkerStart = { index, config, feed: this.#feedState() };
    const entry = new URL(
      import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js',
      import.meta.url,
    );
    const worker = new Worker(entry, { workerData: start, name: `headway-worker-${index}` });
    const handle: WorkerHandle = { worker, index, stopped: false, onStopped: undefined };
    this.#workers.push(handle);
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            resolve();
            return;
          case 'failed':
            reject(failureError(message.error));
            return;
          case 'fatal':
            this.#deps.onFatal(new WorkerError(message.message));
            return;
          case 'connect-outcome':
            this.#connectOutcome(message.listener, message.id, message.ok);
            return;
          case 'metrics':
            this.#waiters.get(message.request)?.(message.metrics);
            return;
          case 'figures':
            this.#waiters.get(message.request)?.(message.figures);
            return;
          case 'stopped':
            handle.stopped = true;
            handle.onStopped?.();
            return;
          case 'aborted':
            handle.onAborted?.();
            return;
        }
      });
      worker.on('error', (err) => {
        this.#logger.error('worker thread failed', { worker: index, error: errorMessage(err) });
        if (!ready) reject(asError(err));
      });
      worker.on('exit', (code) => {
        handle.stopped = true;
        handle.onStopped?.();
        if (!ready) {
          reject(new WorkerError(`worker ${index} exited with code ${code} before it was ready`));
          return;
        }
        if (!this.#shuttingDown) {
          // Its connections are gone; a process running short of a worker would hide it. Let the orchestrator restart us.
          this.#logger.error('worker thread exited; stopping', { worker: index, code });
          process.exitCode = 1;
          void this.shutdown();
        }
      });
    });
  }

  #broadcast(message: ToWorker): void {
    for (const h of this.#workers) if (!h.stopped) h.worker.postMessage(message);
  }

  async #stopWorkers(timeoutMs: number): Promise<void> {
    await Promise.all(
      this.#workers.map(async (h) => {
        if (h.stopped) return;
        const stopped = new Promise<void>((resolve) => (h.onStopped = resolve));
        h.worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
        const timer = setTimeout(() => void h.worker.terminate(), timeoutMs);
        await stopped;
        clearTimeout(timer);
        await h.worker.terminate();
      }),
    );
  }

  async #mergedMetrics(): Promise<{ contentType: string; body: string }> {
    // Figures first: headway_backends{state} folds in the workers' ejections.
    await this.#collectFigures();
    const own = await this.metrics.registry.getMetricsAsJSON();
    const theirs = await Promise.all(
      this.#workers
        .filter((h) => !h.stopped)
        .map((h) => this.#ask<JsonMetrics>(h, (request) => ({ type: 'metrics', request }))),
    );
    const merged = AggregatorRegistry.aggregate([
      own,
      ...theirs.filter((m): m is JsonMetrics => m !== null),
    ]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  /**
   * Every live worker's figures (a worker that does not answer in time is
   * left out). Collecting costs the workers (the data path) a little CPU
   * per backend, so concurrent requests share one collection and its
   * result serves for FIGURES_MAX_AGE_MS: hammering /backends cannot make
   * the workers do more than one collection a second.
   */
  #collectFigures(): Promise<WorkerFigures[]> {
    const now = this.#clock.nowMs();
    if (this.#figuresInFlight !== undefined) return this.#figuresInFlight;
    if (now - this.#figuresAtMs < FIGURES_MAX_AGE_MS) return Promise.resolve(this.#lastFigures);
    const collecting = Promise.all(
      this.#workers
        .filter((h) => !h.stopped)
        .map((h) => this.#ask<WorkerFigures>(h, (request) => ({ type: 'figures', request }))),
    ).then((all) => {
      this.#lastFigures = all.filter((f): f is WorkerFigures => f !== null);
      this.#figuresAtMs = this.#clock.nowMs();
      this.#figuresInFlight = undefined;
      return this.#lastFigures;
    });
    this.#figuresInFlight = collecting;
    return collecting;
  }

  /** `/backends`: the main thread's view of discovery and health, the workers' figures added up. */
  async #backendsReport(): Promise<BackendsReport> {
    const figures = await this.#collectFigures();
    return {
      ...processReport(this.config.process.workers, this.#clock.wallMs()),
      listeners: this.#everyUpstream().map((u) =>
        reportListener(this.#reported(u), mergedFigures(u.name, figures)),
      ),
    };
  }

  /** `headway_backends{listener,state}` with the workers' ejections folded in. */
  *#stateCounts(): Generator<BackendStateCount> {
    for (const upstream of this.#everyUpstream()) {
      const figures = mergedFigures(upstream.name, this.#lastFigures);
      const counts = new Map<string, number>();
      for (const b of upstream.pool.backends()) {
        const state = reportedState(b, figures.backend(b));
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      for (const [state, count] of counts) yield { listener: upstream.name, state, count };
    }
  }

  /** Ask one worker something; null when it does not answer within METRICS_TIMEOUT_MS. */
  #ask<T>(h: WorkerHandle, message: (request: number) => ToWorker): Promise<T | null> {
    const request = this.#nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), METRICS_TIMEOUT_MS);
      const done = (answer: unknown): void => {
        clearTimeout(timer);
        this.#waiters.delete(request);
        resolve(answer as T | null);
      };
      this.#waiters.set(request, done);
      h.worker.postMessage(message(request));
    });
  }

  #setDrain(id: string, listener: string | undefined, drained: boolean): number {
    let matched = 0;
    for (const upstream of this.#everyUpstream()) {
      if (listener !== undefined && upstream.name !== listener) continue;
      if (upstream.pool.setAdminDrain(id, drained)) {
        matched++;
      }
    }
    if (matched > 0) this.#broadcast({ type: 'drain', listener, id, drained });
    return matched;
  }

  /** /backends of an upstream: connections are the workers', read from the shared counts. */
  #reported(upstream: Upstream): ReportedListener {
    let active = 0;
    for (const b of upstream.pool.backends()) active += b.active;
    const bound = this.#resolvedListen.get(upstream.name)?.bound ?? upstream.config.listen;
    return {
      name: upstream.name,
      addresses: (bound.length > 0 ? bound : DEFAULT_LISTEN).map((hp) =>
        formatHostPort(hp.host, hp.port),
      ),
      strategy: upstream.strategy,
      source: upstream.source,
      pool: upstream.pool,
      activeConnections: active,
      queueLength: 0,
      clock: this.#clock,
      checker: upstream.checker,
    };
  }

  /**
   * Every worker must bind the same ports: a listen address with port 0 gets
   * a free port chosen here (the same one again on reload while the listener
   * asks for the same addresses).
   */
  async #withConcretePorts(config: ProxyConfig): Promise<ProxyConfig> {
    const listeners: ListenerSettings[] = [];
    for (const l of config.listeners) {
      if (!l.listen.some((hp) => hp.port === 0)) {
        listeners.push(l);
        continue;
      }
      const asked = JSON.stringify(l.listen);
      const known = this.#resolvedListen.get(l.name);
      let bound: HostPort[];
      if (known?.asked === asked) {
        bound = known.bound;
      } else {
        bound = [];
        for (const hp of l.listen)
          bound.push(hp.port === 0 ? { host: hp.host, port: await freePort(hp.host) } : hp);
        this.#resolvedListen.set(l.name, { asked, bound });
      }
      listeners.push({ ...l, listen: bound });
    }
    return { process: config.process, listeners };
  }
}

/** The listed endpoints of an upstream's pool as a snapshot, for a worker that starts late. */
function snapshotOf(upstream: Upstream): EndpointSnapshot {
  return {
    endpoints: [...upstream.pool.backends()].filter((b) => b.listed).map((b) => b.endpoint),
    updatedAtMs: upstream.pool.updatedAtMs ?? 0,
  };
}

/** An upstream no longer wanted: it carries no connection here, so it goes at once. */
function retire(upstream: Upstream): void {
  upstream.stop();
  upstream.dispose();
}

/** A port free on `host` right now (the kernel's choice for port 0). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const addr = server.address();
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}
