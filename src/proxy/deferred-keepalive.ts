import type { StreamConnector, StreamOptions, TcpStream } from './tcp-stream.ts';

/**
 * How long a backend socket runs without TCP keepalive before it gets it.
 * Keepalive only matters to a connection that sits idle for
 * `--tcp-keepalive` (60 s by default) and then finds its peer's node gone;
 * a connection that ends within a second never sends a probe.
 */
export const KEEPALIVE_DEFER_MS = 1000;

/**
 * Backend sockets get TCP keepalive one to two KEEPALIVE_DEFER_MS after
 * they connect instead of at connect: libuv sets it with four setsockopt calls
 * (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT), which a backend
 * socket cannot inherit the way an accepted one inherits its listening
 * socket's (issue #19: they were the largest Headway-side system-call cost
 * of a short connection). Connections that close within the delay, the
 * whole of a connection-per-request load, never pay for them; a long one
 * starts its keepalive idle clock at most two seconds late.
 *
 * One timer per connector, running only while sockets wait. A socket that
 * closes is forgotten at once (`forget`): kept until the next tick, a closed
 * socket would hold its whole session (about 1 KiB) for up to two seconds,
 * 12,000 of them at 6,000 connections a second.
 */
export class DeferredKeepalive {
  /** Sockets added since the last tick. */
  #young = new Set<TcpStream>();
  /** Sockets added in the interval before: armed at the next tick, a whole interval after connecting. */
  #due = new Set<TcpStream>();
  #timer: NodeJS.Timeout | undefined;
  readonly #keepAliveMs: number;
  readonly #delayMs: number;

  constructor(keepAliveMs: number, delayMs = KEEPALIVE_DEFER_MS) {
    this.#keepAliveMs = keepAliveMs;
    this.#delayMs = delayMs;
  }

  /** Sockets waiting for their keepalive. */
  get waiting(): number {
    return this.#young.size + this.#due.size;
  }

  add(stream: TcpStream): void {
    this.#young.add(stream);
    if (this.#timer === undefined) {
      this.#timer = setInterval(tick, this.#delayMs, this);
      this.#timer.unref();
    }
  }

  /**
   * Arm keepalive on the sockets added before the last tick (so each has
   * run at least one interval without it); closed ones are dropped, ones
   * still connecting wait one more interval.
   */
  tick(): void {
    const due = this.#due;
    this.#due = this.#young;
    for (const stream of due) {
      if (stream.destroyed) continue;
      if (stream.connecting) this.#due.add(stream);
      else stream.setKeepAlive(this.#keepAliveMs);
    }
    due.clear();
    this.#young = due;
    if (this.#due.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The socket closed: drop it (and so its session) now rather than at the next tick. */
  forget(stream: TcpStream): void {
    if (!this.#young.delete(stream)) this.#due.delete(stream);
  }

  /** Stop the timer and forget the waiting sockets (their route is gone). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#young.clear();
    this.#due.clear();
  }
}

function tick(deferred: DeferredKeepalive): void {
  deferred.tick();
}

/**
 * `connect` with its sockets' keepalive deferred (see DeferredKeepalive);
 * `keepAliveMs` 0 (`--tcp-keepalive off`) leaves `connect` as it is.
 */
export function deferKeepalive(
  connect: StreamConnector,
  deferred: DeferredKeepalive | null,
): StreamConnector {
  if (deferred === null) return connect;
  // The options without keepalive, made again only when the caller's change (they do not, in practice).
  let given: StreamOptions | undefined;
  let withoutKeepalive: StreamOptions | undefined;
  return (host, port, opts) => {
    if (opts !== given || withoutKeepalive === undefined) {
      given = opts;
      withoutKeepalive = { onRead: opts.onRead, buffer: opts.buffer, keepAliveMs: 0 };
    }
    const stream = connect(host, port, withoutKeepalive);
    deferred.add(stream);
    return stream;
  };
}
