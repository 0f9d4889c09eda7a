/** What one sentinel says the master is. */
export interface MasterAnswer {
  /** The sentinel's address (`host:port`). */
  readonly sentinel: string;
  /** The master's address, as `SENTINEL get-master-addr-by-name` gives it. */
  readonly host: string;
  readonly port: number;
  /** `config-epoch` from `SENTINEL master`: the failover that produced this configuration. */
  readonly epoch: number;
  /** Monotonic ms when this sentinel's answer last changed (or was first seen). */
  readonly changedAtMs: number;
}

export function addressOf(a: { readonly host: string; readonly port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Pick the master when sentinels disagree (they do, for a few seconds, during
 * every failover: the leader names the promoted replica at once, the others
 * only after its `+switch-master` reaches them):
 *  1. the highest config-epoch wins: it is the newest configuration (Sentinel's
 *     own rule; the leader bumps it the moment the replica is promoted);
 *  2. same epoch: the address the most sentinels report;
 *  3. still tied: the address whose answer changed most recently (it follows
 *     an event), then the current master (no flapping), then the smallest address.
 * Undefined when no sentinel answered.
 */
export function chooseMaster(
  answers: readonly MasterAnswer[],
  current: string | undefined,
): MasterAnswer | undefined {
  if (answers.length === 0) return undefined;
  const top = Math.max(...answers.map((a) => a.epoch));
  const groups = new Map<string, MasterAnswer[]>();
  for (const a of answers) {
    if (a.epoch !== top) continue;
    const key = addressOf(a);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [a]);
    else g.push(a);
  }
  let best: { key: string; list: MasterAnswer[]; latest: number } | undefined;
  for (const [key, list] of groups) {
    const latest = Math.max(...list.map((a) => a.changedAtMs));
    const cand = { key, list, latest };
    if (best === undefined || better(cand, best, current)) best = cand;
  }
  if (best === undefined) return undefined;
  // The representative: the sentinel of the group whose answer is the newest.
  return best.list.reduce((x, y) => (y.changedAtMs > x.changedAtMs ? y : x));
}

function better(
  a: { key: string; list: readonly MasterAnswer[]; latest: number },
  b: { key: string; list: readonly MasterAnswer[]; latest: number },
  current: string | undefined,
): boolean {
  if (a.list.length !== b.list.length) return a.list.length > b.list.length;
  if (a.latest !== b.latest) return a.latest > b.latest;
  if (a.key === current) return true;
  if (b.key === current) return false;
  return a.key < b.key;
}
