import { readFileSync, readdirSync } from 'node:fs';
import { openDataSockets } from './socket-impl.ts';
import { systemClock, type Clock } from '../core/clock.ts';

/** How stale the count of open fds may be before it is taken again. */
const SAMPLE_EVERY_MS = 1000;
/** At the limit, a fresh count is taken at most this often (a flood must not cost a readdir per accept). */
const RESAMPLE_MIN_MS = 100;

/**
 * The file descriptor budget of the data path: a new client is taken on
 * only while the open fds plus the two it will need (client and upstream)
 * stay below RLIMIT_NOFILE minus a reserve. The reserve keeps the admin
 * endpoint (/healthz for the kubelet), health checks, DNS and log files
 * working when clients would otherwise take every fd — and keeps accept(2)
 * from ever meeting EMFILE, where libuv closes connections unseen.
 *
 * The count of open fds is taken from /proc/self/fd once a second (and at
 * most every 100 ms when near the limit), and between two counts moved by
 * the data path's own sockets (RawSocket and NetStream opens and closes), so an accept
 * costs no system call. With worker threads the count is per process but
 * each thread only sees its own sockets move between counts.
 */
export class FdBudget {
  /** RLIMIT_NOFILE (soft). */
  readonly limit: number;
  /** Fds kept free for everything but client connections. */
  readonly reserve: number;
  readonly #count: () => number;
  readonly #sockets: () => number;
  readonly #clock: Clock;
  #sampled = 0;
  #socketsAtSample = 0;
  #sampledAtMs = -Infinity;

  constructor(
    limit: number,
    reserve: number,
    count: () => number = countOpenFds,
    sockets: () => number = openDataSockets,
    clock: Clock = systemClock,
  ) {
    this.limit = limit;
    this.reserve = reserve;
    this.#count = count;
    this.#sockets = sockets;
    this.#clock = clock;
  }

  /**
   * The budget of this process: RLIMIT_NOFILE from /proc/self/limits and a
   * reserve of `wanted` fds, at most a quarter of the limit (a small limit
   * still serves clients). Null where /proc is missing or the limit is unlimited.
   */
  static forThisProcess(wanted: number): FdBudget | null {
    const limit = readFdLimit();
    if (limit === undefined) return null;
    return new FdBudget(limit, Math.min(wanted, Math.floor(limit / 4)));
  }

  /** Open fds now, as far as this budget knows. */
  get estimate(): number {
    return this.#sampled + (this.#sockets() - this.#socketsAtSample);
  }

  /** Room for one more client and its upstream socket, keeping the reserve. */
  roomForClient(): boolean {
    const now = this.#clock.nowMs();
    if (now - this.#sampledAtMs >= SAMPLE_EVERY_MS) this.#sample(now);
    if (this.#fits()) return true;
    // Near the limit the estimate may be stale (fds closed since): count again.
    if (now - this.#sampledAtMs < RESAMPLE_MIN_MS) return false;
    this.#sample(now);
    return this.#fits();
  }

  #fits(): boolean {
    return this.estimate + 2 + this.reserve <= this.limit;
  }

  #sample(now: number): void {
    const n = this.#count();
    if (n < 0) return;
    this.#sampled = n;
    this.#socketsAtSample = this.#sockets();
    this.#sampledAtMs = now;
  }
}

/** Open fds of this process (minus the one reading the directory), or -1. */
function countOpenFds(): number {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return -1;
  }
}

/** The soft RLIMIT_NOFILE, from /proc/self/limits (Linux), or undefined (unknown or unlimited). */
export function readFdLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
