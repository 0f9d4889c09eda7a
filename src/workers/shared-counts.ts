import type { SharedCount } from '../backends/backend.ts';

/** Cells per listener: far more backends than one listener has at once. */
export const CELLS_PER_LISTENER = 16_384;
/** Bytes per listener: a connection count and a connect-failure streak per cell (128 KiB). */
const BYTES_PER_LISTENER = CELLS_PER_LISTENER * 4 * 2;

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
  /**
   * Per cell, connect failures since the last success, anywhere in the
   * process: non-zero tells a worker whose connect succeeds that the main
   * thread's outlier detection must hear of it (see worker-feed.ts).
   */
  readonly streaks: Int32Array;
  readonly #cells = new Map<string, number>();
  #full = false;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES_PER_LISTENER)) {
    this.buffer = buffer;
    // The first half counts connections, the second half holds the streaks.
    const cells = buffer.byteLength / 8;
    this.counts = new Int32Array(buffer, 0, cells);
    this.streaks = new Int32Array(buffer, cells * 4, cells);
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

  /** A connect to the backend of `cell` failed: its streak grows (worker side). */
  failed(cell: number): void {
    Atomics.add(this.streaks, cell, 1);
  }

  /** A connect succeeded: true if a streak was running (and is now over), so the main thread must hear of it. */
  succeeded(cell: number): boolean {
    return Atomics.load(this.streaks, cell) !== 0 && Atomics.exchange(this.streaks, cell, 0) !== 0;
  }

  /** The backend of `id` was ejected: its streak starts over (main side). */
  resetStreak(id: string): void {
    const index = this.#cells.get(id);
    if (index !== undefined) Atomics.store(this.streaks, index, 0);
  }

  /** The cell of `id` if the main thread gave it one (worker side). */
  lookup(id: string): SharedCount | null {
    const index = this.#cells.get(id);
    return index === undefined ? null : { counts: this.counts, index };
  }
}
