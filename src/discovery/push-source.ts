import type { EndpointSnapshot } from '../core/endpoint.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from './discovery-source.ts';

/**
 * A discovery source whose snapshots its owner pushes in, rather than one
 * that finds them itself: a worker thread's view of what the main thread
 * discovered, or one pod's slice of a per-pod listener's view. The last
 * snapshot is kept, so a consumer that starts late (a route built by a
 * reload) gets the current view at once.
 */
export class PushSource implements DiscoverySource {
  readonly kind: string;
  readonly uri: string;
  readonly #status: DiscoveryStatus | undefined;
  #sink: DiscoverySink | undefined;
  #last: EndpointSnapshot | undefined;
  #onStop: (() => void) | undefined;

  /**
   * @param kind the `source` label its snapshots are counted under (the kind of the source they come from).
   * @param status what /backends shows about where the snapshots come from.
   * @param onStop called once the consumer stops listening (the owner may forget this source).
   */
  constructor(
    kind: string,
    uri: string,
    options: { readonly status?: DiscoveryStatus; readonly onStop?: () => void } = {},
  ) {
    this.kind = kind;
    this.uri = uri;
    this.#status = options.status;
    this.#onStop = options.onStop;
  }

  /** The kind of source a backends URI names (`dns://...` → `dns`). */
  static kindOf(uri: string): string {
    return uri.slice(0, Math.max(0, uri.indexOf(':')));
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    if (this.#last !== undefined) sink.onSnapshot(this.#last);
  }

  /** A new view: delivered now if started, else kept for `start`. */
  push(snapshot: EndpointSnapshot): void {
    this.#last = snapshot;
    this.#sink?.onSnapshot(snapshot);
  }

  /** The last snapshot pushed, if any. */
  get last(): EndpointSnapshot | undefined {
    return this.#last;
  }

  stop(): void {
    this.#sink = undefined;
    const onStop = this.#onStop;
    this.#onStop = undefined;
    onStop?.();
  }

  status(): DiscoveryStatus {
    return this.#status ?? {};
  }
}
