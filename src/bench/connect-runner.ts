import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BENCH_ERROR, errorKind } from './error-tally.ts';
import type { Pacer } from './pacer.ts';
import {
  ERROR_BACKOFF_MS,
  RoundState,
  type LiveCounters,
  type RoundResult,
  type RoundSettings,
} from './round.ts';
import {
  createWorkers,
  roundPayload,
  runPacedRound,
  type PacedRoundWorker,
} from './round-runner.ts';

/**
 * connect mode: every operation is a fresh connection that sends
 * `sizeBytes`, waits for the echo and closes (the client sends FIN first).
 * `connections` slots run at once. Two latencies are recorded from the
 * operation's start: until the TCP connection is established (`connectLatency`;
 * the kernel completes handshakes, so a proxy barely shows here) and until
 * the echo is back (`latency`), which includes the proxy's own connect to
 * its backend. With `--size 0` the echo is the peer's FIN.
 */
export async function runConnectRound(
  settings: RoundSettings,
  live: LiveCounters,
): Promise<RoundResult> {
  const state = new RoundState(settings, live);
  const payload = roundPayload(settings);
  const workers = createWorkers(settings, () => new ConnectWorker(state, payload));
  return runPacedRound(state, workers);
}

/** One slot: runs connection after connection, one at a time. */
class ConnectWorker implements PacedRoundWorker {
  /** Set when the round starts, before the first `begin`. */
  pacer: Pacer | undefined;
  readonly #state: RoundState;
  readonly #payload: Buffer;
  #socket: Socket | undefined;
  #intendedMs = 0;
  #received = 0;
  #echoed = false;
  #stopped = false;
  #backoff: NodeJS.Timeout | undefined;

  constructor(state: RoundState, payload: Buffer) {
    this.#state = state;
    this.#payload = payload;
  }

  begin(intendedMs: number): void {
    this.#intendedMs = intendedMs;
    this.#received = 0;
    this.#echoed = false;
    const { host, port } = this.#state.settings.target;
    const s = connect({ host, port, noDelay: true });
    this.#socket = s;
    s.setTimeout(this.#state.settings.timeoutMs);
    s.on('connect', () => {
      if (this.#socket !== s) return;
      this.#state.result.connectLatency.recordUs((performance.now() - this.#intendedMs) * 1000);
      if (this.#payload.length === 0) {
        s.end();
        return;
      }
      s.write(this.#payload);
      this.#state.sent(this.#payload.length);
    });
    s.on('data', (chunk: Buffer) => {
      if (this.#socket === s) this.#onData(s, chunk);
    });
    s.on('end', () => {
      if (this.#socket !== s || this.#echoed) return;
      if (this.#payload.length === 0) this.#echo();
      else this.#fail(s, BENCH_ERROR.shortReply);
    });
    s.on('timeout', () => this.#fail(s, BENCH_ERROR.timeout));
    s.on('error', (err) => this.#fail(s, errorKind(err)));
    s.on('close', () => {
      if (this.#socket !== s || this.#stopped) return;
      if (!this.#echoed) {
        this.#fail(s, BENCH_ERROR.closed);
        return;
      }
      this.#socket = undefined;
      this.pacer?.request(this);
    });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#backoff !== undefined) clearTimeout(this.#backoff);
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#state.workerStopped();
  }

  #onData(s: Socket, chunk: Buffer): void {
    this.#state.received(chunk.length);
    this.#received += chunk.length;
    if (this.#echoed || this.#received > this.#payload.length) {
      this.#fail(s, BENCH_ERROR.excessReply);
      return;
    }
    if (this.#received === this.#payload.length) {
      this.#echo();
      s.end();
    }
  }

  #echo(): void {
    this.#echoed = true;
    this.#state.completed(this.#intendedMs);
  }

  #fail(s: Socket, kind: string): void {
    if (this.#socket !== s || this.#stopped) return;
    this.#state.error(kind);
    this.#socket = undefined;
    s.destroy();
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.pacer?.request(this);
    }, ERROR_BACKOFF_MS);
  }
}
