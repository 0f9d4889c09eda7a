import type { FdBudget } from './fd-budget.ts';

/** Something the gate can let through once there is room for it. */
export interface Admittable {
  /** A slot freed up for it while it waited. */
  granted(): void;
}

/** What `ConnectionGate.admit` decided. */
export type SlotResult = 'granted' | 'waiting' | 'full';

/**
 * The process-wide `--max-connections` limit. Over it, a new client waits
 * in a bounded queue — at most `--max-connections` clients, each for at most
 * its listener's `--queue-timeout` (the session keeps that deadline) — and
 * its FIN or RST is seen at once (the session reads it while it waits), so
 * a client that gives up frees its place and its file descriptor. Over the
 * queue's bound, or with `--reject-over-limit`, it is refused at once. This
 * is HAProxy's `maxconn` with its listen backlog made visible: the client
 * waits, but never unseen and never forever.
 *
 * The gate also carries the process's file descriptor budget (fd-budget.ts):
 * a listener asks it before it takes on a new client.
 */
export class ConnectionGate {
  readonly #max: number;
  readonly #maxWaiting: number;
  #active = 0;
  readonly #waiting: Admittable[] = [];
  #head = 0;
  readonly #admitted = new WeakSet<Admittable>();
  readonly #reject: boolean;
  /** The fd budget, or null when unknown (no /proc) or not wanted (tests). */
  readonly fds: FdBudget | null;

  /**
   * @param max 0 = unlimited
   * @param reject close clients over the limit at once instead of making them wait
   * @param fds the process's file descriptor budget, if any
   */
  constructor(max: number, reject = false, fds: FdBudget | null = null) {
    this.#max = max;
    this.#maxWaiting = max;
    this.#reject = reject;
    this.fds = fds;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Whether the fd budget has room for one more client (and its upstream socket). */
  fdRoom(): boolean {
    return this.fds === null || this.fds.roomForClient();
  }

  admit(item: Admittable): SlotResult {
    if (this.#max === 0 || this.#active < this.#max) {
      this.#active++;
      this.#admitted.add(item);
      return 'granted';
    }
    if (this.#reject || this.waiting >= this.#maxWaiting) return 'full';
    this.#waiting.push(item);
    return 'waiting';
  }

  /** An item ended; if it held a slot, hand the slot to the next waiting one. */
  release(item: Admittable): void {
    if (this.#admitted.delete(item)) {
      this.#active--;
    } else {
      // It ended while still waiting (gave up, timed out): drop it from the queue.
      const i = this.#waiting.indexOf(item, this.#head);
      if (i >= 0) this.#waiting.splice(i, 1);
      return;
    }
    while (this.#head < this.#waiting.length && (this.#max === 0 || this.#active < this.#max)) {
      const next = this.#waiting[this.#head] as Admittable;
      this.#head++;
      this.#active++;
      this.#admitted.add(next);
      next.granted();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
