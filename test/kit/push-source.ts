import type { Endpoint, EndpointSnapshot } from '../../src/core/endpoint.ts';
import type {
  DiscoveryErrorInfo,
  DiscoverySink,
  DiscoverySource,
} from '../../src/discovery/discovery-source.ts';

/**
 * A discovery source whose snapshots and failures the test pushes: what a
 * consumer (pool, upstream, route) does with each one, without DNS or a
 * Kubernetes API behind it. Pushes before `start` are kept and delivered on start,
 * as a real source delivers its first answer once it has one.
 */
export class PushSource implements DiscoverySource {
  readonly kind: string;
  readonly uri: string;
  #sink: DiscoverySink | undefined;
  #pending: EndpointSnapshot | undefined;
  starts = 0;
  stops = 0;

  constructor(kind = 'push', uri = 'push://test') {
    this.kind = kind;
    this.uri = uri;
  }

  get started(): boolean {
    return this.#sink !== undefined;
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    this.starts++;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) sink.onSnapshot(pending);
  }

  stop(): void {
    this.#sink = undefined;
    this.stops++;
  }

  /** Deliver these endpoints as a full view (held until start if not started). */
  push(...endpoints: Endpoint[]): void {
    this.pushSnapshot({ endpoints, updatedAtMs: 1_700_000_000_000 });
  }

  pushSnapshot(snapshot: EndpointSnapshot): void {
    if (this.#sink === undefined) this.#pending = snapshot;
    else this.#sink.onSnapshot(snapshot);
  }

  /** Report a failed refresh to the consumer (the last snapshot stays in force). */
  fail(reason: string, err: unknown = new Error(reason), info?: DiscoveryErrorInfo): void {
    if (this.#sink === undefined) throw new Error('PushSource.fail before start');
    this.#sink.onError(reason, err, info);
  }
}
