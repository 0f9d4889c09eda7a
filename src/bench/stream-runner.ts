import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BENCH_ERROR, errorKind } from './error-tally.ts';
import {
  ERROR_BACKOFF_MS,
  MAX_OPERATIONS_PER_ROUND,
  RoundState,
  waitBounded,
  type LiveCounters,
  type RoundResult,
  type RoundSettings,
} from './round.ts';
import { openWorkers, ROUND_GRACE_MS, roundPayload, stopWorkers } from './round-runner.ts';

/**
 * Writes per event-loop turn before yielding, so reading the echo (and the
 * other connections) keeps up while the kernel still accepts data.
 */
const MAX_WRITES_PER_TURN = 16;

/**
 * stream mode: each connection writes `sizeBytes` chunks as fast as
 * backpressure allows and reads the echo; the result is bytes per second
 * each way. Sent bytes count once the kernel has taken them; connections
 * are reset at the deadline rather than drained, since draining megabytes
 * of buffered echo would measure the buffers.
 */
export async function runStreamRound(
  settings: RoundSettings,
  live: LiveCounters,
): Promise<RoundResult> {
  const state = new RoundState(settings, live);
  const payload = roundPayload(settings);
  const workers = await openWorkers(settings, () => new StreamWorker(state, payload));

  const startMs = performance.now();
  const deadlineMs = startMs + settings.durationMs;
  for (const w of workers) {
    state.workerStarted();
    w.run(deadlineMs);
  }
  const stopAll = (): void => stopWorkers(workers);
  const deadline = setTimeout(stopAll, settings.durationMs);
  await waitBounded(state, settings.durationMs + ROUND_GRACE_MS, stopAll);
  clearTimeout(deadline);

  const result = state.result;
  result.elapsedMs = Math.min(performance.now() - startMs, settings.durationMs);
  return result;
}

class StreamWorker {
  readonly #state: RoundState;
  readonly #payload: Buffer;
  #socket: Socket | undefined;
  #connected = false;
  #started = false;
  #running = false;
  #stopped = false;
  #deadlineMs = 0;
  #writes = 0;
  #backoff: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #opened: (() => void) | undefined;

  constructor(state: RoundState, payload: Buffer) {
    this.#state = state;
    this.#payload = payload;
  }

  open(): Promise<void> {
    return new Promise((resolve) => {
      this.#opened = resolve;
      this.#connect();
    });
  }

  run(deadlineMs: number): void {
    this.#deadlineMs = deadlineMs;
    this.#started = true;
    this.#running = true;
    if (this.#socket === undefined) this.#connect();
    else if (this.#connected) this.#pump();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    if (this.#backoff !== undefined) clearTimeout(this.#backoff);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#settleOpen();
    if (this.#started) this.#state.workerStopped();
  }

  #connect(): void {
    const { host, port } = this.#state.settings.target;
    const s = connect({ host, port, noDelay: true });
    this.#socket = s;
    this.#connected = false;
    // Only the connect is timed: a bulk transfer may legitimately stall on backpressure.
    s.setTimeout(this.#state.settings.timeoutMs);
    s.on('connect', () => {
      if (this.#socket !== s) return;
      this.#connected = true;
      s.setTimeout(0);
      this.#settleOpen();
      if (this.#running) this.#pump();
    });
    s.on('data', (chunk: Buffer) => {
      if (this.#socket === s && this.#running) this.#state.received(chunk.length);
    });
    s.on('drain', () => {
      if (this.#socket === s) this.#pump();
    });
    s.on('timeout', () => this.#fail(s, BENCH_ERROR.timeout));
    s.on('end', () => this.#fail(s, BENCH_ERROR.closed));
    s.on('error', (err) => this.#fail(s, errorKind(err)));
    s.on('close', () => this.#fail(s, BENCH_ERROR.closed));
  }

  #pump = (): void => {
    this.#immediate = undefined;
    const s = this.#socket;
    if (s === undefined || !this.#running || !this.#connected) return;
    for (let i = 0; i < MAX_WRITES_PER_TURN; i++) {
      if (this.#writes >= MAX_OPERATIONS_PER_ROUND || performance.now() >= this.#deadlineMs) return;
      this.#writes++;
      if (!s.write(this.#payload, this.#onWritten)) return;
    }
    this.#immediate = setImmediate(this.#pump);
  };

  #onWritten = (err?: Error | null): void => {
    if (err == null && this.#running) this.#state.sent(this.#payload.length);
  };

  #fail(s: Socket, kind: string): void {
    if (this.#socket !== s || this.#stopped) return;
    this.#state.error(kind);
    this.#socket = undefined;
    this.#connected = false;
    s.destroy();
    this.#settleOpen();
    if (!this.#running) return;
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      if (this.#running && performance.now() < this.#deadlineMs) this.#connect();
    }, ERROR_BACKOFF_MS);
  }

  #settleOpen(): void {
    const opened = this.#opened;
    this.#opened = undefined;
    opened?.();
  }
}
