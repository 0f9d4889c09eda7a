import { connect, type Socket } from 'node:net';
import { errnoCode, errorMessage } from '../core/errors.ts';
import { localErrorKind } from '../core/local-errors.ts';
import type { CheckExpect } from '../config/check-string.ts';
import { ReplyMatcher, type ReplyReader } from './reply-matcher.ts';
import { systemClock, type Clock } from '../core/clock.ts';

/**
 * How much a check reads while waiting for its expectation: enough for a
 * Redis `INFO replication` answer (about 500 bytes) or an HTTP status line
 * and headers, small enough that a backend streaming a large answer cannot
 * make a check buffer much.
 */
export const PROBE_READ_LIMIT_BYTES = 16 * 1024;

export interface ProbeTarget {
  /** IP literal or host name (resolved at each probe). */
  readonly address: string;
  readonly port: number;
}

export interface ProbeOptions {
  /** Deadline for the whole probe: connect, send and the read of the expectation. */
  readonly timeoutMs: number;
  /** Written once connected. */
  readonly send?: Buffer | undefined;
  /** Read until it matches; without it, connecting (and sending) is success. */
  readonly expect?: CheckExpect | undefined;
  /**
   * With `expect`: patterns that fail the check the moment one appears in
   * what has been read (`--health-reject`), instead of at the timeout.
   */
  readonly reject?: readonly CheckExpect[] | undefined;
  /**
   * Instead of `expect`/`reject`: a fresh reader for this probe's reply, for
   * protocols judged by more than a pattern (the HTTP check's status line).
   */
  readonly reader?: (() => ReplyReader) | undefined;
  /**
   * How to close. `fin` (default): an orderly close, so backends do not log
   * resets. Its TIME_WAIT stays on the proxy, but each backend is its own
   * 4-tuple destination and at one check per interval that is about
   * 60 s / interval sockets per backend, a few hundred bytes of kernel memory
   * each, and no port pressure. `reset` (SO_LINGER 0, as HAProxy does for
   * checks) leaves nothing behind, for very short intervals or huge pools.
   */
  readonly close?: 'fin' | 'reset';
  /** Aborting ends the probe at once (ok: false, reason `aborted`). */
  readonly signal?: AbortSignal | undefined;
  /** Its monotonic time measures `ms` (default: the system clock). */
  readonly clock?: Clock;
}

/**
 * The outcome of one probe. `reason` is short text for logs and the admin
 * API: `connected` or `matched` on success; otherwise `connect timeout`,
 * `timeout` (connected, no match in time), `connection refused`,
 * `closed before match` (or `closed`, without expect, when the peer hung up
 * before the send completed), `rejected PATTERN` (a `reject` pattern was
 * read), `no match in first 16 KiB`, `aborted`, or
 * `connect error CODE` / `error CODE` for other socket errors.
 */
export interface ProbeResult {
  readonly ok: boolean;
  readonly reason: string;
  /** Time from the start of the probe to its outcome. */
  readonly ms: number;
  /** The HTTP status code an HTTP check read. */
  readonly status?: number;
  /**
   * Set when the probe failed for lack of a local resource (`emfile`,
   * `enfile`, `enobufs`, `enomem`): the check says nothing about the backend.
   */
  readonly local?: string;
}

/**
 * One TCP health check against a real socket: connect; write `send` if given;
 * with `expect`, read until it matches, the timeout, the peer's close or
 * `PROBE_READ_LIMIT_BYTES`. Uses one timer, never throws or rejects, and
 * always destroys its socket before resolving.
 */
export function probe(target: ProbeTarget, opts: ProbeOptions): Promise<ProbeResult> {
  const clock = opts.clock ?? systemClock;
  const started = clock.nowMs();
  return new Promise<ProbeResult>((resolve) => {
    if (opts.signal?.aborted === true) {
      resolve({ ok: false, reason: 'aborted', ms: 0 });
      return;
    }
    let socket: Socket;
    try {
      socket = connect({
        host: target.address,
        port: target.port,
        allowHalfOpen: true,
        noDelay: true,
      });
    } catch (err) {
      // Synchronous argument errors (a bad port) still make a failed check, not a throw.
      const reason = `connect error ${errnoCode(err) ?? errorMessage(err)}`;
      const local = localErrorKind(err);
      resolve(
        local === undefined ? { ok: false, reason, ms: 0 } : { ok: false, reason, ms: 0, local },
      );
      return;
    }
    let connected = false;
    let done = false;
    // Without a reader, connecting (and sending) is the whole check.
    const reader =
      opts.reader?.() ??
      (opts.expect === undefined ? undefined : new ReplyMatcher(opts.expect, opts.reject));
    let read = 0;

    const finish = (
      ok: boolean,
      reason: string,
      extra: { status?: number; local?: string } = {},
    ): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // resetAndDestroy() on a socket still connecting would wait for the
      // connect; a plain destroy() abandons the attempt at once.
      if (opts.close === 'reset' && connected && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
      const ms = clock.nowMs() - started;
      resolve({ ok, reason, ms, ...extra });
    };
    const onAbort = (): void => finish(false, 'aborted');

    const timer = setTimeout(
      () => finish(false, connected ? 'timeout' : 'connect timeout'),
      opts.timeoutMs,
    );
    timer.unref();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // Stays attached after finish: a late error on the destroyed socket must not go unhandled.
    socket.on('error', (err) => {
      const code = errnoCode(err) ?? err.message;
      const local = localErrorKind(err);
      if (local !== undefined) finish(false, `local error ${code}`, { local });
      else if (!connected)
        finish(false, code === 'ECONNREFUSED' ? 'connection refused' : `connect error ${code}`);
      else finish(false, `error ${code}`);
    });

    socket.once('connect', () => {
      connected = true;
      const send = opts.send;
      if (send === undefined || send.length === 0) {
        if (reader === undefined) finish(true, 'connected');
        return;
      }
      socket.write(send, (err) => {
        // The error itself also arrives as an 'error' event, which names it.
        if (err == null && reader === undefined) finish(true, 'connected');
      });
    });

    socket.on('data', (chunk: Buffer) => {
      if (reader === undefined || done) return;
      const room = PROBE_READ_LIMIT_BYTES - read;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      read += part.length;
      const verdict = reader.feed(part);
      if (verdict.kind !== 'pending')
        finish(verdict.kind === 'pass', verdict.reason, { status: verdict.status });
      else if (read >= PROBE_READ_LIMIT_BYTES) finish(false, 'no match in first 16 KiB');
    });

    socket.once('end', () => {
      if (reader !== undefined) finish(false, 'closed before match');
    });

    // Without expect, a peer that closes before our send completes also ends here.
    socket.once('close', () => {
      if (!connected) finish(false, 'connect error closed');
      else finish(false, reader === undefined ? 'closed' : 'closed before match');
    });
  });
}
