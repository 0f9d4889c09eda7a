import type { EndpointSnapshot } from '../core/endpoint.ts';

/** Where a discovery source delivers what it learns. */
export interface DiscoverySink {
  /** A full new view of the endpoints. Applied in the same event-loop turn. */
  onSnapshot(snapshot: EndpointSnapshot): void;
  /**
   * A failed refresh; the last snapshot stays in force. With `info.partial`,
   * only part of a refresh failed (one DNS family refused while the other
   * answered): the source applied what answered and logged the failure itself,
   * rate-limited, so the sink only counts it.
   */
  onError(reason: string, err: unknown, info?: DiscoveryErrorInfo): void;
  /** A configuration problem only the source could see (e.g. an ambiguous port): stop with exit 2. */
  onFatal?(err: Error): void;
  /** One upstream peer of the source (a Redis sentinel) failed; the source goes on with the others. */
  onPeerError?(peer: string, reason: string): void;
}

export interface DiscoveryErrorInfo {
  readonly partial: boolean;
}

/** What a source reports about itself in /backends (JSON values only). */
export type DiscoveryStatus = Readonly<Record<string, string | number | boolean | null>>;

/**
 * A source of endpoint-set snapshots (static list, DNS, EndpointSlices).
 * The proxy never knows which kind it has.
 */
export interface DiscoverySource {
  /** `static`, `dns`, `srv`, `k8s`, `sentinel`: the `source` label of discovery metrics. */
  readonly kind: string;
  /** The URI it was made from, for /backends. */
  readonly uri: string;
  /** Asynchronous preparation before the listener binds (load libraries, credentials); may throw ConfigError. */
  init?(): Promise<void>;
  start(sink: DiscoverySink): void;
  stop(): void;
  /** Source-specific state for /backends (last refresh, errors, ...). */
  status?(): DiscoveryStatus;
}
