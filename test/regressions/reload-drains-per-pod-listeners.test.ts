/**
 * Defect (found beside issue 15's reload items): any reload drained every
 * `--per-pod-ports` listener. The reload removed every listener of the
 * registry that the config file did not name, and per-pod listeners
 * (`NAME-ORDINAL`, opened by discovery) are never in the file: one SIGHUP
 * closed every per-pod port. A reload now manages only the listeners of the
 * configuration.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeKubeApi, endpoint, port } from '../helpers/fake-kube-api.ts';
import { startConfigured, tempConfig } from '../helpers/reload.ts';
import { freePortRange, startWhoami, whoAnswers } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('a reload keeps the per-pod listeners open', async () => {
  const who = await startWhoami('127.0.0.41');
  cleanup.push(() => who.close());
  const api = await FakeKubeApi.start();
  cleanup.push(() => api.close());
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-kube-')), 'config');
  api.writeKubeconfig(kubeconfig, { namespace: 'prod' });
  api.upsertSlice({
    namespace: 'prod',
    name: 'db-a',
    service: 'db',
    ports: [port(who.port, 'redis')],
    endpoints: [endpoint('127.0.0.41', { pod: 'db-0', hostname: 'db-0' })],
  });
  const base = await freePortRange(2);
  const file = (timeout: string): string[] => [
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: db',
    '    listen: 127.0.0.1:0',
    '    backends: k8s://db:redis',
    `    kubeconfig: ${kubeconfig}`,
    `    per-pod-ports: ${base}`,
    '    per-pod-max: 2',
    `    connect-timeout: ${timeout}`,
  ];
  const config = tempConfig(file('5s'));
  const p = await startConfigured(config.path);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started' && l.listener === 'db-0');
  const before = await whoAnswers(base);
  expect(before.who).toBe('127.0.0.41');
  before.socket.destroy();

  config.write(file('3s'));
  const outcome = await p.sighup();
  expect(outcome.msg).toBe('config reloaded');
  await new Promise((r) => setTimeout(r, 300));
  const after = await whoAnswers(base);
  expect(after.who).toBe('127.0.0.41');
  after.socket.destroy();
  expect(outcome.removed).toEqual([]);
});
