import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { control } from '../helpers/admin-http.ts';

/**
 * Defect: with an admin token set, loopback peers could still drain and
 * undrain without it. In a pod with a service-mesh sidecar every peer
 * connects over 127.0.0.1, so the token protected nothing. Once set, the
 * token is required from every peer.
 */

const TOKEN = 'loopback-is-not-trusted-0123456789';
let proxy: RunningProxy | undefined;
let echo: Backend | undefined;

afterEach(async () => {
  await proxy?.stop();
  await echo?.close();
});

it('requires the token from a loopback peer once one is set', async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`], {
    HEADWAY_ADMIN_TOKEN: TOKEN,
  });
  const path = `/backends/${encodeURIComponent(echo.address)}/drain`;
  const without = await control(proxy.adminUrl, path);
  expect(without.status).toBe(401);
  expect(without.headers['www-authenticate']).toMatch(/^Bearer /);
  const wrong = await control(proxy.adminUrl, path, `${TOKEN}x`);
  expect(wrong.status).toBe(401);
  const right = await control(proxy.adminUrl, path, TOKEN);
  expect(right.status).toBe(200);
  // Never in the log.
  expect(JSON.stringify(proxy.logs)).not.toContain(TOKEN);
});
