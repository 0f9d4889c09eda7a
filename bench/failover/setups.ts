/**
 * The setups bench/failover compares: which proxy, which check, and which
 * role change it faces. Each maps to a Headway command line or an HAProxy
 * configuration.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = join(ROOT, 'src/cli/main.ts');
export const ROLE_SERVER = join(ROOT, 'bench/failover-role-server.ts');
export const HAPROXY = '/usr/sbin/haproxy';
/** Redis servers (one port, like pods of a headless Service): .101 starts as primary. */
export const NODES = ['127.0.0.101', '127.0.0.102', '127.0.0.103'] as const;
/** Sentinels, on one port of their own. */
export const SENTINELS = ['127.0.0.104', '127.0.0.105', '127.0.0.106'] as const;
export const OLD = NODES[0];
export const NEW = NODES[1];
export const MASTER_NAME = 'bench';

/**
 * `replicaof`: the bench itself promotes .102 and demotes .101 in the same
 * tick (REPLICAOF), so the demoted primary says `role:slave` from T0 on.
 * `sentinel`: `SENTINEL failover` on one of three sentinels; T0 is the first
 * `+failover-state-wait-promotion` (the leader has just sent REPLICAOF NO
 * ONE). Sentinel leaves the old primary a primary until it converts it
 * (seconds after `+switch-master`).
 */
export type RoleChange = 'replicaof' | 'sentinel';

export const SETUPS = [
  'headway-readme',
  'headway-failfast',
  'headway-http',
  'haproxy-redis',
  'haproxy-http',
  'headway-sentinel',
  'headway-failfast-sf',
  'haproxy-redis-sf',
] as const;
export type SetupName = (typeof SETUPS)[number];

export function roleChangeOf(setup: SetupName): RoleChange {
  return setup === 'headway-sentinel' || setup.endsWith('-sf') ? 'sentinel' : 'replicaof';
}

export const LABELS: Record<SetupName, string> = {
  'headway-readme':
    "Headway, the README's role check (send `INFO replication`, expect `role:master`)",
  'headway-failfast': 'Headway, fail-fast role check (the same plus `--health-reject role:slave`)',
  'headway-http':
    'Headway, HTTP check on another port (`--health-check http --health-port P --health-path /primary`)',
  'haproxy-redis':
    'HAProxy, its documented Redis check (`tcp-check send INFO replication`, `expect string role:master`, `send QUIT`, `expect string +OK`)',
  'haproxy-http':
    'HAProxy, Patroni-style HTTP check (`option httpchk GET /primary`, `http-check expect status 200`, `check port P`)',
  'headway-sentinel':
    'Headway, `--backends sentinel://MASTER@S1,S2,S3` (close-on-down by default, no health check flags)',
  'headway-failfast-sf': 'Headway, fail-fast role check, as above',
  'haproxy-redis-sf': 'HAProxy, its documented Redis check, as above',
};

export interface ProxyOptions {
  readonly interval: number;
  readonly timeout: number;
  readonly strategy: string;
  readonly listen: number;
  readonly httpPort: number;
  readonly redisPort: number;
  readonly sentinelPort: number;
}

export function headwayArgs(setup: SetupName, o: ProxyOptions): string[] {
  if (setup === 'headway-sentinel') {
    // The command a Sentinel user runs: discovery decides, no health check flags.
    const sentinels = SENTINELS.map((h) => `${h}:${o.sentinelPort}`).join(',');
    return [
      MAIN,
      '--listen',
      `127.0.0.1:${o.listen}`,
      '--admin',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      '--backends',
      `sentinel://${MASTER_NAME}@${sentinels}`,
    ];
  }
  const common = [
    MAIN,
    '--listen',
    `127.0.0.1:${o.listen}`,
    '--admin',
    'off',
    '--log-level',
    'warn',
    '--backends',
    `static://${NODES.map((h) => `${h}:${o.redisPort}`).join(',')}`,
    '--strategy',
    o.strategy,
    '--health-interval',
    `${o.interval}ms`,
    '--health-timeout',
    `${o.timeout}ms`,
    '--health-rise',
    '1',
    '--health-fall',
    '1',
  ];
  const role = [
    '--health-check',
    'tcp',
    '--health-send',
    'INFO replication\\r\\n',
    '--health-expect',
    'role:master',
  ];
  if (setup === 'headway-readme') return [...common, ...role];
  if (setup === 'headway-failfast' || setup === 'headway-failfast-sf') {
    return [...common, ...role, '--health-reject', 'role:slave'];
  }
  return [
    ...common,
    '--health-check',
    'http',
    '--health-port',
    String(o.httpPort),
    '--health-path',
    '/primary',
  ];
}

export function haproxyConfig(setup: SetupName, o: ProxyOptions): string {
  const check =
    setup === 'haproxy-http'
      ? ['  option httpchk GET /primary', '  http-check expect status 200']
      : [
          '  option tcp-check',
          '  tcp-check send INFO\\ replication\\r\\n',
          '  tcp-check expect string role:master',
          '  tcp-check send QUIT\\r\\n',
          '  tcp-check expect string +OK',
        ];
  const port = setup === 'haproxy-http' ? ` port ${o.httpPort}` : '';
  return [
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    `  timeout check ${o.timeout}ms`,
    'listen redis',
    `  bind 127.0.0.1:${o.listen}`,
    '  balance roundrobin',
    ...check,
    `  default-server inter ${o.interval} fall 1 rise 1 on-marked-down shutdown-sessions`,
    ...NODES.map((h, i) => `  server r${i + 1} ${h}:${o.redisPort} check${port}`),
    '',
  ].join('\n');
}
