import type { Endpoint } from '../../src/core/endpoint.ts';
import type { DiscoveryErrorInfo, DiscoverySink } from '../../src/discovery/discovery-source.ts';
import { PushSource } from '../../src/discovery/push-source.ts';

/**
 * The proxy's own push source (src/discovery/push-source.ts) with what a
 * test also needs: pushing endpoints without building a snapshot, reporting
 * a failed refresh to the consumer, and counting starts and stops.
 */
export class TestPushSource extends PushSource {
  #sink: DiscoverySink | undefined;
  starts = 0;
  stops = 0;

  constructor(kind = 'push', uri = 'push://test') {
    super(kind, uri);
  }

  get started(): boolean {
    return this.#sink !== undefined;
  }

  override start(sink: DiscoverySink): void {
    this.#sink = sink;
    this.starts++;
    super.start(sink);
  }

  override stop(): void {
    this.#sink = undefined;
    this.stops++;
    super.stop();
  }

  /** Deliver these endpoints as a full view (kept for `start` if not started). */
  pushEndpoints(...endpoints: Endpoint[]): void {
    this.push({ endpoints, updatedAtMs: 1_700_000_000_000 });
  }

  /** Report a failed refresh to the consumer (the last snapshot stays in force). */
  fail(reason: string, err: unknown = new Error(reason), info?: DiscoveryErrorInfo): void {
    if (this.#sink === undefined) throw new Error('TestPushSource.fail before start');
    this.#sink.onError(reason, err, info);
  }
}
