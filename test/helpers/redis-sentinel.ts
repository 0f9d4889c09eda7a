import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RespErrorReply, type RespValue } from '../../src/discovery/sentinel/resp.ts';
import { RespConnection } from '../../src/discovery/sentinel/resp-connection.ts';
import { spawnRedisServer } from '../kit/redis.ts';
import { eventually, freePortRange } from './sockets.ts';

/** A RESP connection for the tests' own commands (the code under test's client, already unit-tested). */
export async function redisClient(
  host: string,
  port: number,
  password?: string,
): Promise<RespConnection> {
  const c = new RespConnection({
    host,
    port,
    password,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 5000,
  });
  await c.open(() => undefined);
  return c;
}

/** One command on a fresh connection. */
export async function redisCommand(
  host: string,
  port: number,
  args: readonly string[],
  password?: string,
): Promise<RespValue> {
  const c = await redisClient(host, port, password);
  try {
    return await c.command(args);
  } finally {
    c.close();
  }
}

/** `[k, v, k, v...]` as an object. */
export function fieldsOf(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  const list = v as readonly RespValue[];
  for (let i = 0; i + 1 < list.length; i += 2) out[textOf(list[i])] = textOf(list[i + 1]);
  return out;
}

export interface RedisInstance {
  readonly host: string;
  readonly port: number;
  proc: ChildProcess;
}

export interface SentinelInstance {
  readonly host: string;
  readonly port: number;
  readonly configFile: string;
  proc: ChildProcess;
}

export interface ClusterOptions {
  /** Loopback addresses of the Redis servers; the first starts as master. */
  readonly redisHosts: readonly string[];
  /** Loopback addresses of the sentinels. */
  readonly sentinelHosts: readonly string[];
  readonly master: string;
  /** `requirepass` on the sentinels (and how they authenticate to each other). */
  readonly sentinelPassword?: string;
  /** Every sentinel on the same port (distinct addresses), like the pods of a headless Service. */
  readonly sharedSentinelPort?: boolean;
}

async function waitListening(host: string, port: number, password?: string): Promise<void> {
  await eventually(
    async () => {
      try {
        const r = await redisCommand(host, port, ['PING'], password);
        return r === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    50,
  );
}

/**
 * Redis servers and sentinels on loopback addresses, one port each. Replicas
 * announce their own loopback alias (`--replica-announce-ip`), so that the
 * sentinels see 127.0.0.x rather than the 127.0.0.1 the kernel uses as source.
 * Sentinel configuration files live in a temporary directory (sentinel rewrites them).
 */
export class SentinelCluster {
  readonly opts: ClusterOptions;
  readonly dir: string;
  readonly redis: RedisInstance[] = [];
  readonly sentinels: SentinelInstance[] = [];

  private constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), 'headway-sentinel-'));
  }

  static async start(opts: ClusterOptions): Promise<SentinelCluster> {
    const c = new SentinelCluster(opts);
    try {
      await c.#start();
    } catch (err) {
      c.stop();
      throw err;
    }
    return c;
  }

  async #start(): Promise<void> {
    const { redisHosts, sentinelHosts } = this.opts;
    const base = await freePortRange(redisHosts.length + sentinelHosts.length);
    const master = redisHosts[0] ?? '';
    for (const [i, host] of redisHosts.entries()) {
      const r: RedisInstance = { host, port: base + i, proc: undefined as unknown as ChildProcess };
      r.proc = this.#spawnRedis(r, i === 0 ? undefined : { host: master, port: base });
      this.redis.push(r);
    }
    for (const r of this.redis) await waitListening(r.host, r.port);
    for (const [i, host] of sentinelHosts.entries()) {
      const port = base + redisHosts.length + (this.opts.sharedSentinelPort === true ? 0 : i);
      const configFile = join(this.dir, `sentinel-${host}-${port}.conf`);
      writeSentinelConfig(configFile, {
        host,
        port,
        dir: this.dir,
        master: this.opts.master,
        masterHost: master,
        masterPort: base,
        password: this.opts.sentinelPassword,
      });
      const s: SentinelInstance = {
        host,
        port,
        configFile,
        proc: undefined as unknown as ChildProcess,
      };
      s.proc = spawnSentinel(s);
      this.sentinels.push(s);
    }
    for (const s of this.sentinels) {
      await waitListening(s.host, s.port, this.opts.sentinelPassword);
    }
  }

  #spawnRedis(r: RedisInstance, replicaOf?: { host: string; port: number }): ChildProcess {
    return spawnRedisServer({
      host: r.host,
      port: r.port,
      dir: this.dir,
      ...(replicaOf === undefined ? {} : { replicaOf }),
      extraArgs: ['--dbfilename', `dump-${r.port}.rdb`, '--replica-announce-ip', r.host],
    });
  }

  /** The sentinels agree on the master, see every replica with a working link, and see each other. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await sentinelsReady(
      this.sentinels,
      this.opts.master,
      this.redis.length - 1,
      this.opts.sentinelPassword,
      timeoutMs,
    );
  }

  /** What one sentinel says the master is (`host:port`). */
  async masterAt(s: SentinelInstance): Promise<string> {
    const r = await redisCommand(
      s.host,
      s.port,
      ['SENTINEL', 'get-master-addr-by-name', this.opts.master],
      this.opts.sentinelPassword,
    );
    if (!Array.isArray(r)) throw new Error(`no master: ${JSON.stringify(r)}`);
    return `${String(r[0])}:${String(r[1])}`;
  }

  /** Ask one sentinel to fail over now (no agreement needed). */
  async failover(s: SentinelInstance): Promise<void> {
    const r = await redisCommand(
      s.host,
      s.port,
      ['SENTINEL', 'failover', this.opts.master],
      this.opts.sentinelPassword,
    );
    if (r instanceof RespErrorReply) throw new Error(`SENTINEL failover: ${r.message}`);
  }

  async killSentinel(s: SentinelInstance): Promise<void> {
    const exited = once(s.proc, 'exit');
    s.proc.kill('SIGKILL');
    await exited;
  }

  async restartSentinel(s: SentinelInstance): Promise<void> {
    s.proc = spawnSentinel(s);
    await waitListening(s.host, s.port, this.opts.sentinelPassword);
  }

  stop(): void {
    for (const p of [...this.sentinels, ...this.redis]) p.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `redis-server CONFIG --sentinel`, output discarded. */
export function spawnSentinel(s: { readonly configFile: string }): ChildProcess {
  return spawn('redis-server', [s.configFile, '--sentinel'], { stdio: 'ignore' });
}

function textOf(v: RespValue | undefined): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
}

export interface SentinelConfig {
  readonly host: string;
  readonly port: number;
  /** Sentinel's working directory (it rewrites its configuration file). */
  readonly dir: string;
  readonly master: string;
  readonly masterHost: string;
  readonly masterPort: number;
  readonly quorum?: number;
  readonly downAfterMs?: number;
  readonly failoverTimeoutMs?: number;
  readonly password?: string;
}

/** A sentinel's configuration file: announces its own loopback alias, monitors one master. */
export function writeSentinelConfig(file: string, c: SentinelConfig): void {
  const lines = [
    `port ${c.port}`,
    `bind ${c.host}`,
    'protected-mode no',
    `dir ${c.dir}`,
    `sentinel announce-ip ${c.host}`,
    `sentinel monitor ${c.master} ${c.masterHost} ${c.masterPort} ${c.quorum ?? 2}`,
    `sentinel down-after-milliseconds ${c.master} ${c.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${c.master} ${c.failoverTimeoutMs ?? 10_000}`,
    `sentinel parallel-syncs ${c.master} 2`,
  ];
  if (c.password !== undefined) {
    lines.push(`requirepass ${c.password}`, `sentinel sentinel-pass ${c.password}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/**
 * The sentinels answer, agree on `master`, see `replicas` replicas with a
 * working link, and see each other (bounded by `timeoutMs`).
 */
export async function sentinelsReady(
  sentinels: readonly { readonly host: string; readonly port: number }[],
  master: string,
  replicas: number,
  password?: string,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    async () => {
      for (const s of sentinels) {
        try {
          const m = fieldsOf(
            await redisCommand(s.host, s.port, ['SENTINEL', 'master', master], password),
          );
          if (Number(m['num-other-sentinels']) !== sentinels.length - 1) return undefined;
          const list = await redisCommand(
            s.host,
            s.port,
            ['SENTINEL', 'replicas', master],
            password,
          );
          if (!Array.isArray(list)) return undefined;
          const ok = (list as RespValue[])
            .map(fieldsOf)
            .filter(
              (f) => f['master-link-status'] === 'ok' && !(f['flags'] ?? '').includes('down'),
            );
          if (ok.length < replicas) return undefined;
        } catch {
          return undefined;
        }
      }
      return true;
    },
    timeoutMs,
    200,
  );
}
