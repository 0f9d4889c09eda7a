import type { ConnectOutcomes } from '../backends/backend-pool.ts';
import type { SharedCount } from '../backends/backend.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import { PushSource } from '../discovery/push-source.ts';
import type { UpstreamFeed } from '../upstream/thread-link.ts';
import type { ListenerFeedState } from './messages.ts';
import { SharedCounts } from './shared-counts.ts';

interface ListenerFeed {
  /** Absent until the listener's first snapshot brings its shared counts. */
  counts: SharedCounts | undefined;
  snapshot: EndpointSnapshot | null;
  /** The sources of this listener's running upstreams (a reload adds one, the retired one leaves). */
  readonly sources: Set<PushSource>;
}

/**
 * A worker thread's view of discovery: the snapshots the main thread
 * forwards, per listener, pushed into whichever upstreams of that listener
 * are running (a reload starts a new one, which gets the latest snapshot at
 * once).
 */
export class MainThreadFeed implements UpstreamFeed {
  readonly #listeners = new Map<string, ListenerFeed>();
  readonly #report: (listener: string, id: string, ok: boolean) => void;

  /** @param report passes a connect outcome to the main thread's outlier detection. */
  constructor(
    initial: Readonly<Record<string, ListenerFeedState>>,
    report: (listener: string, id: string, ok: boolean) => void,
  ) {
    this.#report = report;
    for (const [name, state] of Object.entries(initial)) {
      const feed = this.#feed(name);
      feed.counts = new SharedCounts(state.counts);
      feed.counts.learn(state.cells);
      feed.snapshot = state.snapshot;
    }
  }

  #feed(name: string): ListenerFeed {
    let feed = this.#listeners.get(name);
    if (feed === undefined) {
      feed = { counts: undefined, snapshot: null, sources: new Set() };
      this.#listeners.set(name, feed);
    }
    return feed;
  }

  /** A snapshot from the main thread: learn its cells, then deliver it. */
  deliver(
    listener: string,
    snapshot: EndpointSnapshot,
    counts: SharedArrayBuffer,
    cells: readonly (readonly [string, number])[],
  ): void {
    const feed = this.#feed(listener);
    feed.counts ??= new SharedCounts(counts);
    feed.counts.learn(cells);
    feed.snapshot = snapshot;
    for (const source of feed.sources) source.push(snapshot);
  }

  sharedCount(listener: string, id: string): SharedCount | null {
    return this.#listeners.get(listener)?.counts?.lookup(id) ?? null;
  }

  /**
   * Every failure is reported; a success only when it ends a streak of
   * failures (in any thread, read from shared memory), so a healthy backend
   * costs no message per connection.
   */
  connectOutcomes(listener: string): ConnectOutcomes {
    return {
      failed: (b) => {
        const feed = this.#listeners.get(listener);
        const cell = feed?.counts?.lookup(b.id);
        if (cell !== undefined && cell !== null) feed?.counts?.failed(cell.index);
        this.#report(listener, b.id, false);
      },
      succeeded: (b) => {
        const feed = this.#listeners.get(listener);
        const cell = feed?.counts?.lookup(b.id);
        // Without a cell (none left), every success is reported.
        if (cell === undefined || cell === null || feed?.counts?.succeeded(cell.index) === true)
          this.#report(listener, b.id, true);
      },
    };
  }

  sourceFor(listener: string, uri: string): DiscoverySource {
    const feed = this.#feed(listener);
    const source = new PushSource(PushSource.kindOf(uri), uri, {
      status: { fedBy: 'main thread' },
      onStop: () => feed.sources.delete(source),
    });
    // The listener may be new (a reload): its snapshot and counts arrive with its first delivery.
    if (feed.snapshot !== null) source.push(feed.snapshot);
    feed.sources.add(source);
    return source;
  }
}
