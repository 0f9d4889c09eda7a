import { createServer, type Server } from 'node:net';
import type { BackendPool } from '../backends/backend-pool.ts';
import { formatHostPort } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import { formatCidr } from '../core/cidr.ts';
import { errnoCode, ListenError } from '../core/errors.ts';
import { RateLimitedWarning } from '../core/local-errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { DEFAULT_LISTEN, listenSpecs, type ListenSpec } from '../config/listen-addresses.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import type { ActiveHealthChecker } from '../health/active-checker.ts';
import { ListenerUpstream } from '../upstream/listener-upstream.ts';
import type { UpstreamDeps } from '../upstream/upstream.ts';
import { Route, type RouteDeps } from './route.ts';
import { scratch } from './read-buffers.ts';
import { CLOSE_GRACE_MS, Session, onClientRead } from './session.ts';
import {
  acceptStreams,
  setListenOptions,
  type AcceptOptions,
  type SocketImpl,
} from './socket-impl.ts';
import type { TcpStream } from './tcp-stream.ts';

/** What a listener needs from the process: its routes' and upstreams' needs, and how to bind. */
export interface ListenerDeps extends RouteDeps, UpstreamDeps {
  readonly logger: Logger;
  /** Bind with SO_REUSEPORT, so that every worker thread listens on the same ports. */
  readonly reusePort?: boolean;
}

export { DEFAULT_LISTEN };

/** A listening socket and the address spec it was bound for; it can move between listeners on reload. */
export interface BoundSocket {
  /** Same key, same socket: a reload keeps (or hands over) a socket whose key it still wants. */
  readonly key: string;
  readonly spec: ListenSpec;
  readonly server: Server;
  /** The address actually bound (with the real port when 0 was asked). */
  readonly address: string;
}

/** What identifies a listening socket across reloads. */
export function socketKey(spec: ListenSpec): string {
  return `${formatHostPort(spec.host, spec.port)}${spec.v6only ? '/v6only' : ''}`;
}

/** Close listening sockets (open connections are not theirs: they continue). */
export function closeSockets(sockets: Iterable<BoundSocket>): void {
  for (const s of sockets) s.server.close();
}

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
  #sockets: BoundSocket[] = [];
  #accepting = false;
  /** Connections lost or refused at accept, logged at most every 10 s. */
  readonly #acceptWarning: RateLimitedWarning;
  /** Bound but not yet open (a reload not yet committed): accepted clients wait here, paused. */
  #opened = false;
  readonly #staged: { server: Server; waiting: TcpStream[] }[] = [];
  readonly #socketImpl: SocketImpl;

  /** @param source discovery to use instead of the one `config.backends` names (per-pod listeners). */
  constructor(config: ListenerSettings, deps: ListenerDeps, source?: DiscoverySource) {
    this.name = config.name;
    this.#deps = deps;
    this.#socketImpl = deps.socketImpl ?? 'raw';
    this.#logger = deps.logger.child({ listener: config.name });
    this.#acceptWarning = new RateLimitedWarning(
      this.#logger,
      'client connections refused or lost at accept',
    );
    this.#route = this.#buildRoute(config, source);
  }

  /** A route for `config` over a new upstream (discovery from `source` when given). */
  #buildRoute(config: ListenerSettings, source?: DiscoverySource): Route {
    const upstream = new ListenerUpstream(config, this.#deps, this.#logger, source);
    return new Route(upstream, this.#deps, this.#logger);
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
    return this.#sockets.map((s) => s.address);
  }

  /** The listening sockets, for a reload to keep or hand over. */
  get sockets(): readonly BoundSocket[] {
    return this.#sockets;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Open and holding at least one listening socket (else /readyz fails). */
  get listening(): boolean {
    return this.#accepting && this.#sockets.some((s) => s.server.listening);
  }

  /** Load what the listener's discovery needs before anything is bound (reload, staged start). */
  init(): Promise<void> {
    return this.#route.init();
  }

  /**
   * Start serving on `sockets` (bound by `bindSocket`, or handed over from
   * another listener by a reload): connections that arrived while staged are
   * accepted now, and discovery starts.
   */
  open(sockets: readonly BoundSocket[]): void {
    if (sockets.length === 0) {
      throw new ListenError(
        `listener "${this.name}"`,
        'no address could be bound (IPv6 unavailable?)',
      );
    }
    this.#adopt(sockets);
    this.#sockets = [...sockets];
    this.#accepting = true;
    this.#opened = true;
    this.#releaseStaged(true);
    this.#route.startDiscovery();
    this.#logger.info('listener started', {
      addresses: this.addresses,
      backends: this.#route.source.uri,
      strategy: this.#route.strategy,
      // Who may name the client in a PROXY header: the whole trust of --allow/--deny rests on it.
      ...(this.config.acceptProxyProtocol
        ? {
            proxyProtocolFrom:
              this.config.proxyProtocolFrom.length === 0
                ? 'every peer'
                : this.config.proxyProtocolFrom.map(formatCidr),
          }
        : {}),
    });
  }

  /** A staged listener that will not open: close its sockets and reset what waited on them. */
  abandon(sockets: readonly BoundSocket[]): void {
    closeSockets(sockets);
    if (!this.#opened) {
      this.#releaseStaged(false);
      this.#route.retire();
    }
  }

  /** Build (and load) the route a reload would switch this listener to, without switching. */
  async prepareRoute(config: ListenerSettings): Promise<Route> {
    const next = this.#buildRoute(config);
    try {
      await next.init();
    } catch (err) {
      next.retire();
      throw err;
    }
    return next;
  }

  /**
   * The commit step of a reload (synchronous, so no connection sees half of
   * it): serve on `sockets` from now on, and take `route` for new
   * connections when given (open ones keep theirs). Sockets this listener
   * no longer holds are the caller's to close or hand on.
   */
  commit(sockets: readonly BoundSocket[], route: Route | null): void {
    this.#adopt(sockets);
    this.#sockets = [...sockets];
    if (route === null) return;
    route.startDiscovery();
    const previous = this.#route;
    this.#route = route;
    for (const s of this.#sockets)
      setListenOptions(s.server, this.#socketImpl, route.settings.keepAliveMs);
    this.#retire(previous);
    this.#logger.info('listener reconfigured', {
      addresses: this.addresses,
      backends: route.source.uri,
      strategy: route.strategy,
    });
  }

  /** Give up the listening sockets without closing them (a reload hands them to another listener). */
  releaseSockets(): BoundSocket[] {
    const out = this.#sockets;
    this.#sockets = [];
    return out;
  }

  /**
   * Apply a changed configuration on its own (not part of a registry
   * reload): bind what is new first, then switch, then close what is gone.
   */
  async reconfigure(config: ListenerSettings, specs = listenSpecs(config)): Promise<void> {
    const next = await this.prepareRoute(config);
    const have = new Map(this.#sockets.map((s) => [s.key, s]));
    const fresh: BoundSocket[] = [];
    const keep: BoundSocket[] = [];
    try {
      for (const spec of specs) {
        const old = have.get(socketKey(spec));
        if (old !== undefined) {
          have.delete(old.key);
          keep.push(old);
          continue;
        }
        const bound = await this.bindSocket(spec);
        if (bound !== null) fresh.push(bound);
      }
    } catch (err) {
      closeSockets(fresh);
      next.retire();
      throw err;
    }
    this.commit([...keep, ...fresh], next);
    closeSockets(have.values());
  }

  #retire(route: Route): void {
    route.retire();
    if (route.sessions.size === 0) return;
    this.#retired.add(route);
    void route.waitEmpty().then(() => this.#retired.delete(route));
  }

  /**
   * Bind one address for this listener (its connections come here; while
   * the listener is staged they wait). Null when the address is skipped:
   * an automatic IPv6-only `[::]:P` where IPv6 is unavailable, whose IPv4
   * half the listener's own `0.0.0.0:P` serves.
   */
  async bindSocket(spec: ListenSpec): Promise<BoundSocket | null> {
    try {
      return await this.#bind(spec);
    } catch (err) {
      const code = errnoCode((err as { cause?: unknown }).cause);
      if (spec.withoutIPv6 !== 'none' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        if (spec.withoutIPv6 === 'skip') {
          this.#logger.info('IPv6 unavailable; IPv4 is served by 0.0.0.0 on the same port', {
            port: spec.port,
          });
          return null;
        }
        this.#logger.info('IPv6 unavailable; listening on IPv4 only');
        return await this.#bind(
          { host: '0.0.0.0', port: spec.port, v6only: false, withoutIPv6: 'none' },
          spec,
        );
      }
      throw err;
    }
  }

  #bind(spec: ListenSpec, keyed: ListenSpec = spec): Promise<BoundSocket> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }) as TaggedServer;
    server[kListener] = this;
    const label = formatHostPort(spec.host, spec.port);
    return new Promise((resolve, reject) => {
      const onListenError = (err: Error): void => {
        reject(new ListenError(label, describeListenError(err), { cause: err }));
      };
      server.once('error', onListenError);
      const reusePort = this.#deps.reusePort === true;
      server.listen(
        { host: spec.host, port: spec.port, backlog: 4096, ipv6Only: spec.v6only, reusePort },
        () => {
          server.off('error', onListenError);
          server.on('error', onServerError);
          this.#hook(server);
          setListenOptions(server, this.#socketImpl, this.#route.settings.keepAliveMs);
          const addr = server.address();
          resolve({
            key: socketKey(keyed),
            spec: keyed,
            server,
            address:
              addr !== null && typeof addr === 'object'
                ? formatHostPort(addr.address, addr.port)
                : label,
          });
        },
      );
    });
  }

  /** Point a socket's accepts at this listener (bound here, or handed over by a reload). */
  #adopt(sockets: readonly BoundSocket[]): void {
    for (const s of sockets) {
      const server = s.server as TaggedServer;
      if (server[kListener] === this) continue;
      server[kListener] = this;
      this.#hook(server);
      setListenOptions(server, this.#socketImpl, this.#route.settings.keepAliveMs);
    }
  }

  #hook(server: Server): void {
    if (this.#opened) {
      this.#acceptOn(server);
      return;
    }
    // Staged: hold accepted clients until the reload commits (or close them if it does not).
    const entry = { server, waiting: [] as TcpStream[] };
    acceptStreams(server, this.#socketImpl, this.#clientOptions, {
      onStream: (stream) => entry.waiting.push(stream),
      onFailure: (code) => this.acceptFailed(code),
    });
    this.#staged.push(entry);
  }

  /** Accept on `server` for this listener (a socket handed to another listener is hooked again there). */
  #acceptOn(server: Server): void {
    acceptStreams(server, this.#socketImpl, this.#clientOptions, {
      onStream: (stream) => this.accept(stream),
      onFailure: (code) => this.acceptFailed(code),
    });
  }

  /** How a client socket reads: nothing until a backend is connected (it starts paused), so retries lose no byte. */
  readonly #clientOptions = (optionsInherited: boolean): AcceptOptions => ({
    onRead: onClientRead,
    buffer: scratch,
    keepAliveMs: this.#route.settings.keepAliveMs,
    optionsInherited,
  });

  #releaseStaged(accept: boolean): void {
    for (const { server, waiting } of this.#staged.splice(0)) {
      if (accept) this.#acceptOn(server);
      for (const client of waiting) {
        if (accept) this.accept(client);
        else client.destroy();
      }
    }
  }

  accept(socket: TcpStream): void {
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
    // net.Server.close() waits for open connections; only the listening socket matters here.
    closeSockets(this.#sockets.splice(0));
    return Promise.resolve();
  }
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
