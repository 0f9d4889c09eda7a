/**
 * Defect (issue 16, item 10): Kubernetes discovery errors did not say what
 * failed. An unreachable API server or a CA mismatch logged only
 * "fetch failed" (the ECONNREFUSED or TLS cause hidden in `cause`), a missing
 * RBAC rule only "HTTP-Code: 403", and neither named the API URL nor the
 * namespace/Service. Now the log line and /backends `lastError` carry the
 * request's URL, the HTTP status (with the Status message) or the errno/TLS
 * cause, and `namespace/service`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeKubeApi, type FakeKubeApiOptions } from '../helpers/fake-kube-api.ts';
import { startProxy, type LogLine, type RunningProxy } from '../helpers/headway-process.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

const NS = 'shop';
const PATH = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;

const apis: FakeKubeApi[] = [];
let proxy: RunningProxy | undefined;

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await Promise.all(apis.splice(0).map((a) => a.close()));
});

async function api(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const a = await FakeKubeApi.start(opts);
  apis.push(a);
  return a;
}

function kubeconfigPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'headway-kube-')), 'config');
}

async function firstError(kubeconfig: string): Promise<{ line: LogLine; lastError: string }> {
  proxy = await startProxy(['--kubeconfig', kubeconfig, '--backends', `k8s://${NS}/cart:6379`]);
  const p = proxy;
  const line = await p.waitForLog((l) => String(l.msg).startsWith('discovery error'));
  const lastError = await eventually(async () => {
    const r = await backendsReport(p.adminUrl);
    const e = r.listeners[0]?.source.lastError;
    return typeof e === 'string' ? e : undefined;
  });
  return { line, lastError };
}

it('an unreachable API server: the URL, ECONNREFUSED and namespace/service', async () => {
  const a = await api();
  const kc = kubeconfigPath();
  const url = `https://127.0.0.1:${await refusedPort()}`;
  a.writeKubeconfig(kc, { namespace: NS, server: url });
  const { line, lastError } = await firstError(kc);
  for (const text of [String(line.error), lastError]) {
    expect(text).toContain(`${url}${PATH}`);
    expect(text).toContain('ECONNREFUSED');
    expect(text).toContain(`${NS}/cart`);
  }
  expect(line).toMatchObject({ level: 'warn', reason: 'network' });
});

it('a CA that does not match: a TLS error with its code', async () => {
  const a = await api();
  const stranger = await api({ tlsDir: mkdtempSync(join(tmpdir(), 'headway-tls-')) });
  const kc = kubeconfigPath();
  // The other server's CA, this server's URL and token.
  stranger.writeKubeconfig(kc, { namespace: NS, server: a.url, token: a.token });
  const { line } = await firstError(kc);
  expect(String(line.error)).toContain(`${a.url}${PATH}`);
  expect(String(line.error)).toMatch(/TLS error [A-Z_]+/);
});

it('a forbidden list: HTTP 403 with the Status message', async () => {
  const a = await api();
  const kc = kubeconfigPath();
  a.writeKubeconfig(kc, { namespace: NS });
  a.failNextLists(1, 'status-403');
  const { line } = await firstError(kc);
  expect(String(line.error)).toContain(`list ${a.url}${PATH}`);
  expect(String(line.error)).toMatch(/HTTP 403 \(.+\)/);
  expect(String(line.error)).toContain(`${NS}/cart`);
  expect(line).toMatchObject({ reason: 'forbidden' });
});
