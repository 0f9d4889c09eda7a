/** Bounds for DNS refresh timing (`--dns-min-refresh`, `--dns-max-refresh`). */
export interface RefreshBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * TTL used when an answer carries none (empty answers, NXDOMAIN: Node does
 * not expose the SOA minimum). 5 s is CoreDNS's default `ttl`.
 */
export const DEFAULT_TTL_SECONDS = 5;

/**
 * Jitter shortens each wait by up to 15 %, never lengthens it, so replicas
 * spread their queries without ever serving a set older than its TTL.
 */
const JITTER = 0.15;

function clamp(ms: number, b: RefreshBounds): number {
  return Math.min(b.maxMs, Math.max(b.minMs, ms));
}

/** Wait before the next refresh after an answer whose shortest TTL is `ttlSeconds`. */
export function refreshDelayMs(
  ttlSeconds: number | undefined,
  b: RefreshBounds,
  random: () => number,
): number {
  const ttlMs = (ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
  return clamp(clamp(ttlMs, b) * (1 - JITTER * random()), b);
}

/** Wait after `failures` consecutive failed refreshes: doubling from the minimum, capped at the maximum. */
export function backoffDelayMs(failures: number, b: RefreshBounds, random: () => number): number {
  const base = b.minMs * 2 ** Math.min(Math.max(failures - 1, 0), 20);
  return clamp(clamp(base, b) * (1 - JITTER * random()), b);
}
