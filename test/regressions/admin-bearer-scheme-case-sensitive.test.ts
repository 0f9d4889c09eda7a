import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { adminRequest } from '../helpers/admin-http.ts';

/**
 * Defect: the admin token was compared with the whole header
 * `Bearer <token>`, so `bearer <token>` or `BEARER <token>` (the scheme is
 * case-insensitive, RFC 9110 §11.1) and extra spaces were refused from
 * non-loopback peers. (Through loopback, the only peer a test may use, the
 * old code skipped the token altogether: there this file fails before the
 * fix on the `Basic` case, and the scheme cases are checked with the token
 * now required from every peer.)
 */

const TOKEN = 'case-of-the-scheme-0123456789';
let proxy: RunningProxy | undefined;
let echo: Backend | undefined;

afterEach(async () => {
  await proxy?.stop();
  await echo?.close();
});

it('accepts the bearer scheme in any case', async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`], {
    HEADWAY_ADMIN_TOKEN: TOKEN,
  });
  const path = `/backends/${encodeURIComponent(echo.address)}/drain`;
  for (const header of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer  ${TOKEN}`]) {
    const r = await adminRequest(proxy.adminUrl, 'POST', path, {
      'content-type': 'application/json',
      authorization: header,
    });
    expect(r.status, header).toBe(200);
  }
  const basic = await adminRequest(proxy.adminUrl, 'POST', path, {
    'content-type': 'application/json',
    authorization: `Basic ${TOKEN}`,
  });
  expect(basic.status).toBe(401);
});
