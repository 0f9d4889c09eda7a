import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireProgram } from '../helpers/required-programs.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { FakeKubeApi, endpoint } from '../helpers/fake-kube-api.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';
import { inlineCommand, openSocket, redisDir, startRedisServer } from '../kit/redis.ts';

const NODES = ['127.0.0.101', '127.0.0.102', '127.0.0.103'];
const NAME = 'redis.test.svc.cluster.local';

function redisAt(host: string, port: number, replicaOf?: string): Promise<ChildProcess> {
  return startRedisServer({
    host,
    port,
    dir: redisDir(),
    ...(replicaOf === undefined ? {} : { replicaOf: { host: replicaOf, port } }),
  });
}

/** How the test finds the Redis pods: dnsmasq, or the EndpointSlice fake. */
interface Discovery {
  readonly args: string[];
  dispose(): Promise<void>;
}

async function viaDns(port: number): Promise<Discovery> {
  const dns = new Dnsmasq({ ttl: 1, hosts: NODES.map((ip) => `${ip} ${NAME}`) });
  await dns.start();
  return {
    args: ['--dns-server', dns.server, '--backends', `dns://${NAME}:${port}`],
    dispose: () => dns.dispose(),
  };
}

async function viaKubernetes(port: number): Promise<Discovery> {
  const api = await FakeKubeApi.start();
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-kube-')), 'config');
  api.writeKubeconfig(kubeconfig, { namespace: 'prod' });
  api.upsertSlice({
    namespace: 'prod',
    name: 'redis-abcde',
    service: 'redis',
    ports: [{ name: 'redis', port, protocol: 'TCP' }],
    endpoints: NODES.map((ip, i) => endpoint(ip, { pod: `redis-${i}`, hostname: `redis-${i}` })),
  });
  return {
    args: ['--kubeconfig', kubeconfig, '--backends', 'k8s://redis:redis'],
    dispose: () => api.close(),
  };
}

describe('primary-only routing for Redis (role check, close-on-down)', () => {
  beforeAll(() => requireProgram('redis-server'));
  it.each([
    ['dnsmasq', viaDns],
    ['the EndpointSlice fake', viaKubernetes],
  ] as const)(
    'writes land on the primary; after a promotion Headway follows (discovered through %s)',
    async (_via, discover) => {
      const port = await refusedPort();
      const servers = [
        await redisAt(NODES[0] as string, port),
        await redisAt(NODES[1] as string, port, NODES[0]),
        await redisAt(NODES[2] as string, port, NODES[0]),
      ];
      const dns = await discover(port);
      const proxy = await startProxy([
        '--strategy',
        'primary',
        '--health-check',
        'tcp',
        '--health-send',
        'INFO replication\\r\\n',
        '--health-expect',
        'role:master',
        '--health-interval',
        '200ms',
        // Generous on two shared cores: with fall 1, one slow answer takes the primary out.
        '--health-timeout',
        '2s',
        ...dns.args,
      ]);
      try {
        // Every write lands on the primary (replicas are read-only: a wrong route would error).
        const client = await eventually(
          async () => {
            const s = await openSocket(proxy.port, '127.0.0.1');
            try {
              // Until the first checks answer, every backend counts as usable.
              if ((await inlineCommand(s, 'SET k before')) === '+OK') return s;
            } catch {
              // closed: a replica's first failed check closed it
            }
            s.destroy();
            return undefined;
          },
          10_000,
          100,
        );
        for (let i = 0; i < 20; i++) expect(await inlineCommand(client, `SET k${i} v`)).toBe('+OK');

        // Promote 102; demote 101 and point 103 at 102.
        const admin = await Promise.all(NODES.map((ip) => openSocket(port, ip)));
        const promotedAt = Date.now();
        expect(await inlineCommand(admin[1] as Socket, 'REPLICAOF NO ONE')).toBe('+OK');
        expect(await inlineCommand(admin[0] as Socket, `REPLICAOF ${NODES[1]} ${port}`)).toBe(
          '+OK',
        );
        expect(await inlineCommand(admin[2] as Socket, `REPLICAOF ${NODES[1]} ${port}`)).toBe(
          '+OK',
        );

        // The old primary's connection is closed (close-on-down)...
        await once(client, 'close');
        // ...and a reconnecting client writes to the new primary.
        const after = await eventually(
          async () => {
            const s = await openSocket(proxy.port, '127.0.0.1');
            try {
              if ((await inlineCommand(s, 'SET k after')) === '+OK') return s;
            } catch {
              // closed while the switch happens
            }
            s.destroy();
            return undefined;
          },
          10_000,
          20,
        );
        const failoverMs = Date.now() - promotedAt;
        console.log(
          `Redis failover: role change → first write accepted by the new primary: ${failoverMs} ms (interval 200 ms; bound = interval + timeout)`,
        );
        expect(failoverMs).toBeLessThan(5000);
        // It really is 102, and no write reaches a replica once settled.
        expect(await inlineCommand(after, 'SET k settled')).toBe('+OK');
        const role = await inlineCommand(admin[1] as Socket, 'ROLE');
        expect(role.startsWith('*')).toBe(true);
        for (let i = 0; i < 20; i++) expect(await inlineCommand(after, `SET z${i} v`)).toBe('+OK');
        after.destroy();
        for (const a of admin) a.destroy();
      } finally {
        await proxy.stop();
        await dns.dispose();
        for (const s of servers) s.kill();
      }
    },
  );
});
