/**
 * One bench/failover trial: fresh Redis servers (and sentinels), one proxy,
 * writers, one role change at T0, and the figures of what the writers saw.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  sentinelFailover,
  startRedis,
  startSentinels,
  watchSentinels,
  type SentinelWatch,
} from './cluster.ts';
import { command, commonPort, missingOn, open, Processes, sleep, waitOpen } from './net.ts';
import {
  HAPROXY,
  haproxyConfig,
  headwayArgs,
  NEW,
  NODES,
  OLD,
  ROLE_SERVER,
  roleChangeOf,
  SENTINELS,
  type RoleChange,
  type SetupName,
} from './setups.ts';
import { startWriters, writeOnce, type Write } from './writers.ts';

const WARMUP_LIMIT_MS = 20_000;
/** How long a Sentinel failover may take to reach `+failover-state-wait-promotion`. */
const PROMOTION_LIMIT_MS = 20_000;
/** Issue #21's bound for the sentinel setup: no write lost this long after the promotion. */
export const LATE_MS = 100;

export interface TrialOptions {
  readonly interval: number;
  readonly timeout: number;
  readonly writers: number;
  readonly before: number;
  readonly after: number;
  readonly strategy: string;
}

export interface Trial {
  readonly setup: SetupName;
  readonly run: number;
  readonly roleChange: RoleChange;
  readonly writes: number;
  /**
   * READONLY replies after T0 from the old primary; from the other Redis at any time (the
   * replica about to be promoted, before T0; .103); and from any Redis before T0.
   */
  readonly readonly: number;
  readonly readonlyOther: number;
  readonly readonlyBefore: number;
  readonly windowMs: number;
  readonly ackedByOldAfter: number;
  /** Acknowledged by the old primary, absent from the new one at the end. */
  readonly lost: number;
  /** Of those, acknowledged more than LATE_MS after T0; and the latest one's acknowledgement after T0. */
  readonly lostLate: number;
  readonly lastLostMs: number | null;
  readonly firstNewMs: number | null;
  /** T0 → the first write that reached the new primary at all (negative: before T0; READONLY then). */
  readonly firstToNewMs: number | null;
  readonly otherErrors: number;
  /** Sentinel role change: `+promoted-slave` and `+switch-master` after T0 (first on any sentinel). */
  readonly promotedSlaveMs: number | null;
  readonly switchMasterMs: number | null;
}

export async function trial(setup: SetupName, run: number, o: TrialOptions): Promise<Trial> {
  const roleChange = roleChangeOf(setup);
  const procs = new Processes();
  const dir = mkdtempSync(join(tmpdir(), 'headway-failover-'));
  const admin: Socket[] = [];
  let watch: SentinelWatch | undefined;
  try {
    const everywhere = ['127.0.0.1', ...NODES, ...SENTINELS];
    const redisPort = await commonPort(everywhere);
    const httpPort = await commonPort(everywhere);
    const sentinelPort = await commonPort(everywhere);
    const listen = await commonPort(everywhere);
    await startRedis(procs, redisPort, dir);
    procs.start(
      [process.execPath, ROLE_SERVER, String(httpPort), String(redisPort), ...NODES],
      'role server',
    );
    for (const h of NODES) await waitOpen(h, httpPort);
    if (roleChange === 'sentinel') await startSentinels(procs, dir, redisPort, sentinelPort);
    const proxy = { ...o, listen, httpPort, redisPort, sentinelPort };
    if (setup.startsWith('headway')) {
      procs.start([process.execPath, ...headwayArgs(setup, proxy)], setup);
    } else {
      const cfg = join(dir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig(setup, proxy));
      procs.start([HAPROXY, '-db', '-f', cfg], setup);
    }
    await waitOpen('127.0.0.1', listen, 30_000);

    // Warm-up: the proxy routes every write to the primary (the replicas failed their checks).
    const warm = performance.now();
    let streak = 0;
    while (streak < 20) {
      const w = await writeOnce(listen, `warm-${streak}`);
      streak = w.reply === '+OK' && w.server === OLD ? streak + 1 : 0;
      if (performance.now() - warm > WARMUP_LIMIT_MS)
        throw new Error(`${setup}: never settled on the primary`);
      if (streak === 0) await sleep(20);
    }
    await sleep(2 * o.interval);

    for (const h of NODES) admin.push(await open(h, redisPort));
    if (roleChange === 'sentinel') watch = await watchSentinels(sentinelPort);
    const start = performance.now();
    // Until T0 is known (a Sentinel failover's promotion), the writers may run to the bound.
    let stopAt = start + o.before + PROMOTION_LIMIT_MS + o.after;
    const writers = startWriters(listen, o.writers, `k${run}`, () => stopAt);
    await sleep(o.before);
    let t0: number;
    if (roleChange === 'replicaof') {
      // The role change: promote .102 and demote .101 in the same tick.
      t0 = performance.now();
      stopAt = t0 + o.after;
      await Promise.all([
        command(admin[1] as Socket, 'REPLICAOF NO ONE'),
        command(admin[0] as Socket, `REPLICAOF ${NEW} ${redisPort}`),
      ]);
      await command(admin[2] as Socket, `REPLICAOF ${NEW} ${redisPort}`);
    } else {
      const w = watch as SentinelWatch;
      await sentinelFailover(sentinelPort);
      const limit = performance.now() + PROMOTION_LIMIT_MS;
      while (!w.first.has('+failover-state-wait-promotion') && performance.now() < limit) {
        await sleep(5);
      }
      const at = w.first.get('+failover-state-wait-promotion');
      if (at === undefined) {
        stopAt = 0;
        await writers.done;
        throw new Error(`${setup}: no +failover-state-wait-promotion in time`);
      }
      if (w.promoted !== NEW) {
        stopAt = 0;
        await writers.done;
        throw new Error(`${setup}: sentinel promoted ${w.promoted ?? '?'}, not ${NEW}`);
      }
      t0 = at;
      stopAt = t0 + o.after;
    }
    await writers.done;
    return await figures(setup, run, roleChange, writers.writes, t0, redisPort, watch);
  } finally {
    watch?.close();
    for (const a of admin) a.destroy();
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function figures(
  setup: SetupName,
  run: number,
  roleChange: RoleChange,
  all: readonly Write[],
  t0: number,
  redisPort: number,
  watch: SentinelWatch | undefined,
): Promise<Trial> {
  // Times relative to T0.
  const writes = all.map((w) => ({ ...w, sent: w.sentAt - t0, replied: w.repliedAt - t0 }));
  // Lost: acknowledged by the old primary, absent from the new one.
  await sleep(200);
  const ackedByOld = writes.filter((w) => w.reply === '+OK' && w.server === OLD);
  const missing = new Set<string>();
  const check = await open(NEW, redisPort);
  for (let i = 0; i < ackedByOld.length; i += 500) {
    const batch = ackedByOld.slice(i, i + 500).map((w) => w.key);
    for (const k of await missingOn(check, batch)) missing.add(k);
  }
  check.destroy();
  const lost = ackedByOld.filter((w) => missing.has(w.key));

  const after = writes.filter((w) => w.replied >= 0);
  const toOld = after.filter((w) => w.server === OLD);
  const okNew = writes.filter((w) => w.reply === '+OK' && w.server === NEW && w.replied >= 0);
  // Before T0 too: a proxy that moves early meets a replica that answers READONLY.
  const toNew = writes.filter((w) => w.server === NEW && w.sent > -1000);
  const since = (event: string): number | null => {
    const at = watch?.first.get(event);
    return at === undefined ? null : at - t0;
  };
  return {
    setup,
    run,
    roleChange,
    writes: writes.length,
    readonly: toOld.filter((w) => w.reply.startsWith('-READONLY')).length,
    readonlyOther: writes.filter((w) => w.server !== OLD && w.reply.startsWith('-READONLY')).length,
    readonlyBefore: writes.filter((w) => w.replied < 0 && w.reply.startsWith('-READONLY')).length,
    windowMs: toOld.length === 0 ? 0 : Math.max(0, ...toOld.map((w) => w.sent)),
    ackedByOldAfter: toOld.filter((w) => w.reply === '+OK').length,
    lost: lost.length,
    lostLate: lost.filter((w) => w.replied > LATE_MS).length,
    lastLostMs: lost.length === 0 ? null : Math.max(...lost.map((w) => w.replied)),
    firstNewMs: okNew.length === 0 ? null : Math.min(...okNew.map((w) => w.replied)),
    firstToNewMs: toNew.length === 0 ? null : Math.min(...toNew.map((w) => w.sent)),
    otherErrors: writes.filter((w) => w.reply !== '+OK' && !w.reply.startsWith('-READONLY')).length,
    promotedSlaveMs: since('+promoted-slave'),
    switchMasterMs: since('+switch-master'),
  };
}
