import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { adminRequest, control } from '../helpers/admin-http.ts';
import { backendsReport } from '../kit/backends-report.ts';

/**
 * Defect: without a token, `POST /backends/{id}/drain` trusted any loopback
 * peer and checked nothing else, so a page on another site, opened by an
 * operator running `kubectl port-forward`, drained a backend with a plain
 * form POST (200). Control requests now refuse what a browser marks as
 * cross-site (Sec-Fetch-Site, Origin), a Host name other than an IP literal
 * or localhost (DNS rebinding), and simple content types a form can send.
 */

let proxy: RunningProxy;
let echo: Backend;
let path: string;

beforeAll(async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`]);
  path = `/backends/${encodeURIComponent(echo.address)}/drain`;
});

afterAll(async () => {
  await proxy.stop();
  await echo.close();
});

async function state(): Promise<string | undefined> {
  const r = await backendsReport(proxy.adminUrl);
  return r.listeners[0]?.backends[0]?.state;
}

it('refuses a cross-site form POST', async () => {
  const host = new URL(proxy.adminUrl).host;
  const r = await adminRequest(
    proxy.adminUrl,
    'POST',
    path,
    {
      host,
      origin: 'http://attacker.example',
      'sec-fetch-site': 'cross-site',
      'content-type': 'application/x-www-form-urlencoded',
    },
    'x=1',
  );
  expect(r.status).toBe(403);
  // Older browsers send Origin only.
  const r2 = await adminRequest(
    proxy.adminUrl,
    'POST',
    path,
    { host, origin: 'http://attacker.example', 'content-type': 'text/plain' },
    'x',
  );
  expect(r2.status).toBe(403);
  expect(await state()).toBe('ready');
});

it('refuses a simple request without an Origin (a form cannot set a JSON content type)', async () => {
  const r = await adminRequest(proxy.adminUrl, 'POST', path, { 'content-type': 'text/plain' }, 'x');
  expect(r.status).toBe(403);
  expect(r.body).toContain('application/json');
  expect(await state()).toBe('ready');
});

it('refuses a DNS-rebinding request naming another host', async () => {
  const port = new URL(proxy.adminUrl).port;
  const r = await control(proxy.adminUrl, path, undefined, {
    host: `rebind.attacker.example:${port}`,
    origin: `http://rebind.attacker.example:${port}`,
  });
  expect(r.status).toBe(403);
  expect(await state()).toBe('ready');
});

it('still accepts a same-origin JSON request from loopback', async () => {
  const host = new URL(proxy.adminUrl).host;
  const r = await control(proxy.adminUrl, path, undefined, {
    host,
    origin: proxy.adminUrl,
    'sec-fetch-site': 'same-origin',
  });
  expect(r.status).toBe(200);
  expect(await state()).toBe('maintenance');
});
