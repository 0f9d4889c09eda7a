import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { control, adminRequest } from '../helpers/admin-http.ts';

/**
 * Defect: a malformed percent-escape in an admin URL (`POST
 * /backends/%E0%A4%A/drain`) made `decodeURIComponent` throw; the endpoint
 * answered 500 and wrote an error log line for every such request (a cheap
 * way to flood the log). It is the client's mistake: 400, no error log.
 */

let proxy: RunningProxy | undefined;
let echo: Backend | undefined;

afterEach(async () => {
  await proxy?.stop();
  await echo?.close();
});

it('answers 400 to a malformed percent-escape, without an error log line', async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`]);
  for (const bad of ['%E0%A4%A', '%zz', '%']) {
    const r = await control(proxy.adminUrl, `/backends/${bad}/drain`);
    expect(r.status, bad).toBe(400);
  }
  // Request targets that are not a path at all are refused the same way.
  expect((await adminRequest(proxy.adminUrl, 'GET', '//backends')).status).toBe(400);
  // A well-formed escape still works.
  const ok = await control(proxy.adminUrl, `/backends/${encodeURIComponent(echo.address)}/drain`);
  expect(ok.status).toBe(200);
  expect(proxy.logs.filter((l) => l.level === 'error')).toEqual([]);
});
