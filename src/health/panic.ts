/** The candidates that get new connections, and whether that took panic mode. */
export interface PanicSelection<T> {
  readonly selected: readonly T[];
  /** True when none was usable and every candidate was kept. */
  readonly panic: boolean;
}

/**
 * Envoy's panic mode with a threshold of zero: the usable candidates (not
 * down by active checks, not ejected), or all of them when none is usable, so
 * that a health checker wrong about everyone (a network partition between
 * proxy and backends, a bad `--health-expect`) degrades to no health
 * checking rather than to no traffic. Callers count `panic` as a metric.
 * Returns `all` itself when every candidate is usable.
 */
export function usableOrAll<T>(
  all: readonly T[],
  usable: (candidate: T) => boolean,
): PanicSelection<T> {
  let firstUnusable = -1;
  for (let i = 0; i < all.length; i++) {
    if (!usable(all[i] as T)) {
      firstUnusable = i;
      break;
    }
  }
  if (firstUnusable < 0) return { selected: all, panic: false };
  const selected = all.slice(0, firstUnusable);
  for (let i = firstUnusable + 1; i < all.length; i++) {
    const c = all[i] as T;
    if (usable(c)) selected.push(c);
  }
  return selected.length > 0 ? { selected, panic: false } : { selected: all, panic: true };
}
