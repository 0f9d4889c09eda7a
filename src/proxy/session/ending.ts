import type { ClosedFirst } from '../../access-log/access-record.ts';
import type { Closable } from '../../backends/backend.ts';
import type { SessionFigures } from '../../backends/backend-pool.ts';
import type { Outcome } from '../../core/outcome.ts';
import type { TcpStream } from '../tcp-stream.ts';
import { graceExpired, lifetimeEnded, type SessionEvents } from './events.ts';
import type { HostedSession, SessionHost } from './host.ts';

/** The session an Ending ends: its host, its streams and its backend. */
export type EndingSession = HostedSession &
  SessionEvents &
  Closable & { readonly host: SessionHost; readonly connectMs: number | undefined };

/**
 * After a graceful close (FIN both ways), how long the peers get to finish
 * before both sockets are reset. Long enough for a reply in flight on a
 * healthy network, short enough that a drain deadline still means something.
 */
export const CLOSE_GRACE_MS = 2000;

/**
 * How a connection ends: which side sent FIN or reset first, the idle and
 * half-close timeouts, the lifetime, the close primitive (FIN both ways,
 * grace, reset) and the accounting once both sockets are closed. The
 * session decides when (its state machine); this does it and remembers.
 */
export class Ending {
  /** The one reference back (not host, client and upstream apart): a connection's memory counts. */
  readonly #session: EndingSession;
  /** The first reason recorded wins. */
  outcome: Outcome | null = null;
  /** Who ended the connection first, for the access log. */
  closedFirst: ClosedFirst | null = null;
  sawReset = false;
  /** FIN received from each side. */
  clientEnded = false;
  upstreamEnded = false;
  /** Each socket closed (no upstream socket counts as closed). */
  clientClosed = false;
  upstreamClosed = true;
  /**
   * Idle and half-close timeouts: the host sweeps its sessions (checkQuiet)
   * instead of each socket carrying a timer that every read and write would
   * re-arm. `quietLimitMs` is the timeout in force (0 = none),
   * `lastActiveMs` when bytes last arrived from either side or it was armed.
   */
  quietLimitMs = 0;
  lastActiveMs = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;

  constructor(session: EndingSession) {
    this.#session = session;
  }

  /** Record why the connection ends and who began it, unless already known. */
  note(outcome: Outcome | null, first: ClosedFirst): void {
    if (outcome !== null) this.outcome ??= outcome;
    this.closedFirst ??= first;
  }

  /** The client sent FIN while connected: pass it on. */
  clientFin(): void {
    this.clientEnded = true;
    this.closedFirst ??= 'client';
    this.#session.upstream?.end();
    this.armHalfClose();
  }

  /** The backend sent FIN: pass it on. */
  backendFin(): void {
    this.upstreamEnded = true;
    this.closedFirst ??= 'backend';
    this.#session.client.end();
    this.armHalfClose();
  }

  /** Once one side has sent FIN, the half-close timeout replaces the idle timeout. */
  armHalfClose(): void {
    const ms = this.#session.host.settings.halfCloseTimeoutMs;
    if (ms <= 0 || this.clientEnded === this.upstreamEnded) return;
    this.armQuiet(ms);
  }

  armQuiet(limitMs: number): void {
    this.quietLimitMs = limitMs;
    if (limitMs > 0) this.lastActiveMs = this.#session.host.clock.nowMs();
  }

  /** Whether the connection has been quiet past the timeout in force. */
  quietExpired(nowMs: number): boolean {
    return this.quietLimitMs !== 0 && nowMs - this.lastActiveMs >= this.quietLimitMs;
  }

  /** Bytes wait to be written in either direction (a peer stopped reading). */
  unsent(): boolean {
    return (
      this.#session.client.writableLength > 0 || (this.#session.upstream?.writableLength ?? 0) > 0
    );
  }

  /** `--max-connection-lifetime`, ±10 % so that connections opened together do not all reconnect together. */
  startLifetime(): void {
    const ms = this.#session.host.settings.maxLifetimeMs;
    if (ms <= 0) return;
    this.#lifetimeTimer = setTimeout(
      lifetimeEnded,
      ms * (0.9 + 0.2 * this.#session.host.random()),
      this.#session,
    );
    this.#lifetimeTimer.unref();
  }

  /**
   * The close primitive for a connected session: FIN, then after the grace
   * period reset whatever is still open. Close from the client's side
   * first: the backend gets FIN, and what it still sends (a reply in
   * flight) keeps flowing to the client until the backend's own FIN, which
   * ends the client side as usual. Client bytes are read and discarded from
   * now on, so its FIN is seen too. An idle connection (`finBoth`) has
   * nothing in flight: both sides get FIN at once.
   */
  closeGracefully(finBoth: boolean): void {
    const up = this.#session.upstream;
    this.#session.client.resume();
    up?.resume();
    if (finBoth || up === null || this.upstreamEnded) this.#session.client.end();
    up?.end();
    this.#graceTimer = setTimeout(graceExpired, CLOSE_GRACE_MS, this.#session);
    this.#graceTimer.unref();
  }

  /** Reset both sockets now (RST): the last step of the close primitive, or an abort. */
  resetBoth(): void {
    resetStream(this.#session.client);
    const up = this.#session.upstream;
    if (up !== null) resetStream(up);
  }

  /**
   * Both sockets are closed: stop the timers and account for the
   * connection (the pool for its backend, or the listener's metrics when
   * none was connected to). Returns how it ended.
   */
  finish(nowMs: number, startedMs: number): Outcome {
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    if (this.#lifetimeTimer !== undefined) clearTimeout(this.#lifetimeTimer);
    const outcome = this.outcome ?? (this.sawReset ? 'reset' : 'ok');
    this.outcome = outcome;
    const session = this.#session;
    const backend = session.backend;
    const bytesFromClient = this.#session.client.bytesRead;
    if (backend !== null) {
      const figures = FIGURES;
      figures.outcome = outcome;
      figures.bytesFromClient = bytesFromClient;
      figures.bytesFromBackend = session.upstream?.bytesRead ?? 0;
      figures.durationMs = session.connectMs === undefined ? undefined : nowMs - startedMs;
      figures.nowMs = nowMs;
      this.#session.host.pool.sessionEnded(backend, this.#session, figures);
    } else {
      this.#session.host.metrics.connectionClosedWithoutBackend(outcome, bytesFromClient);
    }
    return outcome;
  }
}

/**
 * The figures of the session being accounted for: one object filled per
 * close rather than a new one per connection (the pool reads it at once and
 * keeps no reference: see BackendPool.sessionEnded).
 */
const FIGURES: { -readonly [K in keyof SessionFigures]: SessionFigures[K] } = {
  outcome: 'ok',
  bytesFromClient: 0,
  bytesFromBackend: 0,
  durationMs: undefined,
  nowMs: 0,
};

/** Reset a stream (RST); one still connecting is just closed. */
export function resetStream(stream: TcpStream): void {
  if (stream.destroyed) return;
  if (stream.connecting) stream.destroy();
  else stream.resetAndDestroy();
}
