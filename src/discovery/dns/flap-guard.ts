/**
 * Holds back an answer that would remove more than half of the current set
 * until the next answer agrees (same ids). A DNS server that briefly answers
 * NXDOMAIN or a truncated set — during a CoreDNS restart or an API hiccup —
 * then cannot empty a listener; a real scale-down is applied one refresh late.
 * Envoy's STRICT_DNS drops members on such answers; this is the fix users ask for.
 */
export class FlapGuard {
  readonly #enabled: boolean;
  #pending: ReadonlySet<string> | null = null;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** True while a large drop waits for confirmation. */
  get holding(): boolean {
    return this.#pending !== null;
  }

  /** Decide whether `next` (ids) may replace `current`. */
  admit(current: ReadonlySet<string>, next: ReadonlySet<string>): boolean {
    let removed = 0;
    for (const id of current) if (!next.has(id)) removed++;
    if (!this.#enabled || removed * 2 <= current.size) {
      this.#pending = null;
      return true;
    }
    if (this.#pending !== null && sameIds(this.#pending, next)) {
      this.#pending = null;
      return true;
    }
    this.#pending = next;
    return false;
  }
}

function sameIds(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const id of a) if (!b.has(id)) return false;
  return true;
}
