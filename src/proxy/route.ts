import { groupForServerName } from './server-name-routes.ts';
import type { AccessLog } from '../access-log/access-log.ts';
import { ReusableAccessRecord } from '../access-log/access-record.ts';
import type { BackendPool } from '../backends/backend-pool.ts';
import { formatHostPort } from '../core/address.ts';
import { CidrSet } from '../core/cidr.ts';
import type { Clock } from '../core/clock.ts';
import type { Endpoint } from '../core/endpoint.ts';
import { RateLimitedWarning } from '../core/local-errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ListenerSettings } from '../config/schema.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import type { ActiveHealthChecker } from '../health/active-checker.ts';
import type { ListenerMetrics, ProxyMetrics } from '../metrics/proxy-metrics.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { ConnectionGate } from './connection-gate.ts';
import { DeferredKeepalive, deferKeepalive } from './deferred-keepalive.ts';
import { connectorFor, type SocketImpl } from './socket-impl.ts';
import type { Session, SessionHost, SessionSettings } from './session.ts';
import type { StreamConnector, TcpStream } from './tcp-stream.ts';

/** What hosting sessions needs from the process. */
export interface RouteDeps {
  readonly clock: Clock;
  readonly metrics: ProxyMetrics;
  /** The process-wide connection limit (`--max-connections`). */
  readonly gate: ConnectionGate;
  /** Randomness for lifetime jitter; injected so tests can fix it. */
  readonly random: () => number;
  /** One line per closed connection, or null when `--access-log off`. */
  readonly accessLog: AccessLog | null;
  /** What relays the bytes (`--socket-impl`); raw when not given. */
  readonly socketImpl?: SocketImpl;
}

/**
 * One configuration of a listener as its sessions see it: admission (access
 * control, per-client and process limits), the queue for a backend with
 * room, per-connection settings, the access log and the sweep for quiet
 * connections, over an Upstream (discovery, pool, balancer, health). A
 * config reload builds a new Route for new connections; the old one keeps
 * serving the connections it accepted until they end, so a reload drops
 * nothing.
 */
export class Route implements SessionHost {
  readonly name: string;
  readonly config: ListenerSettings;
  readonly settings: SessionSettings;
  readonly upstream: Upstream;
  readonly metrics: ListenerMetrics;
  readonly clock: Clock;
  readonly connectUpstream: StreamConnector;
  readonly random: () => number;
  readonly sessions = new Set<Session>();
  readonly sniPattern: string | null;
  readonly sniStrict: boolean;
  /** Several routes chosen by TLS server name (Gateway TLSRoutes): sessions read the ClientHello. */
  readonly readsServerName: boolean;
  readonly #deps: RouteDeps;
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
  /** Filled for each closed connection and handed to the access log, which keeps no reference. */
  readonly #accessRecord = new ReusableAccessRecord();
  /** Each logged endpoint's `HOST:PORT` (endpoints are immutable snapshots), formatted once. */
  readonly #endpointTexts = new WeakMap<Endpoint, string>();
  #retired = false;
  /** Local resource errors (EMFILE...) are warned about at most every 10 s. */
  readonly #localWarning: RateLimitedWarning;
  /** Sweeps sessions for idle and half-close timeouts (Session.checkQuiet); undefined when neither is set. */
  #quietSweep: NodeJS.Timeout | undefined;
  /** Backend sockets waiting for their TCP keepalive (deferred-keepalive.ts); null when it is off. */
  readonly #keepalive: DeferredKeepalive | null;

  constructor(upstream: Upstream, deps: RouteDeps, logger: Logger) {
    const config = upstream.config;
    this.name = config.name;
    this.config = config;
    this.upstream = upstream;
    this.#deps = deps;
    this.clock = deps.clock;
    this.#keepalive = config.tcpKeepalive > 0 ? new DeferredKeepalive(config.tcpKeepalive) : null;
    this.connectUpstream = deferKeepalive(connectorFor(deps.socketImpl ?? 'raw'), this.#keepalive);
    this.#localWarning = new RateLimitedWarning(
      logger,
      'local resource error (file descriptors or buffers exhausted); not counted against any backend',
    );
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
    const backends = config.backends;
    const routes = backends?.scheme === 'k8s-routes' ? backends.routes : [];
    this.readsServerName = routes.some((r) => r.serverNames.length > 0);
    this.random = deps.random;
    this.metrics = upstream.metrics;
    upstream.onRoom(() => {
      this.#serveQueue();
    });
  }

  get pool(): BackendPool {
    return this.upstream.pool;
  }

  get source(): DiscoverySource {
    return this.upstream.source;
  }

  get checker(): ActiveHealthChecker | null {
    return this.upstream.checker;
  }

  get strategy(): string {
    return this.upstream.strategy;
  }

  /** Load what discovery needs (may throw ConfigError), before any socket is bound. */
  init(): Promise<void> {
    return this.upstream.init();
  }

  /** Start discovery and health checks. */
  startDiscovery(): void {
    this.upstream.start();
  }

  /**
   * No new connections come here any more: stop discovery and health checks;
   * the pool is released once the last session ends.
   */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.upstream.stop();
    if (this.sessions.size === 0) this.#release();
  }

  /** Retired and without sessions: nothing left to do. */
  #release(): void {
    this.upstream.dispose();
    clearInterval(this.#quietSweep);
    this.#quietSweep = undefined;
    this.#keepalive?.stop();
  }

  upstreamReleased(stream: TcpStream): void {
    this.#keepalive?.forget(stream);
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
    const groups = this.upstream.groups;
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

  /** A local resource error on a backend socket: counted, warned, never blamed on a backend. */
  localError(kind: string): void {
    this.#deps.metrics.localError(kind);
    this.#localWarning.warn({ kind });
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
    const r = this.#accessRecord;
    r.timeMs = this.clock.wallMs();
    r.listener = this.name;
    r.peerAddress = s.peerAddress ?? s.clientAddress;
    r.peerPort = s.peerPort ?? s.clientPort;
    r.clientAddress = proxied ? s.clientAddress : undefined;
    r.clientPort = proxied ? s.clientPort : undefined;
    r.backendId = backend?.id;
    r.backendAddress = ep === undefined ? undefined : this.#endpointText(ep);
    r.bytesFromClient = s.client.bytesRead;
    r.bytesFromBackend = s.upstream?.bytesRead ?? 0;
    r.durationMs = s.durationMs;
    r.connectMs = s.connectMs;
    r.firstByteMs = s.firstByteMs;
    r.retries = Math.max(0, s.attempts - 1);
    r.attempts = s.attempts;
    r.outcome = s.outcome ?? 'ok';
    r.closedFirst = s.closedFirst;
    log.write(r);
  }

  #endpointText(ep: Endpoint): string {
    let text = this.#endpointTexts.get(ep);
    if (text === undefined) {
      text = formatHostPort(ep.address, ep.port);
      this.#endpointTexts.set(ep, text);
    }
    return text;
  }
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
