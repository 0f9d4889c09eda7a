import type { Outcome } from '../core/outcome.ts';

/**
 * What the data path reports, per listener and backend. The proxy calls
 * these through handles it caches per backend, so no label lookup happens
 * per connection or per chunk.
 */
export interface BackendMetrics {
  /** A connection attempt to this backend started (counts toward active). */
  attemptStarted(): void;
  /** The attempt or the connection ended. */
  attemptEnded(): void;
  /** A client connection that used this backend closed. */
  connectionClosed(outcome: Outcome, bytesFromClient: number, bytesFromBackend: number): void;
  /** Latency histograms (seconds). */
  observeConnect(seconds: number): void;
  observeFirstByte(seconds: number): void;
  observeSession(seconds: number): void;
  /** Active health checks' verdict. */
  setHealthy(healthy: boolean): void;
  /** Passive ejection took it out. */
  ejected(): void;
  /** Drop every series of this backend (it left and drained). */
  remove(): void;
  /** Closed connections by outcome so far (for `/backends`; absent in test doubles). */
  outcomes?(): ReadonlyMap<Outcome, number>;
}

export interface ListenerMetrics {
  backend(id: string): BackendMetrics;
  /** A client connection closed without reaching any backend (no_backend, denied, rejected, ...). */
  connectionClosedWithoutBackend(outcome: Outcome, bytesFromClient: number): void;
  /** Discovery delivered a new endpoint set. `source` is the scheme (static, dns, srv, k8s). */
  discoveryUpdated(source: string): void;
  /** A discovery refresh failed; the last set stays in force. */
  discoveryFailed(source: string, reason: string): void;
  /** Every backend was unhealthy or ejected: traffic went to all of them. */
  panicEntered(): void;
  /** Connections closed without a backend, by outcome (for `/backends`; absent in test doubles). */
  outcomesWithoutBackend?(): ReadonlyMap<Outcome, number>;
  /** A Redis sentinel of `sentinel://` discovery failed (connect, timeout, auth, answer). */
  sentinelFailed?(sentinel: string, reason: string): void;
}

export interface ProxyMetrics {
  listener(name: string): ListenerMetrics;
  /** A local resource error (`kind`: emfile, enfile, enobufs, enomem) on an upstream socket or a health check. */
  localError(kind: string): void;
  /** A client connection lost at accept (`kind`: fd_limit when refused to keep the fd reserve, else the errno). */
  acceptError(kind: string): void;
}

/** Backend metrics that record nothing (a base for test doubles). */
export const noopBackend: BackendMetrics = {
  attemptStarted: () => undefined,
  attemptEnded: () => undefined,
  connectionClosed: () => undefined,
  observeConnect: () => undefined,
  observeFirstByte: () => undefined,
  observeSession: () => undefined,
  setHealthy: () => undefined,
  ejected: () => undefined,
  remove: () => undefined,
};

/** Listener metrics that record nothing (a base for test doubles). */
export const noopListener: ListenerMetrics = {
  backend: () => noopBackend,
  connectionClosedWithoutBackend: () => undefined,
  discoveryUpdated: () => undefined,
  discoveryFailed: () => undefined,
  panicEntered: () => undefined,
};

/** Metrics that record nothing, for tests and embedding. */
export const noopMetrics: ProxyMetrics = {
  listener: () => noopListener,
  localError: () => undefined,
  acceptError: () => undefined,
};
