/**
 * What discovery knows about one backend. Immutable: a discovery source
 * emits a fresh snapshot when anything changes. Runtime state (active
 * connections, health, latency) lives beside it in `Backend`, never in it.
 */
export type EndpointState =
  /** Serving and not terminating: gets new connections. */
  | 'ready'
  /** Serving but terminating (KEP-1669): used only when no ready endpoint exists. */
  | 'draining'
  /** Not serving: no new connections, open ones continue. */
  | 'not-serving';

export interface Endpoint {
  /**
   * Stable identity: pod name, hostname or DNS name when known, else
   * `address:port`. Sticky hashing and metrics labels use it, so a pod that
   * returns with a new IP keeps its clients.
   */
  readonly id: string;
  /** IP literal (or, for static backends, a host name resolved at connect time). */
  readonly address: string;
  readonly port: number;
  /** Relative share, 1..1000; 0 never gets new connections. */
  readonly weight: number;
  /**
   * SRV priority: only the lowest-priority group with a usable endpoint gets
   * new connections. Undefined counts as 0.
   */
  readonly priority?: number;
  readonly state: EndpointState;
  readonly zone?: string;
  readonly node?: string;
  readonly pod?: string;
  readonly hostname?: string;
  /** Zones this endpoint is hinted for (EndpointSlice `hints.forZones`). */
  readonly zoneHints?: readonly string[];
}

/** One full view of a listener's backends, as a discovery source sees it. */
export interface EndpointSnapshot {
  readonly endpoints: readonly Endpoint[];
  /** Epoch milliseconds when the source produced it. */
  readonly updatedAtMs: number;
}
