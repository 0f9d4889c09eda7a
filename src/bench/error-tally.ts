import { errnoCode } from '../core/errors.ts';

/**
 * Error kinds the load generator names itself; everything else is counted
 * under the system error code (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, ...).
 */
export const BENCH_ERROR = {
  /** No connect or no full echo within `--timeout`. */
  timeout: 'timeout',
  /** The peer closed (FIN) before echoing everything sent. */
  shortReply: 'short_reply',
  /** The peer sent more bytes than were sent to it: not an echo server. */
  excessReply: 'excess_reply',
  /** The peer closed a stream-mode connection during the run. */
  closed: 'closed',
} as const;

/** Errors by kind. Every failed attempt is counted: a bench never hides an error. */
export class ErrorTally {
  readonly #counts = new Map<string, number>();
  #total = 0;

  get total(): number {
    return this.#total;
  }

  add(kind: string, count = 1): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + count);
    this.#total += count;
  }

  /** Count a thrown or emitted error under its system code, else its name. */
  addError(err: unknown): void {
    this.add(errorKind(err));
  }

  merge(other: ErrorTally): void {
    for (const [kind, n] of other.#counts) this.add(kind, n);
  }

  /** Kinds sorted by count (most first), then name, for stable reports. */
  byKind(): Record<string, number> {
    const entries = [...this.#counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return Object.fromEntries(entries);
  }
}

export function errorKind(err: unknown): string {
  const code = errnoCode(err);
  if (code !== undefined) return code;
  return err instanceof Error ? err.name : 'error';
}
