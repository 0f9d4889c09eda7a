import { startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import { reportListener } from '../admin/backends-report.ts';
import { adminAuthFrom } from '../admin/admin-auth.ts';
import { processReport } from '../admin/process-report.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { PromMetrics } from '../metrics/prom-metrics.ts';
import { ConnectionGate } from '../proxy/connection-gate.ts';
import { FdBudget } from '../proxy/fd-budget.ts';
import { ListenerRegistry } from '../proxy/listener-registry.ts';
import { PerPodListeners, registryOpener } from '../proxy/per-pod-listeners.ts';
import { AccessLog } from '../access-log/access-log.ts';
import { ConfigError, ReloadRefusedError, errorMessage } from '../core/errors.ts';
import { listenSpecs } from '../config/listen-addresses.ts';
import type { UpstreamFeed } from '../upstream/thread-link.ts';
import {
  type Readiness,
  type ReloadReport,
  RESTART_LISTENER_OPTIONS,
  backendStateCounts,
  listenerFlag,
  readinessOf,
  shutdownDelay,
  splitProcessChange,
} from './lifecycle.ts';

export interface ProxyAppDeps {
  readonly logger: Logger;
  /** Defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A configuration error found after start; the CLI exits 2. Defaults to logging it. */
  readonly onFatal?: (err: Error) => void;
  readonly clock?: Clock;
  readonly metrics?: PromMetrics;
  /** Set in a worker thread (`--workers`): discovery, health and shared counts come from the main thread. */
  readonly feed?: UpstreamFeed;
  /** Bind with SO_REUSEPORT (worker threads share their ports). */
  readonly reusePort?: boolean;
}

/**
 * Wiring only: builds the listeners, the admin endpoint and metrics from a
 * configuration, and runs the shutdown sequence (delay with /readyz 503,
 * then drain). Signal handling lives in the CLI.
 */
export class ProxyApp {
  config: ProxyConfig;
  readonly registry: ListenerRegistry;
  readonly metrics: PromMetrics;
  readonly accessLog: AccessLog | null;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #feed: UpstreamFeed | undefined;
  #admin: AdminServer | undefined;
  #started = false;
  #shuttingDown = false;

  constructor(config: ProxyConfig, deps: ProxyAppDeps) {
    this.config = config;
    this.#logger = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    this.#env = deps.env ?? process.env;
    this.#feed = deps.feed;
    this.metrics =
      deps.metrics ?? new PromMetrics({ backendLabel: config.process.metricsBackendLabel });
    const p = config.process;
    this.accessLog =
      p.accessLog === 'off'
        ? null
        : new AccessLog({
            destination: p.accessLog === 'stdout' ? 'stdout' : p.accessLog,
            format: p.accessLogFormat,
            sampleRate: p.accessLogSample,
            random: Math.random,
            onDrop: (lines) => this.metrics.accessLogDropped.inc(lines),
            onError: (err) => deps.logger.error('access log write failed', { error: err.message }),
          });
    this.registry = new ListenerRegistry({
      accessLog: this.accessLog,
      clock: deps.clock ?? systemClock,
      logger: deps.logger,
      metrics: this.metrics,
      gate: new ConnectionGate(
        config.process.maxConnections,
        config.process.rejectOverLimit,
        FdBudget.forThisProcess(config.process.fdReserve),
      ),
      random: Math.random,
      env: deps.env ?? process.env,
      ...(deps.feed === undefined ? {} : { feed: deps.feed }),
      reusePort: deps.reusePort ?? false,
      socketImpl: config.process.socketImpl,
      onFatal:
        deps.onFatal ??
        ((err) => {
          deps.logger.error('configuration error', { error: err.message });
        }),
    });
    // With worker threads the main thread counts backends by state, once.
    if (deps.feed === undefined)
      this.metrics.countBackendsWith(() => backendStateCounts(this.registry.list()));
    this.metrics.countQueuedWith(() =>
      this.registry.list().map((l) => ({ listener: l.name, count: l.queueLength })),
    );
  }

  get adminAddress(): string | undefined {
    return this.#admin?.address;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Bind every listener and the admin endpoint; on any failure nothing stays bound. */
  /** `--per-pod-ports` managers, one per listener that asks for them. */
  readonly perPod: PerPodListeners[] = [];

  async start(): Promise<void> {
    try {
      // Admin token problems are bad input: found before anything binds.
      const adminAuth =
        this.config.process.admin === null ? {} : adminAuthFrom(this.config.process);
      await this.accessLog?.ready().catch((err: unknown) => {
        throw new ConfigError('--access-log', `cannot open: ${errorMessage(err)}`, { cause: err });
      });
      for (const l of this.config.listeners) {
        await this.registry.add(l, undefined, listenSpecs(l, this.config.listeners));
        if (l.perPodPorts > 0) {
          const feed = this.#feed;
          const manager = new PerPodListeners(
            l,
            registryOpener(this.registry, this.config.process.drainTimeout, {
              sliceFromMainThread: feed !== undefined,
            }),
            { clock: this.#clock, logger: this.#logger, random: Math.random, env: this.#env },
            // A worker thread splits the main thread's view of the listener, as the main thread does.
            feed?.sourceFor(l.name, l.backends?.uri ?? ''),
          );
          await manager.start();
          this.perPod.push(manager);
        }
      }
      const admin = this.config.process.admin;
      if (admin !== null) {
        this.#admin = await startAdminServer(
          admin,
          {
            readiness: () => this.readiness(),
            backends: () => ({
              ...processReport(0, this.#clock.wallMs()),
              listeners: this.registry.list().map((l) => reportListener(l)),
            }),
            metrics: async () => ({
              contentType: this.metrics.registry.contentType,
              body: await this.metrics.registry.metrics(),
            }),
            pods: () => ({
              listeners: this.perPod.map((m) => ({ name: m.name, pods: m.ports() })),
            }),
            setDrain: (id, listener, drained) => {
              let matched = 0;
              for (const l of this.registry.list()) {
                if (listener !== undefined && l.name !== listener) continue;
                if (l.pool.setAdminDrain(id, drained)) matched++;
              }
              return matched;
            },
          },
          this.#logger,
          adminAuth,
        );
      }
    } catch (err) {
      await this.registry.drainAll(0);
      throw err;
    }
    this.#started = true;
  }

  /**
   * Apply a new configuration, all or nothing (ListenerRegistry.apply):
   * new and changed listeners are prepared and every new address bound
   * while the old sockets serve; only then does everything switch. Gone
   * listeners drain; changed ones take the new settings for new connections
   * while open connections keep theirs. Process options that are read where
   * they act apply now; the rest are reported as needing a restart. Throws
   * (and changes nothing) on any failure, and once shutdown has started.
   */
  async reload(next: ProxyConfig): Promise<ReloadReport> {
    if (this.#shuttingDown) throw new ReloadRefusedError('shutting down');
    const proc = splitProcessChange(this.config.process, next.process);
    const needsRestart = [...proc.needsRestart];
    for (const l of next.listeners) {
      // Per-pod listeners are set up at start: a reload does not start, stop or resize them.
      const running = this.config.listeners.find((r) => r.name === l.name);
      if (running === undefined) {
        if (l.perPodPorts > 0) needsRestart.push(`${l.name}.per-pod-ports`);
        continue;
      }
      for (const key of RESTART_LISTENER_OPTIONS) {
        const k = key as 'perPodPorts' | 'perPodMax';
        if (running[k] !== l[k]) needsRestart.push(`${l.name}.${listenerFlag(key)}`);
      }
    }
    const change = await this.registry.apply(
      next.listeners,
      this.config.process.drainTimeout,
      () => !this.#shuttingDown,
    );
    this.config = { process: proc.settings, listeners: next.listeners };
    return {
      added: change.added,
      removed: change.removed,
      applied: [
        ...change.changed.flatMap((c) =>
          c.options
            .filter((o) => !RESTART_LISTENER_OPTIONS.has(o))
            .map((o) => `${c.listener}.${listenerFlag(o)}`),
        ),
        ...proc.applied,
      ],
      needsRestart,
    };
  }

  /** SIGUSR1: reopen the access log file under its name (log rotation). */
  reopenLogs(): void {
    this.accessLog?.reopen();
  }

  readiness(): Readiness {
    return readinessOf(
      {
        started: this.#started,
        shuttingDown: this.#shuttingDown,
        requireBackends: this.config.process.readyRequiresBackends,
      },
      this.registry.list(),
    );
  }

  /** The forced exit (second signal): reset every open connection before the process exits. */
  abort(): void {
    this.registry.abortAll();
  }

  /**
   * The shutdown sequence: keep accepting for the shutdown delay while
   * /readyz says 503 (so Kubernetes removes this pod from its Service first),
   * then stop accepting and drain open connections up to the drain timeout.
   */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    await shutdownDelay(this.config.process, this.#logger);
    for (const m of this.perPod) m.stop();
    await this.registry.drainAll(this.config.process.drainTimeout);
    await this.#admin?.close();
    await this.accessLog?.close();
    this.#logger.info('shutdown complete');
  }
}
