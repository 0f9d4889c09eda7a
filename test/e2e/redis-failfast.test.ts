import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';
import { inlineCommand, openSocket, redisDir, startRedisServer } from '../kit/redis.ts';

/**
 * Issue #21 item 1 through the CLI with real redis-server: the README's role
 * check plus `--health-reject role:slave`. The check timeout is 10 s on
 * purpose: a check that only waits for `role:master` keeps a demoted primary
 * in rotation until that timeout, so writes reaching it for much less than
 * that can only come from the reject pattern failing the check the moment
 * the replica answers.
 */

const NODES = ['127.0.0.101', '127.0.0.102', '127.0.0.103'] as const;
const INTERVAL_MS = 500;
const TIMEOUT_MS = 10_000;
/** Generous for two shared, busy cores; still far below TIMEOUT_MS. */
const SLACK_MS = 3000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function redisAt(host: string, port: number, replicaOf?: string): Promise<ChildProcess> {
  const dir = redisDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const p = await startRedisServer({
    host,
    port,
    dir,
    ...(replicaOf === undefined ? {} : { replicaOf: { host: replicaOf, port } }),
  });
  cleanups.push(() => {
    p.kill('SIGKILL');
  });
  return p;
}

/** One write on its own connection through the proxy: its send time and first reply line. */
async function writeOnce(proxy: RunningProxy, key: string): Promise<{ at: number; reply: string }> {
  const at = Date.now();
  let s: Socket;
  try {
    s = await openSocket(proxy.port, '127.0.0.1');
  } catch {
    return { at, reply: 'connect failed' };
  }
  const reply = await inlineCommand(s, `SET ${key} v`);
  s.destroy();
  return { at, reply };
}

describe('fail-fast role check (--health-reject) with real Redis', () => {
  beforeAll(() => requireProgram('redis-server'));

  it('after a demotion, writes stop reaching the old primary within one interval + slack, far below the check timeout', async () => {
    const port = await refusedPort();
    await redisAt(NODES[0], port);
    await redisAt(NODES[1], port, NODES[0]);
    await redisAt(NODES[2], port, NODES[0]);
    const proxy = await startProxy([
      '--backends',
      `static://${NODES.map((ip) => `${ip}:${port}`).join(',')}`,
      '--strategy',
      'round-robin',
      '--health-check',
      'tcp',
      '--health-send',
      'INFO replication\\r\\n',
      '--health-expect',
      'role:master',
      '--health-reject',
      'role:slave',
      '--health-interval',
      `${INTERVAL_MS}ms`,
      '--health-timeout',
      `${TIMEOUT_MS}ms`,
    ]);
    cleanups.push(() => proxy.stop());

    // Settled: the replicas failed their first check (at once, by the reject pattern).
    const firstFails = await eventually(() => {
      const down = proxy.logs.filter((l) => l.msg === 'backend failed its health checks');
      return down.length >= 2 ? down : undefined;
    }, 8000);
    for (const l of firstFails) expect(l.reason).toBe('rejected role:slave');
    for (let i = 0; i < 10; i++) expect((await writeOnce(proxy, `a${i}`)).reply).toBe('+OK');

    // Demote 101 and promote 102 at a known instant.
    const admin = await Promise.all(NODES.map((ip) => openSocket(port, ip)));
    cleanups.push(() => admin.forEach((a) => a.destroy()));
    const changedAt = Date.now();
    await Promise.all([
      inlineCommand(admin[1] as Socket, 'REPLICAOF NO ONE'),
      inlineCommand(admin[0] as Socket, `REPLICAOF ${NODES[1]} ${port}`),
    ]);
    await inlineCommand(admin[2] as Socket, `REPLICAOF ${NODES[1]} ${port}`);

    // Writers, one connection per SET, for a bounded time after the change.
    const results: { at: number; reply: string }[] = [];
    const until = changedAt + INTERVAL_MS + SLACK_MS + 1500;
    let n = 0;
    await Promise.all(
      [0, 1, 2].map(async () => {
        while (Date.now() < until && n < 20_000) {
          results.push(await writeOnce(proxy, `k${n++}`));
        }
      }),
    );
    const readonly = results.filter((r) => r.reply.startsWith('-READONLY'));
    const lastReadonlyMs =
      readonly.length === 0 ? 0 : Math.max(...readonly.map((r) => r.at)) - changedAt;
    const ok = results.filter((r) => r.reply === '+OK');
    console.log(
      `fail-fast role check: ${results.length} writes, ${readonly.length} READONLY, last sent ${lastReadonlyMs} ms after the change (interval ${INTERVAL_MS} ms, timeout ${TIMEOUT_MS} ms)`,
    );
    // Cause: the demoted primary answered role:slave and was taken out for that.
    const demoted = await proxy.waitForLog(
      (l) => l.msg === 'backend failed its health checks' && String(l.backend).startsWith(NODES[0]),
    );
    expect(demoted.reason).toBe('rejected role:slave');
    // Effect: no write reached it after one interval + slack, far below the 10 s timeout.
    expect(lastReadonlyMs).toBeLessThan(INTERVAL_MS + SLACK_MS);
    // ...and writes go to the new primary.
    expect(ok.filter((r) => r.at - changedAt > INTERVAL_MS + SLACK_MS).length).toBeGreaterThan(0);
    expect(
      results
        .filter((r) => r.at - changedAt > INTERVAL_MS + SLACK_MS)
        .every((r) => r.reply === '+OK'),
    ).toBe(true);
  }, 60_000);
});
