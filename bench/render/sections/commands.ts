/** The report's section listing the commands behind each measurement, and its closing notes. */
import { STRAY_LIMIT_PCT, TESTS, type Collected } from '../model.ts';

export const GROUP_TITLE = {
  rr: 'Request/response',
  bulk: 'Bulk transfer',
  connrate: 'Connection rate',
} as const;

export const GROUP_TEXT = {
  rr:
    'One request in flight per connection. redis-benchmark talks to redis-server; `headway bench rr` ' +
    'sends 64 bytes to `headway echo` and waits for them to come back.',
  bulk:
    'iperf3 sends one way (client to the one iperf3 server, through the proxy); `headway bench stream` ' +
    'writes 64 KiB chunks to `headway echo` and reads the echo, so the proxy relays both directions ' +
    '(CPU per MB counts both).',
  connrate:
    'A new connection for every exchange. wrk sends `Connection: close` requests to an NGINX HTTP backend; ' +
    '`headway bench connect` connects to `headway echo`, exchanges 64 bytes and closes. Latency is ' +
    'connect plus the first reply.',
} as const;

export function commandsSection(c: Collected): string[] {
  const out = ['## Exact commands', ''];
  const compiled = c.env.get('headway_runtime') === 'compiled';
  const entry = compiled ? 'node dist/cli/main.js' : 'node src/cli/main.ts';
  const proxies = [
    '# Headway: one process per backend kind (echo 21000, http 21080, iperf 21201, redis 21379)',
    c.env.get('headway_cmd') ??
      'node src/cli/main.ts --listen 127.0.0.1:21000 --backends static://127.0.0.1:19000 --admin off --log-level warn',
  ];
  const bare = c.env.get('headway_bare_cmd');
  if (bare !== undefined && c.measurements.some((m) => m.target === 'headway-bare')) {
    proxies.push('# Headway, tracking off: echo 24000, http 24080, redis 24379', bare);
  }
  out.push(
    'Backends (pinned with `taskset -c 0`):',
    '',
    '```',
    `${entry} echo --listen 127.0.0.1:19000`,
    "redis-server --bind 127.0.0.1 --port 16379 --save '' --appendonly no --protected-mode no --daemonize no",
    'iperf3 --server --bind 127.0.0.1 --port 15201',
    'nginx -c bench/config/nginx-http.conf            # return 200 "ok\\n" on 127.0.0.1:18080',
    'redis-cli -p 16379 SET key:__rand_int__ <64 bytes>  # so that GET returns 64 bytes',
    '```',
    '',
    'Proxies (pinned with `taskset -c 1`; each listens on its own loopback port per backend):',
    '',
    '```',
    ...proxies,
    'haproxy -db -f bench/config/haproxy.cfg              # mode tcp, nbthread 1, maxconn 9000; ports 22xxx',
    'nginx -c bench/config/nginx-stream.conf              # worker_processes 1, worker_rlimit_nofile 20000; ports 23xxx',
    '```',
    '',
    'Load (pinned with `taskset -c 0`; shown for the Headway port of each test; direct, HAProxy and NGINX differ only in the port):',
    '',
    '```',
  );
  for (const t of TESTS) {
    const m = c.measurements.find((x) => x.test === t.id && x.target === 'headway' && x.run === 1);
    if (m !== undefined) {
      out.push(
        m.cmd
          .replace(/ --json \S+/, ' --json OUT.json')
          .replace(/^node \S+\/dist\/cli\/main\.js/, entry),
      );
    }
  }
  const r = c.rss.find((x) => x.target === 'headway');
  if (r !== undefined) out.push(r.cmd);
  out.push('```', '');
  return out;
}

export const NOTES = [
  '## Reading these numbers',
  '',
  '- Two cores: the load generators and the backends share CPU 0, so for most figures the load side is the limit, ' +
    'not the proxy. The "proxy core busy" column shows which: near 100 % the proxy set the pace.',
  "- CPU per operation is the proxy process's user + system time (from `/proc/PID/stat`, all threads) divided by the " +
    "operations in the run; for NGINX it is the worker process. It includes the kernel's work on the proxy's sockets.",
  '- With one connection, every exchange through a proxy wakes another core twice; direct traffic stays on CPU 0. ' +
    'On a virtual machine those cross-core wake-ups dominate single-connection latency, so compare proxies with each ' +
    'other there, not with direct.',
  '- Headway runs on Node.js with a JIT: bench/compare warms every proxy up before measuring.',
  '- RSS counts user-space memory only; socket buffers live in the kernel.',
  `- † marks a target where, in some run, processes other than the proxy took more than ${STRAY_LIMIT_PCT} % of the proxy core ` +
    '(for direct: any process on CPU 1): something else was running on the machine.',
  '',
];
