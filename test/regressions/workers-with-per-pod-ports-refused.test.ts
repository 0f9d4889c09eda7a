/**
 * Defect: `--workers N` could not be combined with `--per-pod-ports` (the
 * configuration was refused, exit 2): the worker main thread held routes
 * built for one thread, with no place for listeners that discovery opens.
 * Now the main thread splits the pods into per-pod upstreams (discovery,
 * checks, ejection, shared counts once) and every worker opens the same
 * per-pod listeners with SO_REUSEPORT, fed from the main thread.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeKubeApi, endpoint, port } from '../helpers/fake-kube-api.ts';
import { spawnHeadway } from '../helpers/headway-process.ts';
import {
  connectTo,
  eventually,
  freePortRange,
  getJson,
  startWhoami,
  whoAnswers,
} from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Pods {
  listeners: { name: string; pods: { pod: string; port: number }[] }[];
}
interface Backends {
  workers: number;
  listeners: { name: string; backends: { id: string; active: number }[] }[];
}

it('--workers 2 with --per-pod-ports: each pod on BASE + ordinal, served by the workers', async () => {
  const first = await startWhoami('127.0.0.51');
  cleanup.push(() => first.close());
  const second = await startWhoami('127.0.0.52', first.port);
  cleanup.push(() => second.close());
  const api = await FakeKubeApi.start();
  cleanup.push(() => api.close());
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-kube-')), 'config');
  api.writeKubeconfig(kubeconfig, { namespace: 'prod' });
  const slice = (pods: number[]): void => {
    api.upsertSlice({
      namespace: 'prod',
      name: 'db-a',
      service: 'db',
      ports: [port(first.port, 'redis')],
      endpoints: pods.map((i) =>
        endpoint(`127.0.0.5${i + 1}`, { pod: `db-${i}`, hostname: `db-${i}` }),
      ),
    });
  };
  slice([0, 1]);
  const base = await freePortRange(2);
  const p = spawnHeadway([
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--health-check',
    'none',
    '--workers',
    '2',
    '--kubeconfig',
    kubeconfig,
    '--backends',
    'k8s://db:redis',
    '--per-pod-ports',
    String(base),
    '--per-pod-max',
    '2',
  ]);
  cleanup.push(() => p.stop());
  // Each worker thread loads the whole proxy: on a loaded machine that takes a while.
  await p.waitForLog((l) => l.msg === 'workers started', 45_000);
  const admin = await p.waitForLog((l) => l.msg === 'admin listening');
  const adminUrl = `http://${String(admin.address)}`;
  const pods = async (): Promise<string> => {
    const r = await getJson<Pods>(`${adminUrl}/pods`);
    return (r.listeners[0]?.pods ?? []).map((x) => `${x.pod}:${x.port}`).join(' ');
  };
  await eventually(async () =>
    (await pods()) === `db-0:${base} db-1:${base + 1}` ? true : undefined,
  );
  // Every worker opens both pod listeners (each says so).
  for (const name of ['default-0', 'default-1'])
    await eventually(() =>
      Promise.resolve(
        p.logs.filter((l) => l.msg === 'listener started' && l.listener === name).length === 2
          ? true
          : undefined,
      ),
    );
  // Several connections each, so that both workers (the kernel spreads them) serve each pod.
  const open = [];
  for (let i = 0; i < 6; i++) {
    for (const [ordinal, ip] of [
      [0, '127.0.0.51'],
      [1, '127.0.0.52'],
    ] as const) {
      const { who, socket } = await whoAnswers(base + ordinal);
      expect(who).toBe(ip);
      open.push(socket);
    }
  }
  // The main thread reports the pod listeners, with the workers' open connections.
  const report = await getJson<Backends>(`${adminUrl}/backends`);
  expect(report.workers).toBe(2);
  const byName = new Map(report.listeners.map((l) => [l.name, l]));
  expect(byName.get('default-0')?.backends.map((b) => b.active)).toEqual([6]);
  expect(byName.get('default-1')?.backends.map((b) => b.active)).toEqual([6]);
  for (const s of open) s.destroy();
  // db-1 leaves: its port closes in every worker.
  slice([0]);
  await eventually(async () => ((await pods()) === `db-0:${base}` ? true : undefined));
  await eventually(async () =>
    (await connectTo(base + 1).then(
      (s) => {
        s.destroy();
        return false;
      },
      () => true,
    ))
      ? true
      : undefined,
  );
  const still = await whoAnswers(base);
  expect(still.who).toBe('127.0.0.51');
  still.socket.destroy();
}, 90_000);
