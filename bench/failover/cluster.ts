/**
 * The Redis side of one bench/failover trial: three redis-server on loopback
 * aliases (one port), and for a Sentinel role change three `redis-server
 * --sentinel` monitoring them, with the bench subscribed to their events.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RespConnection } from '../../src/discovery/sentinel/resp-connection.ts';
import {
  redisClient,
  sentinelsReady,
  spawnSentinel,
  writeSentinelConfig,
} from '../../test/helpers/redis-sentinel.ts';
import { bulk, command, open, Processes, sleep, waitOpen } from './net.ts';
import { MASTER_NAME, NODES, OLD, SENTINELS } from './setups.ts';

/** Sentinel timing: short, so a trial's failover takes seconds (the tests' values). */
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 5000;

export async function startRedis(procs: Processes, port: number, dir: string): Promise<void> {
  for (const host of NODES) {
    // Its own directory: a replica's full sync writes an RDB file there.
    const nodeDir = join(dir, host);
    mkdirSync(nodeDir);
    const argv = [
      'redis-server',
      '--dir',
      nodeDir,
      '--port',
      String(port),
      '--bind',
      host,
      '--save',
      '',
      '--appendonly',
      'no',
      // Sentinel must see the loopback alias, not the 127.0.0.1 the kernel gives as source.
      '--replica-announce-ip',
      host,
      // Sentinel promotes the replica with the lowest priority: .102, as the manual change does.
      '--replica-priority',
      host === NODES[2] ? '200' : '100',
    ];
    if (host !== OLD) argv.push('--replicaof', OLD, String(port));
    procs.start(argv, `redis ${host}`);
  }
  for (const host of NODES) await waitOpen(host, port);
  // Replicas in sync with the primary, so that what it acknowledged reaches them.
  const deadline = performance.now() + 15_000;
  for (const host of NODES.slice(1)) {
    for (;;) {
      const s = await open(host, port);
      const info = await bulk(s, 'INFO replication');
      s.destroy();
      if (info.includes('master_link_status:up')) break;
      if (performance.now() > deadline) throw new Error(`${host} never synced`);
      await sleep(50);
    }
  }
}

/** Three sentinels, quorum 2, that agree on the primary and see both replicas and each other. */
export async function startSentinels(
  procs: Processes,
  dir: string,
  redisPort: number,
  sentinelPort: number,
): Promise<void> {
  const sentinelDir = join(dir, 'sentinels');
  mkdirSync(sentinelDir);
  for (const host of SENTINELS) {
    const configFile = join(sentinelDir, `${host}.conf`);
    writeSentinelConfig(configFile, {
      host,
      port: sentinelPort,
      dir: sentinelDir,
      master: MASTER_NAME,
      masterHost: OLD,
      masterPort: redisPort,
      quorum: 2,
      downAfterMs: DOWN_AFTER_MS,
      failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
    });
    procs.adopt(spawnSentinel({ configFile }));
  }
  for (const host of SENTINELS) await waitOpen(host, sentinelPort);
  await sentinelsReady(
    SENTINELS.map((host) => ({ host, port: sentinelPort })),
    MASTER_NAME,
    NODES.length - 1,
    undefined,
    30_000,
  );
}

/** When each failover event first reached the bench (performance.now()), on any sentinel. */
export interface SentinelWatch {
  readonly first: Map<string, number>;
  /** The replica named by `+failover-state-wait-promotion`. */
  promoted: string | undefined;
  close(): void;
}

const EVENTS = [
  '+failover-state-wait-promotion',
  '+promoted-slave',
  '+switch-master',
  '+convert-to-slave',
] as const;

export async function watchSentinels(sentinelPort: number): Promise<SentinelWatch> {
  const subs: RespConnection[] = [];
  const watch: SentinelWatch = {
    first: new Map(),
    promoted: undefined,
    close: () => subs.forEach((s) => s.close()),
  };
  for (const host of SENTINELS) {
    const sub = await redisClient(host, sentinelPort);
    await sub.subscribe(EVENTS, (channel, payload) => {
      const at = performance.now();
      if (!watch.first.has(channel)) watch.first.set(channel, at);
      // "slave 127.0.0.102:PORT 127.0.0.102 PORT @ MASTER 127.0.0.101 PORT"
      if (channel === '+failover-state-wait-promotion') {
        watch.promoted ??= /^slave ([\d.]+):/.exec(payload)?.[1];
      }
    });
    subs.push(sub);
  }
  return watch;
}

/** `SENTINEL failover MASTER` on one sentinel. */
export async function sentinelFailover(sentinelPort: number): Promise<void> {
  const s = await open(SENTINELS[0], sentinelPort);
  try {
    const reply = await command(s, `SENTINEL failover ${MASTER_NAME}`);
    if (reply !== '+OK') throw new Error(`SENTINEL failover: ${reply}`);
  } finally {
    s.destroy();
  }
}
