import { Socket, createServer, type Server, type SocketConstructorOpts } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { BackendPool } from '../backends/backend-pool.ts';
import { createBalancer } from '../balancing/create-balancer.ts';
import { formatHostPort, type HostPort } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import { ListenError, errnoCode, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { createDiscoverySource } from '../discovery/create-source.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import type { ListenerMetrics, ProxyMetrics } from '../metrics/proxy-metrics.ts';
import { CidrSet } from '../core/cidr.ts';
import { ActiveHealthChecker } from '../health/active-checker.ts';
import { OutlierDetector } from '../health/outlier-detector.ts';
import type { ConnectionGate } from './connection-gate.ts';
import {
  CLOSE_GRACE_MS,
  Session,
  nextClientBuffer,
  onClientRead,
  type SessionHost,
  type SessionSettings,
} from './session.ts';

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
}

/** Where to listen when `--listen` is not given: dual-stack, else IPv4 only. */
export const DEFAULT_LISTEN: readonly HostPort[] = [{ host: '::', port: 8080 }];
const IPV4_FALLBACK: HostPort = { host: '0.0.0.0', port: 8080 };

const kListener = Symbol('headway.listener');
type TaggedServer = Server & { [kListener]?: Listener };

/**
 * One proxy listener: its bind addresses, discovery source, backend pool,
 * balancer and per-connection settings. Several run in one process; each
 * can be started and drained on its own.
 */
export class Listener implements SessionHost {
  readonly name: string;
  readonly settings: SessionSettings;
  readonly pool: BackendPool;
  readonly metrics: ListenerMetrics;
  readonly clock: Clock;
  readonly random: () => number;
  readonly source: DiscoverySource;
  readonly strategy: string;
  readonly sessions = new Set<Session>();
  /** Active health checks, or null when off. */
  readonly checker: ActiveHealthChecker | null;
  readonly #config: ListenerSettings;
  readonly #deps: ListenerDeps;
  readonly #logger: Logger;
  #servers: Server[] = [];
  #addresses: string[] = [];
  #accepting = false;
  #emptyWaiters: (() => void)[] = [];
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

  constructor(config: ListenerSettings, deps: ListenerDeps) {
    if (config.backends === null) throw new Error('listener needs backends');
    this.name = config.name;
    this.#config = config;
    this.#deps = deps;
    this.clock = deps.clock;
    this.#logger = deps.logger.child({ listener: config.name });
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
    this.#allow = config.allow.length > 0 ? new CidrSet(config.allow) : null;
    this.#deny = config.deny.length > 0 ? new CidrSet(config.deny) : null;
    this.#acceptProxy = config.acceptProxyProtocol;
    this.#proxyFrom =
      config.proxyProtocolFrom.length > 0 ? new CidrSet(config.proxyProtocolFrom) : null;
    this.#maxPerClient = config.maxConnectionsPerClient;
    this.random = deps.random;
    this.metrics = deps.metrics.listener(config.name);
    this.pool = new BackendPool({
      listener: config.name,
      balancer: createBalancer(config, deps),
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
      onPanic: () => {
        this.metrics.panicEntered();
      },
      onRoom: () => {
        this.#serveQueue();
      },
    });
    this.source = createDiscoverySource(config.backends, config, deps);
    const checks =
      config.healthCheck === 'tcp' || (config.healthCheck === 'auto' && this.source.kind !== 'k8s');
    this.checker = checks
      ? new ActiveHealthChecker(
          {
            intervalMs: config.healthInterval,
            timeoutMs: config.healthTimeout,
            rise: config.healthRise,
            fall: config.healthFall,
            send: config.healthSend ?? undefined,
            expect: config.healthExpect ?? undefined,
            random: deps.random,
            wallMs: () => deps.clock.wallMs(),
          },
          (id, healthy, detail) => {
            this.#logger.warn(
              healthy ? 'backend is healthy again' : 'backend failed its health checks',
              {
                backend: id,
                reason: detail.reason,
              },
            );
            this.pool.setHealthy(id, healthy);
          },
        )
      : null;
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
    await this.source.init?.();
    const wanted = this.#config.listen.length > 0 ? this.#config.listen : DEFAULT_LISTEN;
    try {
      for (const hp of wanted) {
        await this.#bindWithFallback(hp, this.#config.listen.length === 0);
      }
    } catch (err) {
      await this.#closeServers();
      throw err;
    }
    this.#accepting = true;
    this.source.start({
      onSnapshot: (snapshot) => {
        this.pool.applySnapshot(snapshot);
        this.checker?.setTargets(
          snapshot.endpoints.map((e) => ({ id: e.id, address: e.address, port: e.port })),
        );
        this.metrics.discoveryUpdated(this.source.kind);
        this.#logger.info('backends updated', {
          count: snapshot.endpoints.length,
          usable: this.pool.hasUsableBackend,
        });
      },
      onError: (reason, err) => {
        this.metrics.discoveryFailed(this.source.kind, reason);
        this.#logger.warn('discovery error; keeping the last known backends', {
          reason,
          error: errorMessage(err).split('\n')[0],
        });
      },
      onFatal: (err) => {
        this.#deps.onFatal(err);
      },
    });
    this.#logger.info('listener started', {
      addresses: this.#addresses,
      backends: this.source.uri,
      strategy: this.strategy,
    });
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
    const keepAliveMs = this.settings.keepAliveMs;
    const server = createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: keepAliveMs > 0,
      keepAliveInitialDelay: keepAliveMs,
    }) as TaggedServer;
    server[kListener] = this;
    const label = formatHostPort(hp.host, hp.port);
    return new Promise((resolve, reject) => {
      const onListenError = (err: Error): void => {
        reject(new ListenError(label, describeListenError(err), { cause: err }));
      };
      server.once('error', onListenError);
      server.listen({ host: hp.host, port: hp.port, backlog: 4096, ipv6Only: false }, () => {
        server.off('error', onListenError);
        server.on('error', onServerError);
        installAcceptHook(server, this);
        const addr = server.address();
        this.#addresses.push(
          addr !== null && typeof addr === 'object'
            ? formatHostPort(addr.address, addr.port)
            : label,
        );
        this.#servers.push(server);
        resolve();
      });
    });
  }

  accept(socket: Socket): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    const session = new Session(this, socket);
    this.sessions.add(session);
    this.#deps.gate.admit(session);
  }

  serverError(err: Error): void {
    // Accept errors (EMFILE, ENFILE) must not take the listener down.
    this.#logger.error('accept failed', { error: err.message });
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

  #listedCount(): number {
    let n = 0;
    for (const b of this.pool.backends()) if (b.listed) n++;
    return n;
  }

  #serveQueue(): void {
    while (this.#queue.length > 0 && this.pool.hasRoom()) {
      const next = this.#queue.shift() as Session;
      next.retry();
    }
  }

  sessionEnded(session: Session): void {
    this.sessions.delete(session);
    if (this.#counted.delete(session)) {
      const addr = session.clientAddress;
      const open = (this.#perClient.get(addr) ?? 1) - 1;
      if (open > 0) this.#perClient.set(addr, open);
      else this.#perClient.delete(addr);
    }
    this.#deps.gate.release(session);
    if (this.sessions.size === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
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
    this.source.stop();
    this.checker?.stop();
    if (!(await this.#waitEmpty(timeoutMs))) {
      this.#logger.info('drain timeout reached; closing connections', { open: this.sessions.size });
      for (const s of [...this.sessions]) s.closeGracefully('drained');
      await this.#waitEmpty(CLOSE_GRACE_MS + 1000);
    }
    this.pool.dispose();
  }

  #waitEmpty(timeoutMs: number): Promise<boolean> {
    if (this.sessions.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #closeServers(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    // net.Server.close() waits for open connections; only the listening socket matters here.
    for (const s of servers) s.close();
    return Promise.resolve();
  }
}

/** The listening handle net.Server keeps; its `onconnection` is called for each accepted connection. */
interface ServerHandle {
  onconnection: (status: number, clientHandle?: object) => void;
  [kListener]?: Listener;
}

/** `new Socket()` options net itself uses to adopt an accepted handle. */
interface AdoptOptions extends Omit<SocketConstructorOpts, 'handle'> {
  /** The accepted libuv handle (a TCPWrap), not a BoundSocket. */
  handle: object;
  pauseOnCreate: boolean;
}

/**
 * Accept connections ourselves rather than through net.Server's
 * 'connection' event: net would build a Socket without `onread`, so every
 * client read would allocate a fresh buffer. Binding, listening and closing
 * stay net.Server's; only the accept callback of its handle is replaced, and
 * each accepted handle is adopted by one Socket that reads into pooled
 * buffers (as net.Server does internally, with `onread` added).
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
    listener.serverError(new Error(`accept failed: ${getSystemErrorName(status)}`));
    return;
  }
  const keepAliveMs = listener.settings.keepAliveMs;
  const options: AdoptOptions = {
    handle: clientHandle,
    allowHalfOpen: true,
    // Nothing is read until a backend is connected: retries lose no byte.
    pauseOnCreate: true,
    readable: true,
    writable: true,
    noDelay: true,
    keepAlive: keepAliveMs > 0,
    keepAliveInitialDelay: keepAliveMs,
    onread: { buffer: nextClientBuffer, callback: onClientRead },
  };
  listener.accept(new Socket(options as unknown as SocketConstructorOpts));
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
