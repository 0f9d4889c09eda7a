import type { Backend } from '../../src/backends/backend.ts';
import type { Balancer, PickContext } from '../../src/balancing/balancer.ts';

/**
 * A balancer that remembers what the pool gave it and always picks the first
 * candidate, so a pool test can assert the candidate sets and close calls.
 */
export class RecordingBalancer implements Balancer {
  readonly strategy = 'round-robin' as const;
  candidates: readonly Backend[] = [];
  /** One entry per `update`: id → effective weight at the moment it was handed over. */
  readonly history: Map<string, number>[] = [];
  /** Ids passed to `onClose`, in order. */
  readonly closed: string[] = [];
  /** What the data path reported through `onConnect` and `onFirstByte`. */
  readonly observed: string[] = [];

  get updates(): number {
    return this.history.length;
  }

  update(candidates: readonly Backend[]): void {
    this.candidates = candidates;
    this.history.push(new Map(candidates.map((b) => [b.id, b.weight])));
  }

  pick(_ctx: PickContext): Backend | undefined {
    return this.candidates[0];
  }

  onClose(backend: Backend): void {
    this.closed.push(backend.id);
  }

  onConnect(backend: Backend, ms: number): void {
    this.observed.push(`connect ${backend.id} ${ms}`);
  }

  onFirstByte(backend: Backend, ms: number): void {
    this.observed.push(`first byte ${backend.id} ${ms}`);
  }
}
