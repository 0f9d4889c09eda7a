import { close, fstatSync, open } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import sonicBoom, { type SonicBoom } from 'sonic-boom';
import { asError } from '../core/errors.ts';

// sonic-boom is CommonJS: its class is a property of module.exports, which
// Node's named-export detection does not see.
const { SonicBoom: SonicBoomClass } = sonicBoom;

/**
 * Where access-log lines go: `'stdout'`, a file path (opened for append; a
 * file literally named `stdout` is `./stdout`), or an open file descriptor,
 * which the access log then owns and closes.
 */
export type AccessLogDestination = string | { readonly fd: number };

/**
 * A bounded asynchronous byte sink. `write` takes whole lines and either
 * queues all of them or none: it returns false, having dropped the chunk,
 * when the queue would exceed its bound or the sink has failed for good.
 */
export interface LogSink {
  write(chunk: Buffer): boolean;
  /** Bytes queued and not yet written. */
  readonly bufferedBytes: number;
  /** Resolves once open (for files); rejects if opening failed. */
  ready(): Promise<void>;
  /** Reopen by path (log rotation); a no-op for streams and descriptors. */
  reopen(): void;
  /** Resolves when everything queued so far has been written; waits out a stall. */
  flush(): Promise<void>;
  /** Flush, then close; gives up on what is queued after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

export interface SinkOptions {
  readonly maxBufferBytes: number;
  /** Called on every write, open or reopen error (the caller rate-limits). */
  readonly onError: (err: Error) => void;
  /** Called after each successful write(2) (the caller clears its error state). */
  readonly onWritten: () => void;
}

/**
 * Most bytes per write(2) to a file. sonic-boom completes one write per
 * event-loop turn, so this caps what a turn can log: at its default of 16 KiB
 * a turn closing 100 connections (35 KB of lines) already outruns a fast disk
 * and drops lines. 256 KiB carries ~700 lines a turn.
 */
const MAX_FILE_WRITE_BYTES = 256 * 1024;

/**
 * Lines are gathered until this many bytes (about 45 lines) before a write, or
 * for at most FILE_FLUSH_INTERVAL_MS (NGINX's `access_log ... buffer= flush=`).
 * Writing each line as it came cost a write(2) and a thread-pool round trip
 * (futex wake-ups) per connection: at 5,700 connections/s a third of the
 * proxy's system calls (issue #11).
 */
const FILE_BATCH_BYTES = 16 * 1024;
export const FILE_FLUSH_INTERVAL_MS = 500;

/**
 * Pick the sink for a destination. Pipes and sockets (stdout under a
 * container runtime, a log shipper's socket) get a stream: libuv writes them
 * without blocking and is woken by epoll as soon as the reader makes room.
 * Files and other descriptors get sonic-boom, which writes from the thread
 * pool: Node's own writes to a file are synchronous and would stall the data
 * path on a slow disk. (sonic-boom on a full non-blocking pipe instead
 * retries every 100 ms: measured, it dropped 17 % of 5 000 lines/s to a
 * reader with six times that capacity.)
 */
export function openSink(dest: AccessLogDestination, opts: SinkOptions): LogSink {
  if (dest === 'stdout') {
    // process.stdout is a net.Socket (or tty.WriteStream) when Node writes it
    // asynchronously. Sharing it with the process log keeps their lines whole.
    if (process.stdout instanceof Socket) return new StreamSink(process.stdout, false, opts);
    return new FileSink(1, opts);
  }
  if (typeof dest === 'string') return new FileSink(dest, opts);
  const stat = fstatSync(dest.fd);
  if (stat.isFIFO() || stat.isSocket()) {
    return new StreamSink(new Socket({ fd: dest.fd, readable: false, writable: true }), true, opts);
  }
  return new FileSink(dest.fd, opts);
}

/** A non-blocking stream (pipe or socket), bounded by its `writableLength`. */
export class StreamSink implements LogSink {
  readonly #stream: Writable;
  /** Whether closing the sink ends the stream (not for process.stdout). */
  readonly #owned: boolean;
  readonly #maxBytes: number;
  readonly #onError: (err: Error) => void;

  constructor(stream: Writable, owned: boolean, opts: SinkOptions) {
    this.#stream = stream;
    this.#owned = owned;
    this.#maxBytes = opts.maxBufferBytes;
    this.#onError = opts.onError;
    // Without a listener an EPIPE (the reader went away) would crash the process.
    stream.on('error', this.#onError);
  }

  get bufferedBytes(): number {
    return this.#stream.writableLength;
  }

  write(chunk: Buffer): boolean {
    const stream = this.#stream;
    if (stream.destroyed || stream.writableLength + chunk.length > this.#maxBytes) return false;
    stream.write(chunk);
    return true;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  reopen(): void {
    // Nothing to reopen: a pipe or socket is not rotated.
  }

  flush(): Promise<void> {
    const stream = this.#stream;
    if (stream.destroyed || stream.writableLength === 0) return Promise.resolve();
    // A write's callback runs once everything written before it is flushed.
    return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
  }

  async close(timeoutMs: number): Promise<void> {
    const stream = this.#stream;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    const finished = this.#owned
      ? new Promise<void>((resolve) => {
          stream.once('close', resolve);
          stream.end();
        })
      : this.flush();
    await Promise.race([finished, timeout]);
    clearTimeout(timer);
    if (this.#owned) stream.destroy();
    else stream.off('error', this.#onError);
  }
}

/** A file (by path, reopenable) or descriptor, written by sonic-boom from the thread pool. */
export class FileSink implements LogSink {
  readonly #boom: SonicBoom;
  readonly #ready: Promise<void>;
  readonly #reopenable: boolean;
  readonly #onError: (err: Error) => void;
  /** The first open failed: there is no descriptor to write to. */
  #unopened = false;
  /**
   * A reopen failed (its directory was removed, say): the old descriptor points at a file that
   * is no longer at the path, so lines written to it would be lost without a trace. They are
   * refused (and counted as dropped) until a reopen succeeds; one is retried every second.
   */
  #detached = false;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #path: string | undefined;
  #closed = false;
  #dropped = false;
  readonly #flushTimer: NodeJS.Timeout;

  constructor(dest: string | number, opts: SinkOptions) {
    this.#reopenable = typeof dest === 'string';
    this.#path = typeof dest === 'string' ? dest : undefined;
    this.#onError = opts.onError;
    this.#boom = new SonicBoomClass({
      dest,
      sync: false,
      // Lines arrive as Buffers: no per-write UTF-8 length scan of the queue.
      contentMode: 'buffer',
      maxLength: opts.maxBufferBytes,
      maxWrite: MAX_FILE_WRITE_BYTES,
      minLength: Math.min(FILE_BATCH_BYTES, Math.floor(opts.maxBufferBytes / 4)),
    });
    const boom = this.#boom;
    this.#ready = new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        boom.off('error', onOpenError);
        resolve();
      };
      const onOpenError = (err: Error): void => {
        boom.off('ready', onReady);
        this.#unopened = true;
        reject(err);
      };
      boom.once('ready', onReady);
      boom.once('error', onOpenError);
    });
    // The caller may never ask: a failed open also goes to onError.
    this.#ready.catch(() => undefined);
    boom.on('error', opts.onError);
    boom.on('write', opts.onWritten);
    boom.on('drop', () => {
      this.#dropped = true;
    });
    // Our own timer rather than sonic-boom's periodicFlush, which writes even
    // when nothing is waiting.
    this.#flushTimer = setInterval(flushWaiting, FILE_FLUSH_INTERVAL_MS, this);
    this.#flushTimer.unref();
  }

  /** Write out lines still waiting for a full batch (nothing when none are, or a write is under way). */
  flushWaiting(): void {
    const boom = this.#boom as unknown as { _writing: boolean };
    if (!this.#closed && !this.#unopened && this.bufferedBytes > 0 && !boom._writing)
      this.#boom.flush();
  }

  get bufferedBytes(): number {
    // sonic-boom keeps the count it checks maxLength against in `_len`.
    return (this.#boom as unknown as { _len: number })._len;
  }

  write(chunk: Buffer): boolean {
    if (this.#closed || this.#unopened || this.#detached) return false;
    this.#dropped = false;
    try {
      // In buffer mode sonic-boom takes Buffers; its typings only know strings.
      this.#boom.write(chunk as unknown as string);
    } catch (err) {
      // Not expected once open; the data path must not see it if it happens.
      this.#onError(asError(err));
      return false;
    }
    return !this.#dropped;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  reopen(): void {
    if (!this.#reopenable || this.#closed) return;
    const boom = this.#boom as unknown as { _writing: boolean };
    // Lines logged before the rotation belong in the old file: write the
    // waiting batch (at most FILE_BATCH_BYTES, once per rotation) before
    // switching. A batch already being written goes on to the old file too;
    // lines queued behind it land in the new one.
    if (!this.#unopened && this.bufferedBytes > 0 && !boom._writing) {
      try {
        this.#boom.flushSync();
      } catch (err) {
        this.#onError(asError(err));
      }
    }
    this.#reopenBoom();
  }

  /** Reopen by path, and learn whether it worked: a failure detaches the sink (see #detached). */
  #reopenBoom(): void {
    const boom = this.#boom;
    const onReady = (): void => {
      boom.off('error', onError);
      this.#detached = false;
      if (this.#retryTimer !== undefined) clearInterval(this.#retryTimer);
      this.#retryTimer = undefined;
    };
    const onError = (): void => {
      boom.off('ready', onReady);
      this.#detached = true;
      if (this.#retryTimer === undefined && !this.#closed) {
        this.#retryTimer = setInterval(retryReopen, REOPEN_RETRY_MS, this);
        this.#retryTimer.unref();
      }
    };
    boom.once('ready', onReady);
    boom.once('error', onError);
    boom.reopen();
  }

  /**
   * While detached: try the path first with an open of our own, and hand the reopen to
   * sonic-boom only once that works. Each failed sonic-boom reopen leaves a listener that closes
   * the old descriptor on the next success; retrying through it every second would close that
   * descriptor many times over (and with it, once its number is reused, someone else's file).
   */
  retryReopen(): void {
    const path = this.#path;
    if (!this.#detached || this.#closed || path === undefined) return;
    open(path, 'a', (err, fd) => {
      if (err !== null) return;
      close(fd, () => {
        if (this.#detached && !this.#closed) this.#reopenBoom();
      });
    });
  }

  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Errors reach onError; flushing only waits.
    return new Promise((resolve) => this.#boom.flush(() => resolve()));
  }

  close(timeoutMs: number): Promise<void> {
    const boom = this.#boom;
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#flushTimer);
    if (this.#retryTimer !== undefined) clearInterval(this.#retryTimer);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        boom.off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        boom.destroy();
        done();
      }, timeoutMs);
      timer.unref();
      boom.once('close', done);
      boom.end();
    });
  }
}

/** How often a detached file sink tries its path again. */
export const REOPEN_RETRY_MS = 1000;

function retryReopen(sink: FileSink): void {
  sink.retryReopen();
}

function flushWaiting(sink: FileSink): void {
  sink.flushWaiting();
}
