import type { AccessLog } from '../access-log/access-log.ts';
import { BackendPool } from '../backends/backend-pool.ts';
import type { SharedCount } from '../backends/backend.ts';
import { formatHostPort } from '../core/address.ts';
import { createBalancer } from '../balancing/create-balancer.ts';
import { CidrSet } from '../core/cidr.ts';
import type { Clock } from '../core/clock.ts';
import type { EndpointGroup } from '../core/endpoint.ts';
import { groupForServerName } from './server-name-routes.ts';
import { errorMessage } from '../core/errors.ts';
import { RateLimitedWarning } from '../core/local-errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { createDiscoverySource } from '../discovery/create-source.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import { ActiveHealthChecker } from '../health/active-checker.ts';
import {
  checkFall,
  checkProbe,
  checkRise,
  checksEnabled,
  closesOnDown,
} from '../health/check-plan.ts';
import { OutlierDetector } from '../health/outlier-detector.ts';
import type { ListenerMetrics } from '../metrics/proxy-metrics.ts';
import { matchesSelectors } from '../discovery/selector.ts';
import type { ListenerDeps } from './listener.ts';
import { connectRawSocket } from './raw-socket.ts';
import type { Session, SessionHost, SessionSettings } from './session.ts';
import type { StreamConnector } from './tcp-stream.ts';

/**
 * One configuration of a listener: discovery source, backend pool, balancer,
 * health checks, limits, access control and per-connection settings — what a
 * session needs from the listener that accepted it. A config reload builds a
 * new Route for new connections; the old one keeps serving the connections it
 * accepted until they end, so a reload drops nothing.
 */
export class Route implements SessionHost {
  readonly name: string;
  readonly config: ListenerSettings;
  readonly settings: SessionSettings;
  readonly pool: BackendPool;
  readonly metrics: ListenerMetrics;
  readonly clock: Clock;
  readonly connectUpstream: StreamConnector = connectRawSocket;
  readonly random: () => number;
  readonly source: DiscoverySource;
  readonly strategy: string;
  readonly sessions = new Set<Session>();
  /** Active health checks, or null when off. */
  readonly checker: ActiveHealthChecker | null;
  readonly sniPattern: string | null;
  readonly sniStrict: boolean;
  readonly readsServerName: boolean;
  /** The routes of a `k8s-routes://` listener, from the latest snapshot. */
  #groups: readonly EndpointGroup[] | undefined;
  readonly #deps: ListenerDeps;
  readonly #logger: Logger;
  readonly #maxPerClient: number;
  readonly #allow: CidrSet | null;
  readonly #deny: CidrSet | null;
  readonly #acceptProxy: boolean;
  readonly #proxyFrom: CidrSet | null;
  /** Open connections per client address, for `--max-connections-per-client`. */
  readonly #perClient = new Map<string, number>();
  /** Sessions waiting for a backend below `--max-connections-per-backend`, oldest first. */
  readonly #queue: Session[] = [];
  readonly #counted = new WeakSet<Session>();
  #emptyWaiters: (() => void)[] = [];
  #retired = false;
  /** Close a backend's connections when it fails its checks (`--close-on-down`). */
  readonly #closeOnDown: boolean;
  /**
   * Close the connections of a backend that leaves discovery at once: for
   * `sentinel://`, leaving means "no longer the master", a role change like a
   * failed role check (`--close-on-down`, on by default there).
   */
  readonly #closeOnLeave: boolean;
  /** Local resource errors (EMFILE...) are warned about at most every 10 s. */
  readonly #localWarning: RateLimitedWarning;
  /** Sweeps sessions for idle and half-close timeouts (Session.checkQuiet); undefined when neither is set. */
  #quietSweep: NodeJS.Timeout | undefined;

  constructor(
    config: ListenerSettings,
    deps: ListenerDeps,
    logger: Logger,
    source?: DiscoverySource,
  ) {
    if (config.backends === null) throw new Error('listener needs backends');
    this.name = config.name;
    this.config = config;
    this.#deps = deps;
    this.clock = deps.clock;
    this.#logger = logger;
    this.#localWarning = new RateLimitedWarning(
      logger,
      'local resource error (file descriptors or buffers exhausted); not counted against any backend',
    );
    this.strategy = config.strategy;
    this.settings = {
      connectTimeoutMs: config.connectTimeout,
      connectRetries: config.connectRetries,
      idleTimeoutMs: config.idleTimeout,
      halfCloseTimeoutMs: config.halfCloseTimeout,
      keepAliveMs: config.tcpKeepalive,
      maxLifetimeMs: config.maxConnectionLifetime,
      queueTimeoutMs: config.queueTimeout,
      sendProxyVersion: config.proxyProtocol === 'v1' ? 1 : config.proxyProtocol === 'v2' ? 2 : 0,
    };
    this.#quietSweep = startQuietSweep(this, config.idleTimeout, config.halfCloseTimeout);
    this.#allow = config.allow.length > 0 ? new CidrSet(config.allow) : null;
    this.#deny = config.deny.length > 0 ? new CidrSet(config.deny) : null;
    this.#acceptProxy = config.acceptProxyProtocol;
    this.#proxyFrom =
      config.proxyProtocolFrom.length > 0 ? new CidrSet(config.proxyProtocolFrom) : null;
    this.#maxPerClient = config.maxConnectionsPerClient;
    this.sniPattern = config.routeBy === 'sni' ? config.sniPattern : null;
    this.sniStrict = config.sniStrict;
    const routes = config.backends.scheme === 'k8s-routes' ? config.backends.routes : [];
    this.readsServerName = routes.some((r) => r.serverNames.length > 0);
    this.#closeOnDown = closesOnDown(config);
    this.#closeOnLeave = config.backends.scheme === 'sentinel' && config.closeOnDown !== 'off';
    this.random = deps.random;
    this.metrics = deps.metrics.listener(config.name);
    this.pool = new BackendPool({
      listener: config.name,
      balancer: createBalancer({ ...config, grouped: routes.length > 0 }, deps),
      metrics: this.metrics,
      logger: this.#logger,
      backendDrainTimeoutMs: config.backendDrainTimeout,
      zone: config.zone ?? undefined,
      trackLatency: config.latencyTracking,
      nowMs: () => deps.clock.nowMs(),
      maxPerBackend: config.maxConnectionsPerBackend,
      outlier:
        config.ejectAfter > 0
          ? new OutlierDetector({
              ejectAfter: config.ejectAfter,
              maxEjectionPercent: config.maxEjectionPercent,
              totalBackends: () => this.#listedCount(),
              nowMs: () => deps.clock.nowMs(),
            })
          : undefined,
      // Sticky is exempt: a moving weight would move live keys.
      slowStartMs: config.strategy === 'sticky' ? 0 : config.slowStart,
      healthChecked: checksEnabled(config.healthCheck, config.backends.scheme),
      sharedCount: sharedCountOf(config.name, deps),
      // A worker thread's snapshots are logged by the main thread.
      logMembership: deps.feed === undefined,
      onPanic: () => {
        // With worker threads, the main thread's pool (same snapshots, same health) counts it once.
        if (deps.feed === undefined) this.metrics.panicEntered();
      },
      onRoom: () => {
        this.#serveQueue();
      },
    });
    this.source =
      source ??
      deps.feed?.sourceFor(config.name, config.backends.uri) ??
      createDiscoverySource(config.backends, config, deps);
    // A worker thread's checks run once, in the main thread, which sends the verdicts.
    const checks = deps.feed === undefined && checksEnabled(config.healthCheck, this.source.kind);
    this.checker = checks
      ? new ActiveHealthChecker(
          {
            intervalMs: config.healthInterval,
            timeoutMs: config.healthTimeout,
            // A role check (an expectation, an HTTP check) decides where writes go: react to one result.
            rise: checkRise(config),
            fall: checkFall(config),
            send: config.healthSend ?? undefined,
            expect: config.healthExpect ?? undefined,
            probe: checkProbe(config),
            random: deps.random,
            wallMs: () => deps.clock.wallMs(),
            onLocalError: (kind, id) => {
              this.localError(kind, id);
            },
          },
          (id, healthy, detail) => {
            this.#logger.warn(
              healthy ? 'backend is healthy again' : 'backend failed its health checks',
              {
                backend: id,
                address: this.#addressOf(id),
                reason: detail.reason,
              },
            );
            this.applyHealth(id, healthy);
            deps.observer?.health(config.name, id, healthy);
          },
        )
      : null;
  }

  /** A backend passed or failed its active checks (here or, for a worker thread, in the main thread). */
  applyHealth(id: string, healthy: boolean): void {
    this.pool.setHealthy(id, healthy);
    if (!healthy && this.#closeOnDown) this.pool.closeConnections(id);
  }

  /** Load what discovery needs (may throw ConfigError), before any socket is bound. */
  async init(): Promise<void> {
    await this.source.init?.();
  }

  /** Start discovery and health checks. */
  startDiscovery(): void {
    this.source.start({
      onSnapshot: (full) => {
        const selectors = this.config.select;
        const snapshot =
          selectors.length === 0
            ? full
            : { ...full, endpoints: full.endpoints.filter((e) => matchesSelectors(e, selectors)) };
        this.#groups = full.groups;
        const leaving = this.#closeOnLeave ? this.#listedIds() : undefined;
        this.pool.applySnapshot(snapshot);
        if (leaving !== undefined) {
          for (const e of snapshot.endpoints) leaving.delete(e.id);
          for (const id of leaving) this.pool.closeConnections(id);
        }
        this.checker?.setTargets(
          snapshot.endpoints.map((e) => ({ id: e.id, address: e.address, port: e.port })),
        );
        this.#deps.observer?.snapshot(this.name, full);
        // A worker thread's snapshots were counted and logged by the main thread.
        if (this.#deps.feed !== undefined) return;
        this.metrics.discoveryUpdated(this.source.kind);
        this.#logger.info('backends updated', {
          count: snapshot.endpoints.length,
          usable: this.pool.hasUsableBackend,
        });
      },
      onError: (reason, err, info) => {
        this.metrics.discoveryFailed(this.source.kind, reason);
        // A partial failure was applied around and logged (rate-limited) by the source.
        if (info?.partial === true) return;
        const known = this.#listedCount();
        const fields = { reason, error: errorMessage(err).split('\n')[0] };
        if (known > 0) {
          this.#logger.warn('discovery error; keeping the last known backends', {
            ...fields,
            backends: known,
          });
        } else {
          this.#logger.warn(
            'discovery error; no backends known: new connections are refused',
            fields,
          );
        }
      },
      onFatal: (err) => {
        this.#deps.onFatal(err);
      },
      onPeerError: (peer, reason) => {
        this.metrics.sentinelFailed?.(peer, reason);
      },
    });
  }

  /** Ids of the backends discovery lists now. */
  #listedIds(): Set<string> {
    const ids = new Set<string>();
    for (const b of this.pool.backends()) if (b.listed) ids.add(b.id);
    return ids;
  }

  /**
   * No new connections come here any more: stop discovery and health checks;
   * the pool is released once the last session ends.
   */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.source.stop();
    this.checker?.stop();
    if (this.sessions.size === 0) this.#release();
  }

  /** Retired and without sessions: nothing left to do. */
  #release(): void {
    this.pool.dispose();
    clearInterval(this.#quietSweep);
    this.#quietSweep = undefined;
  }

  /** Close the sessions that have been quiet past their timeout. */
  sweepQuiet(): void {
    const now = this.clock.nowMs();
    for (const s of this.sessions) s.checkQuiet(now);
  }

  /** Resolves true once no session is open, false after `timeoutMs` (undefined: no deadline). */
  waitEmpty(timeoutMs?: number): Promise<boolean> {
    if (this.sessions.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => resolve(false), timeoutMs);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  pickGroup(serverName: string | undefined): number | null | undefined {
    const groups = this.#groups;
    if (groups === undefined) return this.readsServerName ? null : undefined;
    const group = groupForServerName(groups, serverName);
    if (group === undefined) return null;
    const share = groups[group]?.rejectShare ?? 1;
    // The refused share is drawn per connection, so over many it matches the weights.
    return share > 0 && (share >= 1 || this.random() < share) ? null : group;
  }

  expectsProxyHeader(peerAddress: string): boolean {
    return this.#acceptProxy && (this.#proxyFrom === null || this.#proxyFrom.has(peerAddress));
  }

  admit(session: Session): 'rejected' | 'denied' | null {
    const addr = session.clientAddress;
    if (this.#deny?.has(addr) === true) return 'denied';
    if (this.#allow !== null && !this.#allow.has(addr)) return 'denied';
    if (this.#maxPerClient > 0) {
      const addr = session.clientAddress;
      const open = this.#perClient.get(addr) ?? 0;
      if (open >= this.#maxPerClient) return 'rejected';
      this.#perClient.set(addr, open + 1);
      this.#counted.add(session);
    }
    return null;
  }

  acquireSlot(session: Session): 'granted' | 'waiting' | 'full' {
    return this.#deps.gate.admit(session);
  }

  /** A local resource error on an upstream socket or a health check: counted, warned, never blamed on a backend. */
  localError(kind: string, backend?: string): void {
    this.#deps.metrics.localError(kind);
    this.#localWarning.warn(backend === undefined ? { kind } : { kind, backend });
  }

  enqueue(session: Session): void {
    if (!this.#queue.includes(session)) this.#queue.push(session);
  }

  dequeue(session: Session): void {
    const i = this.#queue.indexOf(session);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  /** Number of clients waiting for a backend with room. */
  get queueLength(): number {
    return this.#queue.length;
  }

  /** `host:port` of a backend, for log lines (ids of k8s pods are not addresses). */
  #addressOf(id: string): string | undefined {
    const ep = this.pool.get(id)?.endpoint;
    return ep === undefined ? undefined : formatHostPort(ep.address, ep.port);
  }

  #listedCount(): number {
    let n = 0;
    for (const b of this.pool.backends()) if (b.listed) n++;
    return n;
  }

  #serveQueue(): void {
    // Each waiting session is tried once per call: one that waits for a
    // named backend (--route-by sni) goes back in the queue while others
    // may have room, and must not be retried forever here.
    for (let n = this.#queue.length; n > 0 && this.#queue.length > 0 && this.pool.hasRoom(); n--) {
      const next = this.#queue.shift() as Session;
      next.retry();
    }
  }

  sessionEnded(session: Session): void {
    this.sessions.delete(session);
    if (this.#deps.accessLog !== null) this.#logAccess(this.#deps.accessLog, session);
    if (this.#counted.delete(session)) {
      const addr = session.clientAddress;
      const open = (this.#perClient.get(addr) ?? 1) - 1;
      if (open > 0) this.#perClient.set(addr, open);
      else this.#perClient.delete(addr);
    }
    this.#deps.gate.release(session);
    if (this.sessions.size === 0 && this.#retired) this.#release();
    if (this.sessions.size === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  #logAccess(log: AccessLog, s: Session): void {
    // A failed attempt clears s.backend: the last one tried is the backend of the last attempt.
    const backend = s.backend ?? s.tried[s.tried.length - 1];
    const ep = backend?.endpoint;
    const proxied = s.peerAddress !== undefined;
    log.write({
      timeMs: this.clock.wallMs(),
      listener: this.name,
      peerAddress: s.peerAddress ?? s.clientAddress,
      peerPort: s.peerPort ?? s.clientPort,
      clientAddress: proxied ? s.clientAddress : undefined,
      clientPort: proxied ? s.clientPort : undefined,
      backendId: backend?.id,
      backendAddress: ep === undefined ? undefined : formatHostPort(ep.address, ep.port),
      bytesFromClient: s.client.bytesRead,
      bytesFromBackend: s.upstream?.bytesRead ?? 0,
      durationMs: s.durationMs,
      connectMs: s.connectMs,
      firstByteMs: s.firstByteMs,
      retries: Math.max(0, s.attempts - 1),
      attempts: s.attempts,
      outcome: s.outcome ?? 'ok',
      closedFirst: s.closedFirst,
    });
  }
}

/** Where the pool of `listener` finds the cells counting connections across worker threads, if any. */
function sharedCountOf(
  listener: string,
  deps: ListenerDeps,
): ((id: string) => SharedCount | null) | undefined {
  const link = deps.feed ?? deps.observer;
  return link === undefined ? undefined : (id) => link.sharedCount(listener, id);
}

/**
 * One timer per route for every connection's idle and half-close timeouts,
 * instead of a timer per socket re-armed on every read and write (net's
 * socket.setTimeout): a sweep every tenth of the shorter timeout (10 ms to
 * 1 s), so a timeout fires up to that much late, never early.
 */
function startQuietSweep(
  route: Route,
  idleMs: number,
  halfCloseMs: number,
): NodeJS.Timeout | undefined {
  const set = [idleMs, halfCloseMs].filter((ms) => ms > 0);
  if (set.length === 0) return undefined;
  const everyMs = Math.min(1000, Math.max(10, Math.min(...set) / 10));
  const timer = setInterval(sweepQuiet, everyMs, route);
  timer.unref();
  return timer;
}

function sweepQuiet(route: Route): void {
  route.sweepQuiet();
}
