import type { Backend, Closable } from '../../backends/backend.ts';
import { ALL_FULL } from '../../backends/backend-pool.ts';
import type { PickContext } from '../../balancing/balancer.ts';
import type { Outcome } from '../../core/outcome.ts';
import { scratch } from '../read-buffers.ts';
import type { StreamOptions, TcpStream } from '../tcp-stream.ts';
import {
  connectTimedOut,
  onUpstreamClose,
  onUpstreamConnect,
  onUpstreamError,
  onUpstreamRead,
  queueExpired,
  type SessionEvents,
} from './events.ts';
import type { HostedSession, SessionHost } from './host.ts';

/** The session a Connector dials for: it owns the upstream stream's events. */
export type DiallingSession = HostedSession &
  SessionEvents &
  Closable & { readonly host: SessionHost };

/** How a connect attempt failed: a failure of the backend's, or a local shortage (never blamed). */
export type AttemptFailure = 'connect_error' | 'connect_timeout' | 'local_error';

const NO_BACKENDS: readonly Backend[] = [];

/** The options of upstream streams, made once per keepalive setting rather than per connection. */
let cachedOptions: StreamOptions | undefined;

function upstreamOptions(keepAliveMs: number): StreamOptions {
  if (cachedOptions?.keepAliveMs !== keepAliveMs)
    cachedOptions = { onRead: onUpstreamRead, buffer: scratch, keepAliveMs };
  return cachedOptions;
}

/**
 * Getting a session its backend connection: pick a backend (the one a TLS
 * server name named, else the balancer's), wait in the host's queue while
 * every backend is full (bounded by `--queue-timeout`), dial with a
 * deadline, and on failure decide whether another, untried backend gets a
 * try. It owns the attempt's state; the session decides what a result means
 * for the client.
 */
export class Connector implements PickContext {
  /** The one reference back (the host is the session's): a connection's memory counts. */
  readonly #session: DiallingSession;
  nowMs = 0;
  tried: readonly Backend[] = NO_BACKENDS;
  attempts = 0;
  backend: Backend | null = null;
  upstream: TcpStream | null = null;
  /** The backend a TLS server name named (`--route-by sni`), until a pick falls back to the strategy. */
  target: string | undefined;
  /** The route chosen for this connection when the listener serves several (host.pickGroup). */
  group: number | undefined = undefined;
  /** Time to establish the connection in use, once established. */
  connectMs: number | undefined;
  #lastFailure: Outcome = 'connect_error';
  #connectStartMs = 0;
  /**
   * Deadline of the current connection attempt. A timer of the session's own
   * rather than the upstream socket's timeout: net keeps a socket's cleared
   * timer for reuse, which every idle connection would then carry.
   */
  #connectTimer: NodeJS.Timeout | undefined;
  /** The `--queue-timeout` deadline while waiting for a slot or a backend with room. */
  #queueTimer: NodeJS.Timeout | undefined;

  constructor(session: DiallingSession) {
    this.#session = session;
  }

  get clientAddress(): string {
    return this.#session.clientAddress;
  }

  get clientPort(): number {
    return this.#session.clientPort;
  }

  /**
   * Start (or keep) the `--queue-timeout` deadline. Being woken up to retry
   * does not restart it; only a pick ends it.
   */
  startWaiting(): void {
    if (this.#queueTimer !== undefined) return;
    this.#queueTimer = setTimeout(
      queueExpired,
      this.#session.host.settings.queueTimeoutMs,
      this.#session,
    );
    this.#queueTimer.unref();
  }

  stopWaiting(): void {
    if (this.#queueTimer === undefined) return;
    clearTimeout(this.#queueTimer);
    this.#queueTimer = undefined;
  }

  /** The queue deadline fired: take the session out of the host's queue. */
  waitExpired(): void {
    this.#queueTimer = undefined;
    this.#session.host.dequeue(this.#session);
  }

  /**
   * Pick a backend and dial it: `dialling` (`connect` or `error` follows on
   * `upstream`), `queued` (every backend is full: the host calls
   * `session.retry()` when one has room), or the outcome to close the client
   * with (no backend left to try).
   */
  next(): 'dialling' | 'queued' | Outcome {
    const host = this.#session.host;
    this.nowMs = host.clock.nowMs();
    let backend = host.pool.pickWithRoom(this, this.target);
    if (backend === undefined && this.target !== undefined && !host.sniStrict) {
      // The named pod is unknown, down, ejected or already failed: as the
      // docs say, the connection goes to the strategy (--sni-strict refuses).
      this.target = undefined;
      backend = host.pool.pickWithRoom(this);
    }
    if (backend === ALL_FULL) {
      this.startWaiting();
      host.enqueue(this.#session);
      return 'queued';
    }
    if (backend === undefined) return this.attempts === 0 ? 'no_backend' : this.#lastFailure;
    this.stopWaiting();
    this.attempts++;
    this.backend = backend;
    host.pool.attach(backend, this.#session);
    const up = host.connectUpstream(
      backend.endpoint.address,
      backend.endpoint.port,
      upstreamOptions(host.settings.keepAliveMs),
    );
    up.owner = this.#session;
    this.upstream = up;
    up.setHandler('connect', onUpstreamConnect);
    up.setHandler('error', onUpstreamError);
    up.setHandler('close', onUpstreamClose);
    this.#connectTimer = setTimeout(connectTimedOut, host.settings.connectTimeoutMs, this.#session);
    this.#connectStartMs = this.nowMs;
    return 'dialling';
  }

  /**
   * The current attempt failed before the connection was established: the
   * backend is detached (and, unless the failure was local, blamed and
   * remembered as tried) and the stream destroyed. Returns whether another
   * attempt may be made: a local shortage is not retried (it would meet the
   * same shortage), and retries are bounded by `--connect-retries`. False as
   * well when no attempt was in progress.
   */
  failed(kind: AttemptFailure): boolean {
    const backend = this.backend;
    const up = this.upstream;
    if (backend === null || up === null) return false;
    this.clearConnectTimer();
    const blamed = kind !== 'local_error';
    this.#session.host.pool.attemptFailed(backend, this.#session, blamed);
    if (blamed) this.tried = this.tried === NO_BACKENDS ? [backend] : [...this.tried, backend];
    this.#lastFailure = kind;
    this.backend = null;
    this.upstream = null;
    up.destroy();
    return blamed && this.attempts <= this.#session.host.settings.connectRetries;
  }

  /** The attempt connected at `nowMs`: record how long it took. */
  established(nowMs: number): void {
    this.clearConnectTimer();
    const connectMs = nowMs - this.#connectStartMs;
    this.connectMs = connectMs;
    this.#session.host.pool.connected(this.backend as Backend, connectMs, nowMs);
  }

  clearConnectTimer(): void {
    if (this.#connectTimer === undefined) return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  /** The session is done: stop the timers, leave the host's queue. */
  finish(): void {
    this.clearConnectTimer();
    if (this.#queueTimer !== undefined) {
      clearTimeout(this.#queueTimer);
      this.#queueTimer = undefined;
      this.#session.host.dequeue(this.#session);
    }
  }
}
