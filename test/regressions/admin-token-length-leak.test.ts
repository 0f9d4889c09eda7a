import * as crypto from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { adminRequest } from '../helpers/admin-http.ts';

/**
 * Defect: the admin token check returned early when the given header's
 * length differed from `Bearer <token>`'s, so response times told a caller
 * the token's length, and `timingSafeEqual` only ran on guesses of the
 * right length. Now both sides are hashed (HMAC-SHA-256 under a per-process
 * key) and the 32-byte digests are always compared, whatever was sent.
 */

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const TOKEN = 'a-token-of-some-length-0123456789';
let admin: AdminServer;

beforeAll(async () => {
  admin = await startAdminServer(
    { host: '127.0.0.1', port: 0 },
    {
      readiness: () => ({ ready: true }),
      backends: () => ({ listeners: [] }),
      pods: () => ({}),
      metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
      setDrain: () => 1,
    },
    silentLogger,
    { token: TOKEN },
  );
});

afterAll(async () => {
  await admin.close();
});

it('compares fixed-length digests for every guess, whatever its length', async () => {
  const spy = vi.mocked(crypto.timingSafeEqual);
  const url = `http://${admin.address}`;
  const guesses = [
    '',
    'x',
    'Bearer x',
    `Bearer ${TOKEN.slice(1)}`,
    `Bearer ${TOKEN}xx`,
    'a'.repeat(500),
  ];
  for (const authorization of guesses) {
    spy.mockClear();
    const r = await adminRequest(url, 'POST', '/backends/b/drain', {
      'content-type': 'application/json',
      ...(authorization === '' ? {} : { authorization }),
    });
    expect(r.status, authorization).toBe(401);
    expect(spy, authorization).toHaveBeenCalledTimes(1);
    const [a, b] = spy.mock.calls[0] ?? [];
    expect((a as Buffer).length).toBe(32);
    expect((b as Buffer).length).toBe(32);
  }
  spy.mockClear();
  const ok = await adminRequest(url, 'POST', '/backends/b/drain', {
    'content-type': 'application/json',
    authorization: `Bearer ${TOKEN}`,
  });
  expect(ok.status).toBe(200);
});
