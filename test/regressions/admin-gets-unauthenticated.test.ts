import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runHeadway, startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { adminRequest } from '../helpers/admin-http.ts';

/**
 * Defect: `/backends`, `/pods` and `/metrics` (pod IPs, names, nodes, DNS
 * errors, versions) were open to anyone who could reach the admin port,
 * with no way to require the token for them. `--admin-auth all` does, while
 * `/healthz`, `/readyz` and the status page's HTML (no data in it) stay
 * open so the kubelet's probes keep working on the pod IP.
 */

const TOKEN = 'read-access-needs-this-0123456789';
let proxy: RunningProxy | undefined;
let echo: Backend | undefined;
let dir: string | undefined;

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('with --admin-auth all, requires the token for data paths but not for probes', async () => {
  dir = await mkdtemp(join(tmpdir(), 'headway-token-'));
  const file = join(dir, 'token');
  await writeFile(file, `${TOKEN}\n`);
  echo = await startEcho();
  proxy = await startProxy([
    '--backends',
    `static://${echo.address}`,
    '--admin-auth',
    'all',
    '--admin-token-file',
    file,
  ]);
  for (const path of ['/backends', '/pods', '/metrics']) {
    const no = await adminRequest(proxy.adminUrl, 'GET', path);
    expect(no.status, path).toBe(401);
    expect(no.body).not.toContain(echo.address);
    const yes = await adminRequest(proxy.adminUrl, 'GET', path, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(yes.status, path).toBe(200);
  }
  for (const path of ['/healthz', '/readyz', '/']) {
    expect((await adminRequest(proxy.adminUrl, 'GET', path)).status, path).toBe(200);
  }
  expect(JSON.stringify(proxy.logs)).not.toContain(TOKEN);
});

it('refuses --admin-auth all without a token (exit 2)', async () => {
  const r = await runHeadway([
    '--backends',
    'static://127.0.0.1:1',
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--admin-auth',
    'all',
  ]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--admin-auth');
});
