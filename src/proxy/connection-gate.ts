/** Something the gate can start once there is room for it, or turn away. */
export interface Admittable {
  start(): void;
  /** Close it at once: over the limit with `--reject-over-limit`. */
  refuse(outcome: 'rejected'): void;
}

/**
 * The process-wide `--max-connections` limit. Over it, a new client waits
 * (paused, its bytes left in the kernel) until an open connection ends, as a
 * client of HAProxy waits in the listen backlog; nothing is read or
 * forwarded for it meanwhile. Waiting costs one entry in a queue.
 */
export class ConnectionGate {
  readonly #max: number;
  #active = 0;
  readonly #waiting: Admittable[] = [];
  #head = 0;
  readonly #admitted = new WeakSet<Admittable>();

  readonly #reject: boolean;

  /**
   * @param max 0 = unlimited
   * @param reject close clients over the limit at once instead of making them wait
   */
  constructor(max: number, reject = false) {
    this.#max = max;
    this.#reject = reject;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  admit(item: Admittable): void {
    if (this.#max === 0 || this.#active < this.#max) {
      this.#start(item);
    } else if (this.#reject) {
      item.refuse('rejected');
    } else {
      this.#waiting.push(item);
    }
  }

  /** An item ended; if it held a slot, hand the slot to the next waiting one. */
  release(item: Admittable): void {
    if (this.#admitted.delete(item)) {
      this.#active--;
    } else {
      // It ended while still waiting: drop it from the queue.
      const i = this.#waiting.indexOf(item, this.#head);
      if (i >= 0) this.#waiting.splice(i, 1);
      return;
    }
    while (this.#head < this.#waiting.length && (this.#max === 0 || this.#active < this.#max)) {
      const next = this.#waiting[this.#head] as Admittable;
      this.#head++;
      this.#start(next);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #start(item: Admittable): void {
    this.#active++;
    this.#admitted.add(item);
    item.start();
  }
}
