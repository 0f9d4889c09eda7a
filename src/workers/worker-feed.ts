import type { SharedCount } from '../backends/backend.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import type { DiscoverySink, DiscoverySource } from '../discovery/discovery-source.ts';
import type { ListenerFeedState } from './messages.ts';
import { SharedCounts } from './shared-counts.ts';
import type { WorkerFeed } from './thread-link.ts';

interface ListenerFeed {
  readonly counts: SharedCounts;
  snapshot: EndpointSnapshot | null;
  readonly sinks: Set<DiscoverySink>;
}

/**
 * A worker thread's view of discovery: the snapshots the main thread
 * forwards, per listener, handed to whichever routes of that listener are
 * running (a reload starts a new one, which gets the latest snapshot at once).
 */
export class MainThreadFeed implements WorkerFeed {
  readonly #listeners = new Map<string, ListenerFeed>();
  /** Routes started before their listener's first snapshot reached this thread. */
  readonly #waiting = new Map<string, Set<DiscoverySink>>();

  constructor(initial: Readonly<Record<string, ListenerFeedState>>) {
    for (const [name, state] of Object.entries(initial)) {
      const feed = this.#feed(name, state.counts);
      feed.counts.learn(state.cells);
      feed.snapshot = state.snapshot;
    }
  }

  #feed(name: string, buffer: SharedArrayBuffer): ListenerFeed {
    let feed = this.#listeners.get(name);
    if (feed === undefined) {
      feed = {
        counts: new SharedCounts(buffer),
        snapshot: null,
        sinks: this.#waiting.get(name) ?? new Set(),
      };
      this.#waiting.delete(name);
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
    const feed = this.#feed(listener, counts);
    feed.counts.learn(cells);
    feed.snapshot = snapshot;
    for (const sink of feed.sinks) sink.onSnapshot(snapshot);
  }

  sharedCount(listener: string, id: string): SharedCount | null {
    return this.#listeners.get(listener)?.counts.lookup(id) ?? null;
  }

  sourceFor(listener: string, uri: string): DiscoverySource {
    const kind = uri.slice(0, Math.max(0, uri.indexOf(':')));
    let sink: DiscoverySink | undefined;
    return {
      kind,
      uri,
      start: (s) => {
        sink = s;
        // The listener may be new (a reload): its counts arrive with its first snapshot.
        const feed = this.#listeners.get(listener);
        if (feed === undefined) {
          this.#pending(listener).add(s);
          return;
        }
        feed.sinks.add(s);
        if (feed.snapshot !== null) s.onSnapshot(feed.snapshot);
      },
      stop: () => {
        if (sink === undefined) return;
        this.#listeners.get(listener)?.sinks.delete(sink);
        this.#waiting.get(listener)?.delete(sink);
      },
      status: () => ({ fedBy: 'main thread' }),
    };
  }

  #pending(listener: string): Set<DiscoverySink> {
    let set = this.#waiting.get(listener);
    if (set === undefined) {
      set = new Set();
      this.#waiting.set(listener, set);
    }
    return set;
  }
}
