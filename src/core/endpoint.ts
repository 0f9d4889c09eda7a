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
  /**
   * Index into the snapshot's `groups`: the route this endpoint serves, when a
   * source feeds several routes through one listener (Gateway API routes).
   */
  readonly group?: number;
}

/**
 * One route of a listener whose source serves several (a Gateway listener with
 * its attached routes): which connections it takes and how many it must refuse.
 */
export interface EndpointGroup {
  /**
   * TLS server names it takes: exact (`db.example.com`) or a leading wildcard
   * label (`*.example.com`); empty = every connection (no SNI is read).
   */
  readonly serverNames: readonly string[];
  /**
   * Share of its connections (0..1) refused at once: the weight of backends that
   * are invalid or have no endpoints, which must not be served by the others.
   */
  readonly rejectShare: number;
}

/** One full view of a listener's backends, as a discovery source sees it. */
export interface EndpointSnapshot {
  readonly endpoints: readonly Endpoint[];
  /** Epoch milliseconds when the source produced it. */
  readonly updatedAtMs: number;
  /** The routes the endpoints are grouped into (`Endpoint.group`); absent for one plain pool. */
  readonly groups?: readonly EndpointGroup[];
}
