import { connect, type Socket } from 'node:net';
import { BENCH_ERROR, errorKind } from './error-tally.ts';
import type { Pacer } from './pacer.ts';
import {
  ERROR_BACKOFF_MS,
  RoundState,
  type LiveCounters,
  type RoundResult,
  type RoundSettings,
} from './round.ts';
import { openWorkers, roundPayload, runPacedRound, type PacedRoundWorker } from './round-runner.ts';

/**
 * rr mode: each connection sends `sizeBytes`, waits for the whole echo and
 * records the round trip, over and over (closed loop) or at a fixed total
 * rate (open loop, see `OpenLoopPacer`). Connections are opened before the
 * clock starts, so a round measures exchanges rather than handshakes.
 */
export async function runRrRound(
  settings: RoundSettings,
  live: LiveCounters,
): Promise<RoundResult> {
  const state = new RoundState(settings, live);
  const payload = roundPayload(settings);
  const workers = await openWorkers(settings, () => new RrWorker(state, payload));
  return runPacedRound(state, workers);
}

/** One rr connection: at most one exchange in flight; reconnects after errors. */
class RrWorker implements PacedRoundWorker {
  pacer: Pacer | undefined;
  readonly #state: RoundState;
  readonly #payload: Buffer;
  #socket: Socket | undefined;
  #connected = false;
  #inFlight = false;
  /** Echo bytes still expected for the exchange in flight. */
  #pending = 0;
  #intendedMs = 0;
  #stopped = false;
  #backoff: NodeJS.Timeout | undefined;
  #opened: (() => void) | undefined;

  constructor(state: RoundState, payload: Buffer) {
    this.#state = state;
    this.#payload = payload;
  }

  /** Connect ahead of the round; resolves when connected or failed (failures are counted). */
  open(): Promise<void> {
    return new Promise((resolve) => {
      this.#opened = resolve;
      this.#connect();
    });
  }

  begin(intendedMs: number): void {
    this.#intendedMs = intendedMs;
    this.#inFlight = true;
    this.#pending = this.#payload.length;
    if (this.#socket === undefined) this.#connect();
    else if (this.#connected) this.#send(this.#socket);
    // Still connecting: the 'connect' handler sends.
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#backoff !== undefined) clearTimeout(this.#backoff);
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#settleOpen();
    this.#state.workerStopped();
  }

  #connect(): void {
    const { host, port } = this.#state.settings.target;
    const s = connect({ host, port, noDelay: true });
    this.#socket = s;
    this.#connected = false;
    s.setTimeout(this.#state.settings.timeoutMs);
    s.on('connect', () => {
      if (this.#socket !== s) return;
      this.#connected = true;
      this.#settleOpen();
      if (this.#inFlight) this.#send(s);
    });
    s.on('data', (chunk: Buffer) => {
      if (this.#socket === s) this.#onData(s, chunk);
    });
    s.on('timeout', () => {
      // An idle connection (open loop, waiting for its next turn) is not late.
      if (this.#inFlight || !this.#connected) this.#fail(s, BENCH_ERROR.timeout);
    });
    s.on('end', () => this.#fail(s, this.#inFlight ? BENCH_ERROR.shortReply : BENCH_ERROR.closed));
    s.on('error', (err) => this.#fail(s, errorKind(err)));
    s.on('close', () => this.#fail(s, BENCH_ERROR.closed));
  }

  #send(s: Socket): void {
    s.write(this.#payload);
    this.#state.sent(this.#payload.length);
  }

  #onData(s: Socket, chunk: Buffer): void {
    this.#state.received(chunk.length);
    this.#pending -= chunk.length;
    if (!this.#inFlight || this.#pending < 0) {
      this.#fail(s, BENCH_ERROR.excessReply);
      return;
    }
    if (this.#pending > 0) return;
    this.#inFlight = false;
    this.#state.completed(this.#intendedMs);
    this.pacer?.request(this);
  }

  #fail(s: Socket, kind: string): void {
    if (this.#socket !== s || this.#stopped) return;
    this.#state.error(kind);
    this.#socket = undefined;
    this.#connected = false;
    s.destroy();
    this.#settleOpen();
    // An idle worker is parked in the pacer and reconnects on its next turn;
    // only a worker whose exchange just failed asks for another, after a pause.
    if (!this.#inFlight) return;
    this.#inFlight = false;
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.pacer?.request(this);
    }, ERROR_BACKOFF_MS);
  }

  #settleOpen(): void {
    const opened = this.#opened;
    this.#opened = undefined;
    opened?.();
  }
}
