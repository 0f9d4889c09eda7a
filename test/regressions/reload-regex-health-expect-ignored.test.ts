/**
 * Defect (issue 16, item 3): a reload that changed only a `/regex/`
 * `health-expect` did nothing: resolved settings were compared with
 * `JSON.stringify`, and a RegExp serialises as `{}`. Settings are now
 * compared with a real equality (src/config/settings-equal.ts). The table
 * test changes every option of the schema alone, reloads, and sees it
 * applied or reported as needing a restart: a new option without a row
 * fails it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyApp } from '../../src/app/proxy-app.ts';
import { LIVE_PROCESS_OPTIONS } from '../../src/app/lifecycle.ts';
import { checkShape } from '../../src/config/config-file.ts';
import { resolveProxyConfig, type ProxyConfig } from '../../src/config/resolve.ts';
import { listenerOptions, processOptions } from '../../src/config/schema.ts';
import { settingsEqual } from '../../src/config/settings-equal.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { PromMetrics } from '../../src/metrics/prom-metrics.ts';
import { metric, startConfigured, tempConfig } from '../helpers/reload.ts';
import { eventually, startWhoami } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('a reload that changes only a /regex/ health-expect applies it', async () => {
  const who = await startWhoami('127.0.0.1'); // sends "127.0.0.1\n" on connect
  cleanup.push(() => who.close());
  const file = (expect: string): string[] => [
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: h',
    '    listen: 127.0.0.1:0',
    `    backends: static://${who.address}`,
    '    health-check: tcp',
    '    health-interval: 200ms',
    '    health-timeout: 150ms',
    '    health-rise: 1',
    '    health-fall: 1',
    `    health-expect: "${expect}"`,
  ];
  const config = tempConfig(file('/^127\\\\.0/'));
  const p = await startConfigured(config.path, ['--health-check', 'tcp']);
  cleanup.push(() => p.stop());
  const series = `listener="h",backend="${who.address}"`;
  await eventually(async () =>
    (await metric(p.adminUrl, 'headway_backend_healthy', series)) === 1 ? true : undefined,
  );
  config.write(file('/^never/'));
  const outcome = await p.sighup();
  expect(outcome.msg).toBe('config reloaded');
  await eventually(async () =>
    (await metric(p.adminUrl, 'headway_backend_healthy', series)) === 0 ? true : undefined,
  );
  expect(outcome.applied).toEqual(['h.health-expect']);
});

/** For every option: a file value to start from (when not the default) and one to change it to. */
/** A readable token file (the option reads it while resolving). */
const TOKEN_FILE = join(mkdtempSync(join(tmpdir(), 'headway-token-')), 'token');
writeFileSync(TOKEN_FILE, 'a-token-from-a-file-of-32-bytes!\n', { mode: 0o600 });

/** HTTP checks take no send/expect: rows for their options change them on an HTTP check. */
const ON_HTTP = { 'health-check': 'http', 'health-send': null, 'health-expect': null };

const TABLE: Readonly<
  Record<string, { base?: unknown; next: unknown; with?: Readonly<Record<string, unknown>> }>
> = {
  name: { next: 'renamed' },
  listen: { base: '127.0.0.1:0', next: '127.0.0.2:0' },
  'listen-v6only': { next: 'on' },
  backends: { base: 'static://127.0.0.1:1', next: 'static://127.0.0.1:2' },
  strategy: { next: 'round-robin' },
  'sticky-key': { next: 'client-ip-port' },
  'sticky-bounded-load': { next: '1.25' },
  'latency-decay': { next: '20s' },
  'connect-timeout': { next: '7s' },
  'connect-retries': { next: 5 },
  'idle-timeout': { next: '5m' },
  'half-close-timeout': { next: '2m' },
  'tcp-keepalive': { next: '30s' },
  'latency-tracking': { next: false },
  'max-connection-lifetime': { next: '1h' },
  'health-check': { base: 'none', next: 'tcp' },
  'health-interval': { next: '3s' },
  'health-timeout': { next: '500ms' },
  'health-rise': { next: 4 },
  'health-fall': { next: 4 },
  'close-on-down': { next: 'on' },
  'health-send': { base: 'PING\\r\\n', next: 'PONG\\r\\n' },
  'health-expect': { base: '/^\\+PONG/', next: '/^\\+PONG/i' },
  'health-reject': { next: 'role:slave' },
  'health-port': { next: 8008 },
  'health-path': { next: '/primary', with: ON_HTTP },
  'health-host': { next: 'pg.test', with: ON_HTTP },
  'health-expect-status': { next: '200,204', with: ON_HTTP },
  'sentinel-password-file': { next: '/nonexistent/sentinel-password' },
  'eject-after': { next: 7 },
  'max-ejection-percent': { next: 20 },
  'slow-start': { next: '10s' },
  select: { next: 'zone=a' },
  'route-by': { base: 'strategy', next: 'sni' },
  'sni-pattern': { base: '{hostname}.db.test', next: '{hostname}.other.test' },
  'sni-strict': { next: true },
  'per-pod-ports': { next: 20000 },
  'per-pod-max': { next: 32 },
  allow: { next: '10.0.0.0/8' },
  deny: { next: '10.1.0.0/16' },
  'proxy-protocol': { next: 'v2' },
  'accept-proxy-protocol': { next: true },
  'proxy-protocol-from': { next: '127.0.0.1/32' },
  'max-connections-per-backend': { next: 10 },
  'queue-timeout': { next: '1s' },
  'max-connections-per-client': { next: 10 },
  'dns-family': { next: '4' },
  'dns-server': { next: '127.0.0.1:5353' },
  'dns-min-refresh': { next: '2s' },
  'dns-max-refresh': { next: '1m' },
  'dns-flap-guard': { next: false },
  'dns-timeout': { next: '3s' },
  kubeconfig: { next: '/nonexistent/kubeconfig' },
  zone: { next: 'zone-b' },
  'k8s-watch-timeout': { next: '2m' },
  'backend-drain-timeout': { next: '30s' },
  admin: { base: 'off', next: '127.0.0.1:0' },
  config: { next: '/nonexistent/other.yaml' },
  'watch-config': { next: true },
  'admin-token': { next: 'a-token-of-at-least-16-bytes' },
  'admin-token-file': { next: TOKEN_FILE },
  'admin-auth': { next: 'all' },
  'fd-reserve': { next: 64 },
  'log-format': { next: 'text' },
  'log-level': { next: 'debug' },
  'max-connections': { next: 100 },
  workers: { next: 2 },
  'reject-over-limit': { next: true },
  'shutdown-delay': { next: '5s' },
  'drain-timeout': { next: '10s' },
  'access-log': { next: 'stdout' },
  'access-log-format': { next: 'text' },
  'access-log-sample': { next: 0.5 },
  'metrics-backend-label': { next: false },
  'ready-requires-backends': { next: true },
  'socket-impl': { next: 'net' },
  gateway: { next: 'prod/edge' },
  'gateway-class': { next: 'other' },
  'ingress-nginx-tcp-services': { next: 'ingress-nginx/tcp-services' },
};

const listenerFlags = new Map(Object.entries(listenerOptions).map(([k, s]) => [s.flag, k]));
const processFlags = new Map(Object.entries(processOptions).map(([k, s]) => [s.flag, k]));

function build(
  change?: [string, unknown],
  extra: Readonly<Record<string, unknown>> = {},
): ProxyConfig {
  const listener: Record<string, unknown> = { name: 't' };
  const proc: Record<string, unknown> = {};
  for (const [flag, row] of Object.entries(TABLE)) {
    if (row.base === undefined) continue;
    (listenerFlags.has(flag) ? listener : proc)[flag] = row.base;
  }
  for (const [flag, value] of Object.entries(extra)) {
    (listenerFlags.has(flag) ? listener : proc)[flag] = value;
  }
  if (change !== undefined) (listenerFlags.has(change[0]) ? listener : proc)[change[0]] = change[1];
  return resolveProxyConfig({
    argv: {},
    env: {},
    file: checkShape('t.yaml', { ...proc, listeners: [listener] }),
  });
}

describe('every option, changed alone, is applied by a reload or reported as needing a restart', () => {
  it('has a row for every option of the schema', () => {
    expect(Object.keys(TABLE).sort()).toEqual(
      [...listenerFlags.keys(), ...processFlags.keys()].sort(),
    );
  });

  for (const [flag, row] of Object.entries(TABLE)) {
    it(flag, async () => {
      const base = build(undefined, row.with);
      const next = build([flag, row.next], row.with);
      const app = new ProxyApp(base, {
        logger: silentLogger,
        metrics: new PromMetrics({ processMetrics: false }),
      });
      await app.start();
      try {
        const report = await app.reload(next);
        const lkey = listenerFlags.get(flag);
        const pkey = processFlags.get(flag);
        if (flag === 'name') {
          expect(report).toMatchObject({ added: ['renamed'], removed: ['t'] });
        } else if (flag === 'per-pod-ports' || flag === 'per-pod-max') {
          expect(report.needsRestart).toEqual([`t.${flag}`]);
        } else if (lkey !== undefined) {
          expect(report).toEqual({
            added: [],
            removed: [],
            applied: [`t.${flag}`],
            needsRestart: [],
          });
          const now = app.registry.get('t')?.config as Record<string, unknown> | undefined;
          expect(
            settingsEqual(
              now?.[lkey],
              (next.listeners[0] as Record<string, unknown> | undefined)?.[lkey],
            ),
          ).toBe(true);
        } else if (pkey !== undefined && LIVE_PROCESS_OPTIONS.has(pkey as never)) {
          expect(report).toEqual({ added: [], removed: [], applied: [flag], needsRestart: [] });
          expect(
            settingsEqual(
              app.config.process[pkey as keyof ProxyConfig['process']],
              next.process[pkey as keyof ProxyConfig['process']],
            ),
          ).toBe(true);
        } else {
          expect(report).toEqual({ added: [], removed: [], applied: [], needsRestart: [flag] });
        }
        // Reloading the same configuration again finds nothing to do.
        const again = await app.reload(next);
        expect(again).toEqual({
          added: [],
          removed: [],
          applied: [],
          needsRestart: again.needsRestart,
        });
        expect(again.applied).toEqual([]);
      } finally {
        await app.shutdown();
      }
    });
  }
});
