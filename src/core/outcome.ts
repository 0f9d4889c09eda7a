/**
 * How a client connection ended. Fixed here for every later feature: metrics
 * (`headway_connections_total{outcome}`), the access log and tests all use
 * these names.
 */
export const OUTCOMES = [
  'ok',
  'no_backend',
  'connect_error',
  'connect_timeout',
  'idle_timeout',
  'reset',
  'rejected',
  'denied',
  'drained',
  'lifetime',
  'proxy_protocol_error',
  // A resource of this process ran out (EMFILE, ENFILE, ENOBUFS, ENOMEM): never the backend's fault.
  'local_error',
  // The client half-closed with nothing sent before a backend answered: the attempt was abandoned
  // (HAProxy logs this as "CC", client closed during connect).
  'client_left',
] as const;

export type Outcome = (typeof OUTCOMES)[number];
