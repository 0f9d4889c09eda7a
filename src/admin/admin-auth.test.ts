import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.ts';
import { AdminAuth, adminAuthFrom, type PathKind } from './admin-auth.ts';

const TOKEN = 'sixteen-bytes-or-more';

function req(headers: Record<string, string>, peer = '127.0.0.1'): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

const JSON_LOCAL = { host: '127.0.0.1:9901', 'content-type': 'application/json' };

describe('AdminAuth.check', () => {
  const open = new AdminAuth({});
  const withToken = new AdminAuth({ token: TOKEN });
  const all = new AdminAuth({ token: TOKEN, mode: 'all' });
  const cases: [string, AdminAuth, PathKind, IncomingMessage, number][] = [
    ['probe, no token, remote', all, 'open', req({}, '10.0.0.9'), 200],
    ['read, control mode, remote', withToken, 'read', req({}, '10.0.0.9'), 200],
    ['read, all mode, no token', all, 'read', req({}, '127.0.0.1'), 401],
    ['read, all mode, token', all, 'read', req({ authorization: `Bearer ${TOKEN}` }), 200],
    ['control, no token set, loopback JSON', open, 'control', req(JSON_LOCAL), 200],
    [
      'control, no token set, ::1 JSON',
      open,
      'control',
      req({ ...JSON_LOCAL, host: '[::1]:9901' }, '::1'),
      200,
    ],
    [
      'control, no token set, localhost JSON',
      open,
      'control',
      req({ ...JSON_LOCAL, host: 'localhost:8000' }),
      200,
    ],
    ['control, no token set, remote', open, 'control', req(JSON_LOCAL, '10.0.0.9'), 403],
    [
      'control, no token set, form',
      open,
      'control',
      req({ host: '127.0.0.1:9901', 'content-type': 'application/x-www-form-urlencoded' }),
      403,
    ],
    [
      'control, no token set, no content type',
      open,
      'control',
      req({ host: '127.0.0.1:9901' }),
      403,
    ],
    [
      'control, no token set, rebinding Host',
      open,
      'control',
      req({ ...JSON_LOCAL, host: 'evil.example:9901' }),
      403,
    ],
    [
      'control, no token set, cross-site',
      open,
      'control',
      req({ ...JSON_LOCAL, 'sec-fetch-site': 'cross-site' }),
      403,
    ],
    [
      'control, no token set, same-site (other port)',
      open,
      'control',
      req({ ...JSON_LOCAL, 'sec-fetch-site': 'same-site' }),
      403,
    ],
    [
      'control, no token set, Origin mismatch',
      open,
      'control',
      req({ ...JSON_LOCAL, origin: 'http://127.0.0.1:8080' }),
      403,
    ],
    [
      'control, no token set, Origin null',
      open,
      'control',
      req({ ...JSON_LOCAL, origin: 'null' }),
      403,
    ],
    [
      'control, no token set, same origin',
      open,
      'control',
      req({ ...JSON_LOCAL, origin: 'http://127.0.0.1:9901' }),
      200,
    ],
    ['control, token set, loopback without it', withToken, 'control', req(JSON_LOCAL), 401],
    [
      'control, token set, remote with it',
      withToken,
      'control',
      req({ authorization: `Bearer ${TOKEN}` }, '10.0.0.9'),
      200,
    ],
    [
      'control, token set, bearer lower case',
      withToken,
      'control',
      req({ authorization: `bearer ${TOKEN}` }, '10.0.0.9'),
      200,
    ],
    [
      'control, token set, prefix of it',
      withToken,
      'control',
      req({ authorization: `Bearer ${TOKEN.slice(0, -1)}` }),
      401,
    ],
    [
      'control, token set, cross-site with it',
      withToken,
      'control',
      req({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' }),
      403,
    ],
  ];
  it.each(cases)('%s', (_what, auth, kind, r, status) => {
    const v = auth.check(r, kind);
    expect(v.ok ? 200 : v.status).toBe(status);
  });
});

describe('adminAuthFrom', () => {
  const base = { adminToken: null, adminTokenFile: null, adminAuth: 'control' as const };

  it('reads the token file without its trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'headway-auth-'));
    try {
      const file = join(dir, 't');
      writeFileSync(file, `${TOKEN}\n`);
      expect(adminAuthFrom({ ...base, adminTokenFile: file }).token).toBe(TOKEN);
      expect(() => adminAuthFrom({ ...base, adminTokenFile: file, adminToken: TOKEN })).toThrow(
        ConfigError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --admin-auth all without a token', () => {
    expect(() => adminAuthFrom({ ...base, adminAuth: 'all' })).toThrow(/--admin-auth/);
  });
});
