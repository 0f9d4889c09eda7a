import type { AccessRecord } from './access-record.ts';
import {
  type AccessLogFormat,
  type LineFormat,
  maxLineBytes,
  writeJsonLine,
  writeTextLine,
} from './format.ts';
import { LineWriter } from './line-writer.ts';
import { type AccessLogDestination, type LogSink, openSink } from './sinks.ts';
import { OptionRangeError } from '../core/errors.ts';

export type { AccessLogDestination } from './sinks.ts';
export type { AccessRecord, ClosedFirst } from './access-record.ts';
export type { AccessLogFormat } from './format.ts';

export interface AccessLogOptions {
  readonly destination: AccessLogDestination;
  readonly format: AccessLogFormat;
  /** Fraction of connections logged, 0..1 (0 = none, 1 = all). */
  readonly sampleRate: number;
  /** Randomness for sampling, injected so tests are deterministic. */
  readonly random: () => number;
  /** Most bytes queued for the destination; lines that would exceed it are dropped whole. Default 4 MiB. */
  readonly maxBufferBytes?: number;
  /**
   * Lines dropped (buffer full, destination failed, or written after close),
   * for `headway_access_log_dropped_total`. Called once per dropped batch.
   */
  readonly onDrop?: (lines: number) => void;
  /**
   * A write, open or reopen failed. Called once when the sink starts failing,
   * not for every retry; lines keep buffering (and then dropping) meanwhile.
   */
  readonly onError?: (err: Error) => void;
}

/**
 * Room for about 12 000 lines of ~350 bytes: seconds of a busy proxy's
 * connection rate while a sink hiccups (a log shipper restarting, a slow
 * disk), small next to the socket buffers of that many connections.
 */
export const DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024;

/** How long `close()` waits for buffered lines to reach the sink by default. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

/**
 * Lines are formatted straight into one buffer of this size and handed to
 * the sink at the end of the event-loop turn, or earlier once the batch
 * reaches it. A line longer than that gets a buffer of its own size.
 */
const BATCH_BYTES = 64 * 1024;

/**
 * The access log: one line per closed connection, JSON or text, written
 * through a bounded asynchronous buffer. `write()` samples, formats the line
 * and appends it to the current event-loop turn's batch; at the end of the
 * turn the batch goes to the sink as one buffer (see `openSink` for which
 * sink writes what). A slow or stalled sink never blocks the caller: a batch
 * that would take the sink's queue past `maxBufferBytes` is dropped whole and
 * its lines counted, so what reaches the destination is always whole lines.
 *
 * A descriptor destination should be a regular file, a pipe or a socket. A
 * blocking descriptor of another kind whose reader stalls holds a
 * thread-pool thread in write(2), and Node cannot exit until it returns.
 */
export class AccessLog {
  readonly #sink: LogSink;
  readonly #format: LineFormat;
  readonly #sampleRate: number;
  readonly #random: () => number;
  readonly #onDrop: ((lines: number) => void) | undefined;
  readonly #onError: ((err: Error) => void) | undefined;
  /** Hand the batch over once it holds this many bytes. */
  readonly #batchLimit: number;
  readonly #batch = new LineWriter(BATCH_BYTES);
  readonly #batchBuffer = this.#batch.buf;
  #batchLines = 0;
  #handOverScheduled = false;
  #dropped = 0;
  #written = 0;
  #failing = false;
  #closed = false;

  constructor(opts: AccessLogOptions) {
    const rate = opts.sampleRate;
    if (!(rate >= 0 && rate <= 1)) {
      throw new OptionRangeError(`access log sample rate must be within 0..1, got ${rate}`);
    }
    const maxBytes = opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    if (!(Number.isInteger(maxBytes) && maxBytes > 0)) {
      throw new OptionRangeError(
        `access log buffer size must be a positive integer, got ${maxBytes}`,
      );
    }
    // A batch must fit the buffer many times over, or it would always be dropped.
    this.#batchLimit = Math.min(BATCH_BYTES, Math.ceil(maxBytes / 8));
    this.#format = opts.format === 'json' ? writeJsonLine : writeTextLine;
    this.#sampleRate = rate;
    this.#random = opts.random;
    this.#onDrop = opts.onDrop;
    this.#onError = opts.onError;
    this.#sink = openSink(opts.destination, {
      maxBufferBytes: maxBytes,
      onError: this.#sinkError,
      onWritten: this.#sinkWrote,
    });
  }

  /** Lines dropped so far: the buffer was full, the sink had failed, or the log was closed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Lines handed to the sink so far (sampled in and not dropped). */
  get written(): number {
    return this.#written;
  }

  /** Bytes queued for the destination and not yet written, at most `maxBufferBytes`. */
  get bufferedBytes(): number {
    return this.#sink.bufferedBytes;
  }

  /** Resolves once the destination is open; rejects if opening the file failed. */
  ready(): Promise<void> {
    return this.#sink.ready();
  }

  /**
   * Log one closed connection, subject to sampling. Never blocks. The record
   * is formatted before this returns and no reference to it is kept: the
   * caller may reuse one record object for every connection.
   */
  write(rec: AccessRecord): void {
    const rate = this.#sampleRate;
    if (rate < 1 && !(this.#random() < rate)) return;
    if (this.#closed) {
      this.#drop(1);
      return;
    }
    const batch = this.#batch;
    const need = maxLineBytes(rec);
    if (need > batch.free) {
      // Lines are never split across hand-overs: the batch so far goes first.
      this.#handOver();
      if (need > batch.free) batch.buf = Buffer.allocUnsafe(need);
    }
    this.#format(batch, rec);
    this.#batchLines++;
    if (batch.pos >= this.#batchLimit) {
      this.#handOver();
    } else if (!this.#handOverScheduled) {
      this.#handOverScheduled = true;
      setImmediate(this.#handOverNow);
    }
  }

  /**
   * Reopen the file by its path (on SIGUSR1, after logrotate renamed it).
   * A write in flight finishes in the old file; everything after it goes to
   * the new one. A no-op for stdout and descriptors.
   */
  reopen(): void {
    if (this.#closed) return;
    this.#handOver();
    this.#sink.reopen();
  }

  /**
   * Resolves when every line logged so far has been written. Waits as long
   * as the sink stalls: a shutdown should use `close()`.
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#handOver();
    return this.#sink.flush();
  }

  /**
   * Flush and close the destination (stdout stays open). If the sink is
   * still stalled after `timeoutMs`, the close resolves anyway and a file's
   * queued lines are lost: a shutdown is never held up by its log reader.
   * Lines written after the close are counted as dropped.
   */
  close(timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#handOver();
    this.#closed = true;
    return this.#sink.close(timeoutMs);
  }

  readonly #handOverNow = (): void => {
    this.#handOverScheduled = false;
    this.#handOver();
  };

  #handOver(): void {
    const lines = this.#batchLines;
    if (lines === 0) return;
    const batch = this.#batch;
    // The sink keeps what it is given until written: it gets a copy of the
    // used part, and the batch buffer is reused. A fresh 64 KiB buffer per
    // hand-over instead measured 40-90 % more CPU per line (a few lines a
    // turn each paid for a whole buffer), and a small batch would pin all of
    // it while queued.
    const chunk = Buffer.allocUnsafe(batch.pos);
    batch.buf.copy(chunk, 0, 0, batch.pos);
    batch.pos = 0;
    // A buffer grown for one long line is not kept.
    batch.buf = this.#batchBuffer;
    this.#batchLines = 0;
    if (this.#sink.write(chunk)) this.#written += lines;
    else this.#drop(lines);
  }

  #drop(lines: number): void {
    this.#dropped += lines;
    this.#onDrop?.(lines);
  }

  readonly #sinkError = (err: Error): void => {
    if (this.#failing) return;
    this.#failing = true;
    this.#onError?.(err);
  };

  readonly #sinkWrote = (): void => {
    this.#failing = false;
  };
}
