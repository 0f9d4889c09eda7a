import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RespErrorReply, type RespValue } from '../../src/discovery/sentinel/resp.ts';
import type { RespConnection } from '../../src/discovery/sentinel/resp-connection.ts';
import type { BackendsReport } from '../../src/admin/backends-report.ts';
import { runHeadway, startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import {
  redisClient,
  redisCommand,
  SentinelCluster,
  type SentinelInstance,
} from '../helpers/redis-sentinel.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { eventually, getJson, metricValue } from '../helpers/sockets.ts';

/**
 * Redis Sentinel discovery against real `redis-server` and `redis-server
 * --sentinel` on loopback aliases. Each test builds its own three Redis
 * servers and three sentinels (sentinel failovers take seconds: ≤ 60 s each).
 */

const MASTER = 'mymaster';
/** "Right after the promotion", with generous slack for two shared cores. */
const SLACK_MS = 500;

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function cluster(
  first: number,
  sentinelPassword?: string,
  sharedSentinelPort?: boolean,
): Promise<SentinelCluster> {
  const ip = (n: number): string => `127.0.0.${n}`;
  const c = await SentinelCluster.start({
    master: MASTER,
    redisHosts: [ip(first), ip(first + 1), ip(first + 2)],
    sentinelHosts: [ip(first + 3), ip(first + 4), ip(first + 5)],
    sentinelPassword,
    sharedSentinelPort,
  });
  cleanups.push(() => c.stop());
  await c.ready();
  return c;
}

function sentinelList(c: SentinelCluster): string {
  return c.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
}

async function proxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningProxy> {
  const p = await startProxy(args, env);
  cleanups.push(async () => {
    await p.stop();
  });
  return p;
}

/**
 * When the promotion happened, as the sentinels tell it (wall ms, earliest on
 * any sentinel): `sent` = `+failover-state-wait-promotion` (the leader has just
 * sent REPLICAOF NO ONE: the replica is master from here on), `seen` =
 * `+promoted-slave` (the leader's next INFO saw it; up to a second later).
 */
async function watchPromotion(c: SentinelCluster): Promise<{
  sent: () => number | undefined;
  seen: () => number | undefined;
  close: () => void;
}> {
  let sent: number | undefined;
  let seen: number | undefined;
  const subs: RespConnection[] = [];
  for (const s of c.sentinels) {
    const sub = await redisClient(s.host, s.port, c.opts.sentinelPassword);
    await sub.subscribe(['+failover-state-wait-promotion', '+promoted-slave'], (channel) => {
      if (channel === '+promoted-slave') seen ??= Date.now();
      else sent ??= Date.now();
    });
    subs.push(sub);
  }
  return { sent: () => sent, seen: () => seen, close: () => subs.forEach((s) => s.close()) };
}

interface Ack {
  readonly key: string;
  readonly at: number;
}

/**
 * Writers through the proxy, each on its own connection, reconnecting when
 * the connection is closed or a write fails (a replica's READONLY). Records
 * when each write was acknowledged.
 */
function startWriters(port: number, count: number): { stop: () => Promise<Ack[]> } {
  const acks: Ack[] = [];
  let running = true;
  const loops = Array.from({ length: count }, async (_, w) => {
    let seq = 0;
    let conn: RespConnection | undefined;
    while (running && seq < 200_000) {
      try {
        conn ??= await redisClient('127.0.0.1', port);
        const key = `w:${w}:${seq++}`;
        const r = await conn.command(['SET', key, String(seq)]);
        if (r === 'OK') acks.push({ key, at: Date.now() });
        else if (r instanceof RespErrorReply) {
          conn.close();
          conn = undefined;
        }
      } catch {
        conn?.close();
        conn = undefined;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    conn?.close();
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return acks;
    },
  };
}

async function keysOn(host: string, port: number): Promise<Set<string>> {
  const r = await redisCommand(host, port, ['KEYS', 'w:*']);
  return new Set(Array.isArray(r) ? (r as RespValue[]).map(String) : []);
}

async function roleOf(host: string, port: number): Promise<string> {
  const r = await redisCommand(host, port, ['ROLE']);
  return Array.isArray(r) ? String(r[0]) : '';
}

async function allAgree(c: SentinelCluster, addr: string): Promise<boolean> {
  for (const s of c.sentinels) {
    try {
      if ((await c.masterAt(s)) !== addr) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function backendIds(p: RunningProxy): Promise<string[]> {
  const r = await getJson<BackendsReport>(`${p.adminUrl}/backends`);
  return (r.listeners[0]?.backends ?? [])
    .filter((b) => b.state === 'ready')
    .map((b) => b.id)
    .sort();
}

describe('sentinel:// discovery (real redis-server --sentinel)', () => {
  beforeAll(() => requireProgram('redis-server'));

  it('routes writes to the master and moves at the promotion: no write acknowledged by the old master after it', async () => {
    const c = await cluster(141);
    const [oldMaster] = c.redis;
    if (oldMaster === undefined) throw new Error('no redis');
    const p = await proxy(['--backends', `sentinel://${MASTER}@${sentinelList(c)}`]);
    const promotion = await watchPromotion(c);
    cleanups.push(() => promotion.close());

    // Writes land on the master.
    await eventually(async () => {
      try {
        return (await redisCommand('127.0.0.1', p.port, ['SET', 'probe', '1'])) === 'OK'
          ? true
          : undefined;
      } catch {
        return undefined;
      }
    });
    expect(await redisCommand(oldMaster.host, oldMaster.port, ['GET', 'probe'])).toBe('1');
    expect(await backendIds(p)).toEqual([`${oldMaster.host}:${oldMaster.port}`]);

    const writers = startWriters(p.port, 4);
    await new Promise((r) => setTimeout(r, 500));
    await c.failover(c.sentinels[0] as SentinelInstance);
    const seenAt = await eventually(() => promotion.seen(), 30_000, 10);
    const promotedAt = promotion.sent() ?? seenAt;
    // Every sentinel follows (+switch-master), then a little more writing on the new master.
    const newMasterAddr = await eventually(
      async () => {
        const m = await c.masterAt(c.sentinels[1] as SentinelInstance);
        return m !== `${oldMaster.host}:${oldMaster.port}` && (await allAgree(c, m))
          ? m
          : undefined;
      },
      30_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 500));
    const acks = await writers.stop();
    const newMaster = c.redis.find((r) => `${r.host}:${r.port}` === newMasterAddr);
    if (newMaster === undefined) throw new Error(`unknown new master ${newMasterAddr}`);
    expect(await roleOf(newMaster.host, newMaster.port)).toBe('master');

    // The route moved: the proxy lists only the new master.
    expect(await backendIds(p)).toEqual([newMasterAddr]);
    // A write acknowledged but missing on the new master went to the old one after the promotion.
    const present = await keysOn(newMaster.host, newMaster.port);
    const lost = acks.filter((a) => !present.has(a.key));
    const lateLost = lost.filter((a) => a.at > promotedAt + SLACK_MS);
    const latest = lost.reduce((m, a) => Math.max(m, a.at - promotedAt), -Infinity);
    console.log(
      `sentinel failover: ${acks.length} writes acknowledged, ${lost.length} lost; ` +
        `latest lost write ${Number.isFinite(latest) ? `${latest} ms` : '(none)'} after REPLICAOF NO ONE was sent ` +
        `(+promoted-slave came ${seenAt - promotedAt} ms after it)`,
    );
    expect(acks.filter((a) => a.at > promotedAt + SLACK_MS).length).toBeGreaterThan(0);
    expect(lateLost).toEqual([]);
    // Headway logged the change.
    expect(
      p.logs.some((l) => l.msg === 'sentinel master changed' && l.current === newMasterAddr),
    ).toBe(true);
  });

  it('?role=replica serves the healthy replicas, and follows a failover', async () => {
    const c = await cluster(151);
    const [m, r1, r2] = c.redis;
    if (m === undefined || r1 === undefined || r2 === undefined) throw new Error('no redis');
    const p = await proxy(['--backends', `sentinel://${MASTER}@${sentinelList(c)}?role=replica`]);
    const addr = (r: { host: string; port: number }): string => `${r.host}:${r.port}`;
    await eventually(async () =>
      JSON.stringify(await backendIds(p)) === JSON.stringify([addr(r1), addr(r2)].sort())
        ? true
        : undefined,
    );
    // Reads through the listener reach replicas only.
    for (let i = 0; i < 6; i++) {
      const conn = await redisClient('127.0.0.1', p.port);
      const role = await conn.command(['ROLE']);
      conn.close();
      expect(Array.isArray(role) ? role[0] : role).toBe('slave');
    }
    const t0 = Date.now();
    // After a failover, the old master (now a replica) is served, the promoted one is not.
    await c.failover(c.sentinels[0] as SentinelInstance);
    const promoted = await eventually(
      async () => {
        const now = await c.masterAt(c.sentinels[0] as SentinelInstance);
        return now !== addr(m) ? now : undefined;
      },
      20_000,
      100,
    );
    const stillReplica = addr(r1) === promoted ? r2 : r1;
    await eventually(
      async () =>
        JSON.stringify(await backendIds(p)) === JSON.stringify([addr(m), addr(stillReplica)].sort())
          ? true
          : undefined,
      40_000,
      200,
    );
    const t1 = Date.now();
    // A replica that dies leaves the set once the sentinels mark it down.
    stillReplica.proc.kill('SIGKILL');
    await eventually(
      async () =>
        JSON.stringify(await backendIds(p)) === JSON.stringify([addr(m)]) ? true : undefined,
      20_000,
      100,
    );
    console.log(
      `replica set: failover followed in ${t1 - t0} ms, dead replica left in ${Date.now() - t1} ms`,
    );
  });

  it('finds the sentinels through DNS (dns://NAME:PORT, a headless Service) and follows a failover', async () => {
    const c = await cluster(171, undefined, true);
    const name = 'redis-sentinel.prod.svc.cluster.local';
    const dns = new Dnsmasq({ ttl: 1, hosts: c.sentinels.map((s) => `${s.host} ${name}`) });
    await dns.start();
    cleanups.push(() => dns.dispose());
    const port = c.sentinels[0]?.port ?? 0;
    const p = await proxy([
      '--dns-server',
      dns.server,
      '--backends',
      `sentinel://${MASTER}@dns://${name}:${port}`,
    ]);
    const [m] = c.redis;
    if (m === undefined) throw new Error('no redis');
    await eventually(async () =>
      JSON.stringify(await backendIds(p)) === JSON.stringify([`${m.host}:${m.port}`])
        ? true
        : undefined,
    );
    await eventually(async () => {
      const r = await getJson<BackendsReport>(`${p.adminUrl}/backends`);
      return r.listeners[0]?.source['sentinelsAnswering'] === 3 ? true : undefined;
    });
    await c.failover(c.sentinels[2] as SentinelInstance);
    const moved = await eventually(
      async () => {
        const ids = await backendIds(p);
        return ids.length === 1 && ids[0] !== `${m.host}:${m.port}` ? ids[0] : undefined;
      },
      20_000,
      50,
    );
    const [host = '', mport = ''] = moved.split(':');
    await eventually(async () =>
      (await roleOf(host, Number(mport))) === 'master' ? true : undefined,
    );
    expect(await redisCommand('127.0.0.1', p.port, ['SET', 'k', 'v'])).toBe('OK');
  });

  it('refuses a bad sentinel:// URI and an unreadable password file (exit 2, naming the field)', async () => {
    const bad = await runHeadway(['--backends', 'sentinel://10.0.0.1:26379', '--admin', 'off']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--backends');
    const noFile = await runHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      '--backends',
      'sentinel://m@127.0.0.1:1',
      '--sentinel-password-file',
      '/nonexistent/headway-sentinel-password',
    ]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr + noFile.stdout).toContain('--sentinel-password-file');
  });

  it('authenticates, keeps the last master while every sentinel is down, survives a sentinel restart during a failover', async () => {
    const password = 's3cret-Pa55';
    const c = await cluster(161, password);
    const [oldMaster] = c.redis;
    if (oldMaster === undefined) throw new Error('no redis');
    const dir = mkdtempSync(join(tmpdir(), 'headway-sentinel-pw-'));
    const pwFile = join(dir, 'password');
    writeFileSync(pwFile, `${password}\n`);
    const p = await proxy([
      '--backends',
      `sentinel://${MASTER}@${sentinelList(c)}`,
      '--sentinel-password-file',
      pwFile,
    ]);
    const write = async (key: string): Promise<boolean> => {
      try {
        return (await redisCommand('127.0.0.1', p.port, ['SET', key, '1'])) === 'OK';
      } catch {
        return false;
      }
    };
    await eventually(async () => ((await write('a')) ? true : undefined));

    // Every sentinel down: the last known master keeps serving; errors are counted per sentinel.
    for (const s of c.sentinels) await c.killSentinel(s);
    await p.waitForLog((l) => l.msg === 'sentinel error', 10_000);
    expect(await write('b')).toBe(true);
    const s0 = c.sentinels[0] as SentinelInstance;
    const s1 = c.sentinels[1] as SentinelInstance;
    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(
      metricValue(metrics, 'headway_sentinel_errors_total', { sentinel: `${s1.host}:${s1.port}` }),
    ).toBeGreaterThan(0);
    for (const s of c.sentinels) await c.restartSentinel(s);
    await c.ready();

    // A failover, with a sentinel killed and restarted in the middle of it.
    await c.failover(s0);
    await c.killSentinel(s1);
    await new Promise((r) => setTimeout(r, 1000));
    await c.restartSentinel(s1);
    const newMasterAddr = await eventually(
      async () => {
        const m = await c.masterAt(s0);
        return m !== `${oldMaster.host}:${oldMaster.port}` && (await allAgree(c, m))
          ? m
          : undefined;
      },
      30_000,
      100,
    );
    await eventually(async () =>
      JSON.stringify(await backendIds(p)) === JSON.stringify([newMasterAddr]) ? true : undefined,
    );
    expect(await write('c')).toBe(true);
    const [host = '', port = ''] = newMasterAddr.split(':');
    expect(await redisCommand(host, Number(port), ['GET', 'c'])).toBe('1');
    // The password is never logged.
    expect(JSON.stringify(p.logs)).not.toContain(password);
    expect(p.stderr()).not.toContain(password);
  });
});
