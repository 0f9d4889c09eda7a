import type { AccessRecord } from '../../src/access-log/access-record.ts';
import { BackendPool } from '../../src/backends/backend-pool.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { RoundRobinBalancer } from '../../src/balancing/round-robin.ts';
import { formatHostPort } from '../../src/core/address.ts';
import type { Clock } from '../../src/core/clock.ts';
import type { Endpoint } from '../../src/core/endpoint.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { Outcome } from '../../src/core/outcome.ts';
import { OutlierDetector } from '../../src/health/outlier-detector.ts';
import { ConnectionGate } from '../../src/proxy/connection-gate.ts';
import { scratch } from '../../src/proxy/read-buffers.ts';
import type { TcpStream } from '../../src/proxy/tcp-stream.ts';
import {
  Session,
  onClientRead,
  type SessionHost,
  type SessionSettings,
} from '../../src/proxy/session.ts';
import { FakeNet, type FakeStream } from './fake-stream.ts';
import { RecordingMetrics } from './recording-metrics.ts';

/** The monotonic and wall clock of a test: both read vitest's fake `Date`. */
export const fakeTimersClock: Clock = {
  nowMs: () => Date.now(),
  wallMs: () => Date.now(),
};

export const DEFAULT_SETTINGS: SessionSettings = {
  connectTimeoutMs: 1000,
  connectRetries: 1,
  idleTimeoutMs: 0,
  halfCloseTimeoutMs: 0,
  keepAliveMs: 0,
  maxLifetimeMs: 0,
  queueTimeoutMs: 500,
  sendProxyVersion: 0,
};

export interface FakeHostOptions {
  readonly settings?: Partial<SessionSettings>;
  /** Backend ids `host:port`, all ready, weight 1. */
  readonly backends?: readonly string[];
  /** `--max-connections` (0 = unlimited). */
  readonly maxConnections?: number;
  readonly maxPerBackend?: number;
  readonly maxPerClient?: number;
  readonly denied?: readonly string[];
  /** Peers that must send a PROXY protocol header. */
  readonly proxyHeaderFrom?: readonly string[];
  readonly sniPattern?: string | null;
  readonly sniStrict?: boolean;
  /** Passive ejection after this many consecutive connect failures (0 = off). */
  readonly ejectAfter?: number;
}

/**
 * A SessionHost built like Route (admission, per-client limit, the
 * `--max-connections` gate, the queue of sessions waiting for a backend with
 * room, access log), over a real BackendPool and a round-robin balancer, with
 * fake streams and the fake-timers clock.
 */
export class FakeSessionHost implements SessionHost {
  readonly name = 'test';
  readonly settings: SessionSettings;
  readonly pool: BackendPool;
  readonly metrics = new RecordingMetrics();
  readonly clock = fakeTimersClock;
  readonly net = new FakeNet();
  readonly connectUpstream = this.net.connect;
  /** Every backend socket the sessions reported closed, in order (`upstreamReleased`). */
  readonly released: TcpStream[] = [];
  readonly random = (): number => 0.5;
  readonly sniPattern: string | null;
  readonly sniStrict: boolean;
  readonly gate: ConnectionGate;
  readonly sessions = new Set<Session>();
  readonly accessLog: AccessRecord[] = [];
  readonly localErrors: string[] = [];
  readonly queue: Session[] = [];
  readonly #maxPerClient: number;
  readonly #perClient = new Map<string, number>();
  readonly #counted = new WeakSet<Session>();
  readonly #denied: ReadonlySet<string>;
  readonly #proxyHeaderFrom: ReadonlySet<string>;

  constructor(opts: FakeHostOptions = {}) {
    this.settings = { ...DEFAULT_SETTINGS, ...opts.settings };
    this.sniPattern = opts.sniPattern ?? null;
    this.sniStrict = opts.sniStrict ?? false;
    this.gate = new ConnectionGate(opts.maxConnections ?? 0);
    this.#maxPerClient = opts.maxPerClient ?? 0;
    this.#denied = new Set(opts.denied ?? []);
    this.#proxyHeaderFrom = new Set(opts.proxyHeaderFrom ?? []);
    const ejectAfter = opts.ejectAfter ?? 0;
    this.pool = new BackendPool({
      listener: this.name,
      balancer: new RoundRobinBalancer(),
      metrics: this.metrics,
      logger: silentLogger,
      backendDrainTimeoutMs: 0,
      trackLatency: true,
      clock: this.clock,
      maxPerBackend: opts.maxPerBackend ?? 0,
      outlier:
        ejectAfter > 0
          ? new OutlierDetector({
              ejectAfter,
              maxEjectionPercent: 100,
              totalBackends: () => [...this.pool.backends()].length,
              clock: this.clock,
            })
          : undefined,
      onRoom: () => this.#serveQueue(),
    });
    this.setBackends(opts.backends ?? ['10.0.0.1:80', '10.0.0.2:80']);
  }

  /** Replace the backend set (a discovery snapshot). */
  setBackends(ids: readonly string[], extra: Partial<Endpoint> = {}): void {
    this.pool.applySnapshot({
      endpoints: ids.map((id) => {
        const [address = '', port = '0'] = id.split(':');
        return { id, address, port: Number(port), weight: 1, state: 'ready', ...extra };
      }),
      updatedAtMs: 0,
    });
  }

  backend(id: string): Backend {
    const b = this.pool.get(id);
    if (b === undefined) throw new Error(`no backend ${id}`);
    return b;
  }

  /** Accept a client connection from `address` and start its session, as the listener does. */
  accept(address = '192.0.2.10', port = 40000): { session: Session; client: FakeStream } {
    const client = this.net.client(address, port, onClientRead, scratch);
    const session = new Session(this, client);
    this.sessions.add(session);
    session.start();
    return { session, client };
  }

  /** The access-log record of the one session that ended. */
  get record(): AccessRecord {
    if (this.accessLog.length !== 1)
      throw new Error(`expected one access-log record, got ${this.accessLog.length}`);
    return this.accessLog[0] as AccessRecord;
  }

  upstreamReleased(stream: TcpStream): void {
    this.released.push(stream);
  }

  expectsProxyHeader(peerAddress: string): boolean {
    return this.#proxyHeaderFrom.has(peerAddress);
  }

  admit(session: Session): Outcome | null {
    const addr = session.clientAddress;
    if (this.#denied.has(addr)) return 'denied';
    if (this.#maxPerClient > 0) {
      const open = this.#perClient.get(addr) ?? 0;
      if (open >= this.#maxPerClient) return 'rejected';
      this.#perClient.set(addr, open + 1);
      this.#counted.add(session);
    }
    return null;
  }

  acquireSlot(session: Session): 'granted' | 'waiting' | 'full' {
    return this.gate.admit(session);
  }

  localError(kind: string): void {
    this.localErrors.push(kind);
  }

  enqueue(session: Session): void {
    if (!this.queue.includes(session)) this.queue.push(session);
  }

  dequeue(session: Session): void {
    const i = this.queue.indexOf(session);
    if (i >= 0) this.queue.splice(i, 1);
  }

  #serveQueue(): void {
    for (let n = this.queue.length; n > 0 && this.queue.length > 0 && this.pool.hasRoom(); n--) {
      (this.queue.shift() as Session).retry();
    }
  }

  /** The host's quiet sweep (Route runs it on an interval). */
  sweepQuiet(): void {
    const now = this.clock.nowMs();
    for (const s of this.sessions) s.checkQuiet(now);
  }

  sessionEnded(session: Session): void {
    this.sessions.delete(session);
    const backend = session.backend ?? session.tried[session.tried.length - 1];
    const ep = backend?.endpoint;
    const proxied = session.peerAddress !== undefined;
    this.accessLog.push({
      timeMs: this.clock.wallMs(),
      listener: this.name,
      peerAddress: session.peerAddress ?? session.clientAddress,
      peerPort: session.peerPort ?? session.clientPort,
      clientAddress: proxied ? session.clientAddress : undefined,
      clientPort: proxied ? session.clientPort : undefined,
      backendId: backend?.id,
      backendAddress: ep === undefined ? undefined : formatHostPort(ep.address, ep.port),
      bytesFromClient: session.client.bytesRead,
      bytesFromBackend: session.upstream?.bytesRead ?? 0,
      durationMs: session.durationMs,
      connectMs: session.connectMs,
      firstByteMs: session.firstByteMs,
      retries: Math.max(0, session.attempts - 1),
      attempts: session.attempts,
      outcome: session.outcome ?? 'ok',
      closedFirst: session.closedFirst,
    });
    if (this.#counted.delete(session)) {
      const addr = session.clientAddress;
      const open = (this.#perClient.get(addr) ?? 1) - 1;
      if (open > 0) this.#perClient.set(addr, open);
      else this.#perClient.delete(addr);
    }
    this.gate.release(session);
  }
}
