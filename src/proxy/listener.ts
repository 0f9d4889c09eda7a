import { createServer, type Server } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { AccessLog } from '../access-log/access-log.ts';
import type { BackendPool } from '../backends/backend-pool.ts';
import { formatHostPort, type HostPort } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import { formatCidr } from '../core/cidr.ts';
import { ListenError, errnoCode } from '../core/errors.ts';
import { RateLimitedWarning } from '../core/local-errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ListenerSettings } from '../config/schema.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import type { ActiveHealthChecker } from '../health/active-checker.ts';
import type { ProxyMetrics } from '../metrics/proxy-metrics.ts';
import type { ConnectionGate } from './connection-gate.ts';
import type { RouteObserver, WorkerFeed } from '../workers/thread-link.ts';
import { Route } from './route.ts';
import { RawSocket } from './raw-socket.ts';
import { scratch } from './read-buffers.ts';
import { CLOSE_GRACE_MS, Session, onClientRead } from './session.ts';

export interface ListenerDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  readonly gate: ConnectionGate;
  /** Randomness for jitter; injected so tests can fix it. */
  readonly random: () => number;
  /** The process environment (Kubernetes credentials discovery). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A configuration error found after start (e.g. an ambiguous Kubernetes port). */
  readonly onFatal: (err: Error) => void;
  /** One line per closed connection, or null when `--access-log off`. */
  readonly accessLog: AccessLog | null;
  /** In a worker thread: discovery, health and shared counts come from the main thread. */
  readonly feed?: WorkerFeed;
  /** In the main thread of `--workers`: where snapshots and health results are passed on. */
  readonly observer?: RouteObserver;
  /** Bind with SO_REUSEPORT, so that every worker thread listens on the same ports. */
  readonly reusePort?: boolean;
}

/** Where to listen when `--listen` is not given: dual-stack, else IPv4 only. */
export const DEFAULT_LISTEN: readonly HostPort[] = [{ host: '::', port: 8080 }];
const IPV4_FALLBACK: HostPort = { host: '0.0.0.0', port: 8080 };

const kListener = Symbol('headway.listener');
type TaggedServer = Server & { [kListener]?: Listener };

/**
 * One proxy listener: its bind addresses, and the Route that new connections
 * take (discovery, pool, balancer, settings). Several run in one process;
 * each can be started, reconfigured and drained on its own.
 */
export class Listener {
  readonly name: string;
  readonly #deps: ListenerDeps;
  readonly #logger: Logger;
  #route: Route;
  /** Routes replaced by a reload, kept until their connections end. */
  readonly #retired = new Set<Route>();
  #servers: Server[] = [];
  #addresses: string[] = [];
  #bound: readonly HostPort[] = [];
  #accepting = false;
  /** Connections lost or refused at accept, logged at most every 10 s. */
  readonly #acceptWarning: RateLimitedWarning;

  /** @param source discovery to use instead of the one `config.backends` names (per-pod listeners). */
  constructor(config: ListenerSettings, deps: ListenerDeps, source?: DiscoverySource) {
    this.name = config.name;
    this.#deps = deps;
    this.#logger = deps.logger.child({ listener: config.name });
    this.#acceptWarning = new RateLimitedWarning(
      this.#logger,
      'client connections refused or lost at accept',
    );
    this.#route = new Route(config, deps, this.#logger, source);
  }

  /** The route new connections take. */
  get route(): Route {
    return this.#route;
  }

  get config(): ListenerSettings {
    return this.#route.config;
  }

  get pool(): BackendPool {
    return this.#route.pool;
  }

  get source(): DiscoverySource {
    return this.#route.source;
  }

  get checker(): ActiveHealthChecker | null {
    return this.#route.checker;
  }

  get strategy(): string {
    return this.#route.strategy;
  }

  get clock(): Clock {
    return this.#deps.clock;
  }

  get settings(): Route['settings'] {
    return this.#route.settings;
  }

  /** Open connections over every route, current and retired. */
  get activeConnections(): number {
    let n = this.#route.sessions.size;
    for (const r of this.#retired) n += r.sessions.size;
    return n;
  }

  get queueLength(): number {
    return this.#route.queueLength;
  }

  /** Addresses actually bound (with the real port when 0 was asked). */
  get addresses(): readonly string[] {
    return this.#addresses;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Bind every address, then start discovery. Throws `ListenError`; nothing stays bound on failure. */
  async start(): Promise<void> {
    await this.#route.init();
    const config = this.#route.config;
    const wanted = config.listen.length > 0 ? config.listen : DEFAULT_LISTEN;
    try {
      for (const hp of wanted) {
        await this.#bindWithFallback(hp, config.listen.length === 0);
      }
    } catch (err) {
      await this.#closeServers();
      throw err;
    }
    this.#bound = config.listen;
    this.#accepting = true;
    this.#route.startDiscovery();
    this.#logger.info('listener started', {
      addresses: this.#addresses,
      backends: this.#route.source.uri,
      strategy: this.#route.strategy,
      // Who may name the client in a PROXY header: the whole trust of --allow/--deny rests on it.
      ...(config.acceptProxyProtocol
        ? {
            proxyProtocolFrom:
              config.proxyProtocolFrom.length === 0
                ? 'every peer'
                : config.proxyProtocolFrom.map(formatCidr),
          }
        : {}),
    });
  }

  /**
   * Apply a changed configuration: new connections take a new route (new
   * discovery, pool, balancer, limits); connections already open keep the
   * route they were accepted on until they end. A changed `listen` list
   * rebinds: new addresses are bound first, dropped ones stop accepting.
   */
  async reconfigure(config: ListenerSettings): Promise<void> {
    const next = new Route(config, this.#deps, this.#logger);
    await next.init();
    if (!sameAddresses(this.#bound, config.listen)) {
      const old = this.#servers;
      this.#servers = [];
      this.#addresses = [];
      try {
        const wanted = config.listen.length > 0 ? config.listen : DEFAULT_LISTEN;
        // Addresses kept across the reload are rebound once the old servers let go of them.
        for (const s of old) s.close();
        for (const hp of wanted) await this.#bindWithFallback(hp, config.listen.length === 0);
      } catch (err) {
        next.retire();
        throw err;
      }
      this.#bound = config.listen;
    }
    next.startDiscovery();
    const previous = this.#route;
    this.#route = next;
    for (const server of this.#servers) setInheritedOptions(server, next.settings.keepAliveMs);
    this.#retire(previous);
    this.#logger.info('listener reconfigured', {
      addresses: this.#addresses,
      backends: next.source.uri,
      strategy: next.strategy,
    });
  }

  #retire(route: Route): void {
    route.retire();
    if (route.sessions.size === 0) return;
    this.#retired.add(route);
    void route.waitEmpty().then(() => this.#retired.delete(route));
  }

  async #bindWithFallback(hp: HostPort, isDefault: boolean): Promise<void> {
    try {
      await this.#bind(hp);
    } catch (err) {
      const code = errnoCode((err as { cause?: unknown }).cause);
      if (isDefault && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        this.#logger.info('IPv6 unavailable; listening on IPv4 only');
        await this.#bind(IPV4_FALLBACK);
        return;
      }
      throw err;
    }
  }

  #bind(hp: HostPort): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }) as TaggedServer;
    server[kListener] = this;
    const label = formatHostPort(hp.host, hp.port);
    return new Promise((resolve, reject) => {
      const onListenError = (err: Error): void => {
        reject(new ListenError(label, describeListenError(err), { cause: err }));
      };
      server.once('error', onListenError);
      const reusePort = this.#deps.reusePort === true;
      server.listen(
        { host: hp.host, port: hp.port, backlog: 4096, ipv6Only: false, reusePort },
        () => {
          server.off('error', onListenError);
          server.on('error', onServerError);
          installAcceptHook(server, this);
          setInheritedOptions(server, this.#route.settings.keepAliveMs);
          const addr = server.address();
          this.#addresses.push(
            addr !== null && typeof addr === 'object'
              ? formatHostPort(addr.address, addr.port)
              : label,
          );
          this.#servers.push(server);
          resolve();
        },
      );
    });
  }

  accept(socket: RawSocket): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    const route = this.#route;
    if (!this.#deps.gate.fdRoom()) {
      // Taking this client would eat into the fds kept for the admin
      // endpoint and health checks (and next time accept(2) would meet
      // EMFILE, where libuv drops connections unseen): refuse it, visibly.
      socket.resetAndDestroy();
      this.#deps.metrics.acceptError('fd_limit');
      route.metrics.connectionClosedWithoutBackend('rejected', 0);
      const fds = this.#deps.gate.fds;
      this.#acceptWarning.warn({
        kind: 'fd_limit',
        ...(fds === null ? {} : { fdLimit: fds.limit, fdReserve: fds.reserve }),
      });
      return;
    }
    const session = new Session(route, socket);
    route.sessions.add(session);
    session.start();
  }

  /** accept(2) failed (EMFILE, ENFILE, ENOBUFS, ...): count it; never take the listener down. */
  acceptFailed(code: string): void {
    this.#deps.metrics.acceptError(code.toLowerCase());
    this.#acceptWarning.warn({ kind: code.toLowerCase() });
  }

  serverError(err: Error): void {
    // Accept errors (EMFILE, ENFILE) must not take the listener down.
    this.#acceptWarning.warn({ error: err.message });
  }

  /**
   * The forced exit (a second SIGTERM/SIGINT): reset (RST) every open
   * connection now, on every route, so that no client takes a transfer the
   * exit cuts for a complete one. The process exits right after.
   */
  abort(): void {
    this.#accepting = false;
    for (const r of [this.#route, ...this.#retired])
      for (const s of [...r.sessions]) s.abort('drained');
  }

  /** Stop accepting new connections; open ones continue. */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    await this.#closeServers();
  }

  /**
   * Stop accepting, let open connections finish for up to `timeoutMs`, then
   * close the rest with the close primitive (FIN, grace, reset).
   */
  async drain(timeoutMs: number): Promise<void> {
    await this.stopAccepting();
    const routes = [this.#route, ...this.#retired];
    for (const r of routes) r.retire();
    const done = await Promise.all(routes.map((r) => r.waitEmpty(timeoutMs)));
    if (done.includes(false)) {
      this.#logger.info('drain timeout reached; closing connections', {
        open: this.activeConnections,
      });
      for (const r of routes) for (const s of [...r.sessions]) s.closeGracefully('drained');
      await Promise.all(routes.map((r) => r.waitEmpty(CLOSE_GRACE_MS + 1000)));
    }
  }

  #closeServers(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    // net.Server.close() waits for open connections; only the listening socket matters here.
    for (const s of servers) s.close();
    return Promise.resolve();
  }
}

function sameAddresses(a: readonly HostPort[], b: readonly HostPort[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i];
      return y !== undefined && x.host === y.host && x.port === y.port;
    })
  );
}

/** The listening handle net.Server keeps; its `onconnection` is called for each accepted connection. */
interface ServerHandle {
  onconnection: (status: number, clientHandle?: object) => void;
  [kListener]?: Listener;
}

/**
 * Accept connections ourselves rather than through net.Server's
 * 'connection' event, which would wrap each accepted handle in a net.Socket
 * (streams, events, a fresh buffer per read). Binding, listening and closing
 * stay net.Server's; only the accept callback of its handle is replaced, and
 * each accepted handle becomes a RawSocket (raw-socket.ts).
 */
function installAcceptHook(server: Server, listener: Listener): void {
  const handle = (server as unknown as { _handle: ServerHandle | null })._handle;
  if (handle === null || typeof handle.onconnection !== 'function') {
    throw new Error(
      'this Node.js version has no net.Server handle to accept on (need Node.js >= 22.19)',
    );
  }
  handle[kListener] = listener;
  handle.onconnection = onRawConnection;
}

function onRawConnection(this: ServerHandle, status: number, clientHandle?: object): void {
  const listener = this[kListener];
  if (listener === undefined) return;
  if (status !== 0 || clientHandle === undefined) {
    listener.acceptFailed(status === 0 ? 'unknown' : getSystemErrorName(status));
    return;
  }
  // Nothing is read until a backend is connected (RawSocket.adopt starts paused): retries lose no byte.
  listener.accept(
    RawSocket.adopt(clientHandle, {
      onRead: onClientRead,
      buffer: scratch,
      keepAliveMs: listener.route.settings.keepAliveMs,
      optionsInherited: OPTIONS_INHERITED,
    }),
  );
}

/**
 * Linux copies a listening socket's TCP_NODELAY and keepalive settings to
 * the sockets it accepts: set them once here instead of with five
 * setsockopt calls per accepted connection (issue #11). Elsewhere each
 * accepted socket gets them set on its own.
 */
const OPTIONS_INHERITED = process.platform === 'linux';

interface OptionHandle {
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
}

function setInheritedOptions(server: Server, keepAliveMs: number): void {
  if (!OPTIONS_INHERITED) return;
  const handle = (server as unknown as { _handle: OptionHandle | null })._handle;
  if (handle === null) return;
  handle.setNoDelay(true);
  handle.setKeepAlive(keepAliveMs > 0, Math.max(1, Math.floor(keepAliveMs / 1000)));
}

function onServerError(this: TaggedServer, err: Error): void {
  this[kListener]?.serverError(err);
}

function describeListenError(err: Error): string {
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return 'address already in use (another process is listening there)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this machine';
    case 'EAFNOSUPPORT':
      return 'address family not supported (IPv6 disabled?)';
    default:
      return err.message;
  }
}
