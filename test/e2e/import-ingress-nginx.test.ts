/**
 * `headway import ingress-nginx-tcp NS/NAME`: the tcp-services ConfigMap read from the (fake)
 * Kubernetes API, converted, and served: each entry's Service answers through its port.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi, endpoint } from '../helpers/fake-kube-api.ts';
import { runHeadway, spawnHeadway } from '../helpers/headway-process.ts';
import {
  eventually,
  freePortRange,
  startWhoami,
  identify,
  type Backend,
} from '../helpers/sockets.ts';

describe('headway import ingress-nginx-tcp from the API server', () => {
  let api: FakeKubeApi;
  let kubeconfig = '';
  const pods: Backend[] = [];

  beforeAll(async () => {
    api = await FakeKubeApi.start();
    const dir = mkdtempSync(join(tmpdir(), 'headway-import-k8s-'));
    kubeconfig = join(dir, 'config');
    api.writeKubeconfig(kubeconfig, { namespace: 'default' });
    pods.push(await startWhoami('127.0.0.21'));
    pods.push(await startWhoami('127.0.0.22', pods[0]?.port));
  });

  afterAll(async () => {
    await Promise.all(pods.map((p) => p.close()));
    await api.close();
  });

  it('reads the ConfigMap, converts every entry, and the result routes to the pods', async () => {
    const podPort = pods[0]?.port ?? 0;
    const base = await freePortRange(2);
    api.putObject('/api/v1/namespaces/ingress-nginx/configmaps/tcp-services', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'tcp-services', namespace: 'ingress-nginx' },
      data: {
        [String(base)]: 'prod/redis:redis',
        [String(base + 1)]: 'prod/cache:cache',
        nonsense: 'prod/x',
      },
    });
    api.upsertSlice({
      namespace: 'prod',
      name: 'redis-abcde',
      service: 'redis',
      ports: [{ name: 'redis', port: podPort, protocol: 'TCP' }],
      endpoints: [endpoint('127.0.0.21', { pod: 'redis-0' })],
    });
    api.upsertSlice({
      namespace: 'prod',
      name: 'cache-fghij',
      service: 'cache',
      ports: [{ name: 'cache', port: podPort, protocol: 'TCP' }],
      endpoints: [endpoint('127.0.0.22', { pod: 'cache-0' })],
    });

    const converted = await runHeadway([
      'import',
      'ingress-nginx-tcp',
      'ingress-nginx/tcp-services',
      '--kubeconfig',
      kubeconfig,
    ]);
    expect(converted.stderr).toBe('');
    expect(converted.code).toBe(0);
    expect(converted.stdout).toMatch(
      /not translated: ConfigMap ingress-nginx\/tcp-services "nonsense"/,
    );
    expect(converted.stdout).toContain(`backends: k8s://prod/redis:redis`);

    // ingress-nginx listens on every address; this test keeps to loopback.
    const yaml = join(mkdtempSync(join(tmpdir(), 'headway-import-k8s-')), 'headway.yaml');
    writeFileSync(yaml, converted.stdout.replace(/listen: :(\d+)/g, 'listen: 127.0.0.1:$1'));
    const p = spawnHeadway(['--config', yaml, '--kubeconfig', kubeconfig, '--admin', 'off']);
    try {
      await eventually(
        () => p.logs.filter((l) => l.msg === 'listener started').length === 2 || undefined,
        30_000,
        50,
      );
      // Until the first EndpointSlice list arrives a client is closed as no_backend: retry.
      const answered = (port: number): Promise<string> =>
        eventually(async () => {
          const who = await identify(port);
          return who === 'closed' ? undefined : who;
        }, 20_000);
      expect(await answered(base)).toBe('127.0.0.21');
      expect(await answered(base + 1)).toBe('127.0.0.22');
    } catch (err) {
      throw new Error(`${String(err)}; logs: ${JSON.stringify(p.logs)}; stderr: ${p.stderr()}`);
    } finally {
      await p.stop();
    }
  }, 120_000);

  it('names the API server when the ConfigMap cannot be read (exit 2)', async () => {
    const r = await runHeadway([
      'import',
      'ingress-nginx-tcp',
      'ingress-nginx/missing',
      '--kubeconfig',
      kubeconfig,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(api.url);
  });
});
