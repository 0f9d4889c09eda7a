import { formatHostPort } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import type { Endpoint } from '../core/endpoint.ts';
import type { StaticBackendsSpec } from '../config/backends-uri.ts';
import type { DiscoverySink, DiscoverySource } from './discovery-source.ts';

/** A fixed list of backends from `static://`; one snapshot at start. */
export class StaticSource implements DiscoverySource {
  readonly kind = 'static';
  readonly uri: string;
  readonly #endpoints: readonly Endpoint[];
  readonly #clock: Clock;

  constructor(spec: StaticBackendsSpec, clock: Clock) {
    this.uri = spec.uri;
    this.#clock = clock;
    this.#endpoints = spec.backends.map((b) => ({
      id: formatHostPort(b.host, b.port),
      address: b.host,
      port: b.port,
      weight: b.weight,
      state: 'ready' as const,
    }));
  }

  start(sink: DiscoverySink): void {
    sink.onSnapshot({ endpoints: this.#endpoints, updatedAtMs: this.#clock.wallMs() });
  }

  stop(): void {
    // Nothing runs in the background.
  }
}
