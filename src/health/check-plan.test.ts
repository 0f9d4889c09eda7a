import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.ts';
import { resolveProxyConfig } from '../config/resolve.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { checkFall, checkRise, checksEnabled, closesOnDown } from './check-plan.ts';

const BACKENDS = 'static://127.0.0.1:6379';

function settings(
  argv: Record<string, unknown>,
  env: Record<string, string> = {},
): ListenerSettings {
  const l = resolveProxyConfig({ argv: { backends: BACKENDS, ...argv }, env }).listeners[0];
  if (l === undefined) throw new Error('no listener');
  return l;
}

function problem(argv: Record<string, unknown>): string {
  try {
    settings(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('health check options', () => {
  it('parses reject patterns (repeatable), the health port, and the HTTP options', () => {
    const l = settings({
      'health-send': 'INFO replication\\r\\n',
      'health-expect': 'role:master',
      'health-reject': ['role:slave', '/loading:1/'],
    });
    expect(l.healthReject.map((r) => r.kind)).toEqual(['substring', 'regex']);
    const h = settings({
      'health-check': 'http',
      'health-port': '8008',
      'health-path': '/primary',
      'health-host': 'pg.local',
      'health-expect-status': '200,204',
    });
    expect(h).toMatchObject({ healthPort: 8008, healthPath: '/primary', healthHost: 'pg.local' });
    expect(h.healthExpectStatus).toEqual([
      [200, 200],
      [204, 204],
    ]);
    const e = settings(
      { 'health-check': 'http' },
      { HEADWAY_HEALTH_EXPECT_STATUS: '200,204', HEADWAY_HEALTH_PORT: '8008' },
    );
    expect(e.healthExpectStatus).toHaveLength(2);
    expect(e.healthPort).toBe(8008);
  });

  it('an HTTP check is a role check: rise 1, fall 1, close-on-down; a bare TCP check is not', () => {
    const h = settings({ 'health-check': 'http' });
    expect([checkRise(h), checkFall(h), closesOnDown(h)]).toEqual([1, 1, true]);
    const t = settings({ 'health-check': 'tcp' });
    expect([checkRise(t), checkFall(t), closesOnDown(t)]).toEqual([2, 3, false]);
    const f = settings({ 'health-check': 'http', 'health-fall': '3', 'close-on-down': 'off' });
    expect([checkFall(f), closesOnDown(f)]).toEqual([3, false]);
  });

  it('http and tcp checks run even on Kubernetes; auto does not', () => {
    expect(checksEnabled('http', 'k8s')).toBe(true);
    expect(checksEnabled('auto', 'k8s')).toBe(false);
    expect(checksEnabled('auto', 'dns')).toBe(true);
    expect(checksEnabled('none', 'static')).toBe(false);
  });

  it.each([
    [{ 'health-reject': 'role:slave' }, '--health-reject: needs --health-expect'],
    [{ 'health-check': 'http', 'health-expect': 'x' }, '--health-expect: does not apply'],
    [{ 'health-check': 'http', 'health-send': 'x' }, '--health-send: does not apply'],
    [{ 'health-check': 'http', 'health-reject': 'x' }, '--health-reject: does not apply'],
    [{ 'health-path': '/primary' }, '--health-path: only applies to --health-check http'],
    [{ 'health-host': 'a' }, '--health-host: only applies'],
    [{ 'health-expect-status': '200' }, '--health-expect-status: only applies'],
    [{ 'health-check': 'http', 'health-path': 'primary' }, '--health-path'],
    [{ 'health-check': 'http', 'health-path': '/a\r\nX: y' }, '--health-path'],
    [{ 'health-check': 'http', 'health-expect-status': '2xx' }, '--health-expect-status'],
    [{ 'health-port': '0' }, '--health-port'],
    [{ 'health-port': '70000' }, '--health-port'],
    [{ 'health-expect': 'x', 'health-reject': '/(/' }, '--health-reject'],
  ])('refuses %j naming the field', (argv, message) => {
    expect(problem(argv)).toContain(message);
  });
});
