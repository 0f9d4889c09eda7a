import type { SharedCount } from '../backends/backend.ts';

/** Cells per listener: 64 KiB of shared memory, far more backends than one listener has at once. */
export const CELLS_PER_LISTENER = 16_384;

/**
 * The connection counts of one listener's backends, in memory every worker
 * thread shares, so least-connections and `--max-connections-per-backend`
 * see the whole process's load rather than one thread's. The main thread
 * gives each backend id a cell the first time discovery lists it and keeps it
 * for the life of the process (a pod that comes back gets its old cell);
 * workers update cells with atomic adds and only look ids up.
 */
export class SharedCounts {
  readonly buffer: SharedArrayBuffer;
  readonly counts: Int32Array;
  readonly #cells = new Map<string, number>();
  #full = false;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(CELLS_PER_LISTENER * 4)) {
    this.buffer = buffer;
    this.counts = new Int32Array(buffer);
  }

  /**
   * The cell of `id`, given one if it has none (main thread). Null once every
   * cell is taken: that backend is then counted per thread only.
   */
  assign(id: string): SharedCount | null {
    let index = this.#cells.get(id);
    if (index === undefined) {
      if (this.#cells.size >= this.counts.length) {
        this.#full = true;
        return null;
      }
      index = this.#cells.size;
      this.#cells.set(id, index);
    }
    return { counts: this.counts, index };
  }

  /** True once some backend found no free cell. */
  get full(): boolean {
    return this.#full;
  }

  /** Cells handed out so far, for a worker to learn (id, cell) pairs. */
  entries(): [string, number][] {
    return [...this.#cells];
  }

  /** Learn cells the main thread assigned (worker side). */
  learn(entries: readonly (readonly [string, number])[]): void {
    for (const [id, index] of entries) this.#cells.set(id, index);
  }

  /** The cell of `id` if the main thread gave it one (worker side). */
  lookup(id: string): SharedCount | null {
    const index = this.#cells.get(id);
    return index === undefined ? null : { counts: this.counts, index };
  }
}
