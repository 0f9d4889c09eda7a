import { systemClock, type Clock } from './clock.ts';
import type { LogFields, Logger } from './logger.ts';

/**
 * Errors that say this process (or this machine) ran out of something —
 * file descriptors, socket buffers, memory — not that a backend is broken.
 * A connect or health check that fails with one of these says nothing about
 * the backend: it must never count against it (no ejection, no failed check,
 * no panic, no close-on-down).
 */
const LOCAL_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** The metric `kind` of a local resource error (`emfile`, ...), or undefined if `err` is not one. */
export function localErrorKind(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && LOCAL_CODES.has(code) ? code.toLowerCase() : undefined;
}

/**
 * A warning that is logged at most once per `intervalMs`, with how many were
 * suppressed since the last one: a flood of accept or fd errors must not
 * turn into a flood of log lines (which would itself need file descriptors
 * and CPU just when both are short).
 */
export class RateLimitedWarning {
  readonly #logger: Logger;
  readonly #msg: string;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #lastMs = -Infinity;
  #suppressed = 0;

  constructor(logger: Logger, msg: string, intervalMs = 10_000, clock: Clock = systemClock) {
    this.#logger = logger;
    this.#msg = msg;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  warn(fields: LogFields = {}): void {
    const now = this.#clock.nowMs();
    if (now - this.#lastMs < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#lastMs = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.warn(this.#msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
