import type { ClosedFirst } from '../../access-log/access-record.ts';
import type { Backend } from '../../backends/backend.ts';
import type { BackendPool } from '../../backends/backend-pool.ts';
import type { Clock } from '../../core/clock.ts';
import type { Outcome } from '../../core/outcome.ts';
import type { ListenerMetrics } from '../../metrics/proxy-metrics.ts';
import type { Admittable } from '../connection-gate.ts';
import type { StreamConnector, TcpStream } from '../tcp-stream.ts';

/** Per-connection settings a listener hands to its sessions. */
export interface SessionSettings {
  readonly connectTimeoutMs: number;
  readonly connectRetries: number;
  /** 0 = no idle timeout. */
  readonly idleTimeoutMs: number;
  /** 0 = the idle timeout also covers half-closed connections. */
  readonly halfCloseTimeoutMs: number;
  /** 0 = TCP keepalive off. */
  readonly keepAliveMs: number;
  /** 0 = connections live as long as they like. */
  readonly maxLifetimeMs: number;
  /** How long a client may wait for a backend with room (`--queue-timeout`). */
  readonly queueTimeoutMs: number;
  /** Send a PROXY protocol header to backends (`--proxy-protocol`), or 0. */
  readonly sendProxyVersion: 0 | 1 | 2;
}

/** What a host sees of the sessions it hosts (admission, queue, access log). */
export interface HostedSession extends Admittable {
  readonly client: TcpStream;
  /** The client's address: the peer's, or the one its PROXY protocol header gave. */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The peer's own address and port when a PROXY header named another client. */
  readonly peerAddress: string | undefined;
  readonly peerPort: number | undefined;
  /** The backend of the current attempt or connection (null after a failed attempt). */
  readonly backend: Backend | null;
  readonly upstream: TcpStream | null;
  /** Backends whose connect attempt failed, oldest first. */
  readonly tried: readonly Backend[];
  readonly attempts: number;
  /** Once done: accept to close. */
  readonly durationMs: number;
  readonly connectMs: number | undefined;
  readonly firstByteMs: number | undefined;
  readonly outcome: Outcome | null;
  readonly closedFirst: ClosedFirst | null;
  /** A backend may have room now: try again if still waiting. */
  retry(): void;
}

/** What a session needs from the listener that accepted it. */
export interface SessionHost {
  readonly name: string;
  readonly settings: SessionSettings;
  readonly pool: BackendPool;
  readonly metrics: ListenerMetrics;
  readonly clock: Clock;
  /** Opens the connection to a backend (bare libuv handles, or a fake in unit tests). */
  readonly connectUpstream: StreamConnector;
  /** A socket `connectUpstream` opened has closed (every attempt's, once): forget it. */
  upstreamReleased(stream: TcpStream): void;
  /** Randomness for lifetime jitter. */
  readonly random: () => number;
  /** Whether this peer must first send a PROXY protocol header. */
  expectsProxyHeader(peerAddress: string): boolean;
  /** `--route-by sni`: the pattern the TLS server name must fit (`{hostname}.db.example.com`), or null. */
  readonly sniPattern: string | null;
  /** `--sni-strict`: close a connection whose server name names no backend. */
  readonly sniStrict: boolean;
  /** Several routes chosen by TLS server name (Gateway TLSRoutes): read the ClientHello. */
  readonly readsServerName?: boolean;
  /**
   * A listener serving several routes: the route (balancer group) that takes
   * a connection with this server name; null: refuse it (no route takes the
   * name, or it falls in the route's refused share); undefined: no routes.
   */
  pickGroup?(serverName: string | undefined): number | null | undefined;
  /**
   * Admission checks that need the client address (access control,
   * per-client limits): the outcome to close with, or null to go on.
   */
  admit(session: HostedSession): Outcome | null;
  /**
   * Ask for a slot under `--max-connections`: granted now, waiting (the
   * host calls `granted()` later), or full (the bounded wait queue is full,
   * or `--reject-over-limit`).
   */
  acquireSlot(session: HostedSession): 'granted' | 'waiting' | 'full';
  /** A local resource error (EMFILE...) on this session's upstream socket: count and warn. */
  localError(kind: string): void;
  /** Park a session until a backend has room (the host calls `retry()` then). */
  enqueue(session: HostedSession): void;
  dequeue(session: HostedSession): void;
  /** Both sockets closed; the backend's accounting is done. */
  sessionEnded(session: HostedSession): void;
}
