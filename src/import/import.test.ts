import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { checkShape } from '../config/config-file.ts';
import { resolveProxyConfig } from '../config/resolve.ts';
import { ConfigError } from '../core/errors.ts';
import { importHaproxy } from './haproxy-import.ts';
import { renderImportedConfig } from './imported-config.ts';
import { configMapData, importIngressNginxTcp, parseTcpServiceEntry } from './ingress-nginx-tcp.ts';
import { parseNginxConf } from './nginx-conf.ts';
import { importNginx } from './nginx-import.ts';

/** The rendered YAML must be a config Headway accepts. */
function resolves(yaml: string): ReturnType<typeof resolveProxyConfig> {
  return resolveProxyConfig({
    argv: {},
    env: {},
    file: checkShape('imported.yaml', parseYaml(yaml)),
  });
}

const bench = (name: string): string =>
  readFileSync(new URL(`../../bench/config/${name}`, import.meta.url), 'utf8');

describe('nginx.conf syntax', () => {
  it('reads blocks, quotes, comments and ${var} words with their lines', () => {
    const top = parseNginxConf(
      'n.conf',
      'a 1;\n# c\nstream {\n  map "$x y" ${v}z { default 1; }\n  b \'q;r\' ; }\n',
    );
    expect(top[0]).toMatchObject({ name: 'a', args: ['1'], line: 1 });
    const stream = top[1]?.block ?? [];
    expect(stream[0]).toMatchObject({ name: 'map', args: ['$x y', '${v}z'], line: 4 });
    expect(stream[1]).toMatchObject({ name: 'b', args: ['q;r'], line: 5 });
  });

  it.each([
    ['stream {\n server {\n', 'n.conf:2', 'never closed'],
    ['a 1', 'n.conf:1', 'does not end'],
    ['}', 'n.conf:1', 'unexpected "}"'],
    ['a "x;', 'n.conf:1', 'unterminated'],
  ])('names file and line for %j', (text, where, problem) => {
    expect(() => parseNginxConf('n.conf', text)).toThrow(ConfigError);
    expect(() => parseNginxConf('n.conf', text)).toThrow(new RegExp(`${where}.*${problem}`));
  });
});

describe('headway import nginx', () => {
  it('translates bench/config/nginx-stream.conf into a config check-config accepts', () => {
    const yaml = renderImportedConfig(
      importNginx('nginx-stream.conf', bench('nginx-stream.conf')),
      'nginx',
    );
    const config = resolves(yaml);
    expect(config.listeners.map((l) => l.listen.map((a) => `${a.host}:${a.port}`))).toEqual([
      ['127.0.0.1:23000'],
      ['127.0.0.1:23080'],
      ['127.0.0.1:23201'],
      ['127.0.0.1:23379'],
    ]);
    // backlog= is a kernel queue size Headway sets itself: not a loss worth a comment.
    expect(yaml).toContain('worker_rlimit_nofile 20000');
  });

  it('maps upstream strategies, weights, limits, timeouts, PROXY and access rules', () => {
    const conf = `stream {
      upstream db { hash $remote_addr consistent; server 10.0.0.1:5432 weight=3 max_fails=2 max_conns=50;
                    server 10.0.0.2:5432 max_fails=2 max_conns=50; server 10.0.0.3:5432 backup; }
      server { listen 5432 proxy_protocol; set_real_ip_from 10.1.0.0/16; proxy_pass db;
               proxy_timeout 5m; proxy_connect_timeout 2; proxy_protocol on;
               allow 10.0.0.0/8; deny all; }
    }`;
    const imported = importNginx('db.conf', conf);
    const options = Object.fromEntries(imported.listeners[0]?.options ?? []);
    expect(options).toMatchObject({
      name: 'db',
      listen: ':5432',
      backends: 'static://10.0.0.1:5432=3,10.0.0.2:5432',
      strategy: 'sticky',
      'eject-after': 2,
      'max-connections-per-backend': 50,
      'accept-proxy-protocol': true,
      'proxy-protocol-from': ['10.1.0.0/16'],
      'proxy-protocol': 'v1',
      'idle-timeout': '5m',
      'connect-timeout': '2s',
      allow: ['10.0.0.0/8'],
    });
    expect(imported.listeners[0]?.notes.join('\n')).toMatch(
      /db.conf:3 server 10.0.0.3:5432 backup/,
    );
    resolves(renderImportedConfig(imported, 'nginx'));
  });

  it('never drops a directive silently: each untranslated one is a comment with its line', () => {
    const conf = `worker_processes 4;\nhttp { server { listen 80; } }\nstream {\n  resolver 10.0.0.10;\n  server { listen 53 udp; proxy_pass 10.0.0.1:53; }\n  server { listen 6379; proxy_pass $upstream; }\n  server { listen 7000; proxy_pass 10.0.0.9:7000; ssl_preread on; }\n  upstream unused { server 10.0.0.5:1; }\n}\n`;
    const yaml = renderImportedConfig(importNginx('x.conf', conf), 'nginx');
    for (const line of [1, 2, 4, 5, 6, 7, 8])
      expect(yaml, `line ${line}`).toContain(`x.conf:${line}`);
    expect(resolves(yaml).listeners).toHaveLength(1);
  });

  it('translates first-match allow/deny only where deny-wins means the same', () => {
    const conf = `stream { server { listen 1; proxy_pass 127.0.0.1:2;
      deny 10.0.0.1; allow 10.0.0.0/8; deny 10.0.0.2; deny all; allow 192.168.0.0/16; } }`;
    const l = importNginx('a.conf', conf).listeners[0];
    expect(l?.options.get('allow')).toEqual(['10.0.0.0/8']);
    expect(l?.options.get('deny')).toEqual(['10.0.0.1', '10.0.0.2']);
    const notes = l?.notes.join('\n') ?? '';
    expect(notes).toMatch(/deny 10.0.0.2 follows an allow/);
    expect(notes).toMatch(/allow 192.168.0.0\/16: unreachable/);
  });
});

describe('headway import haproxy', () => {
  it('translates bench/config/haproxy.cfg into a config check-config accepts', () => {
    const yaml = renderImportedConfig(
      importHaproxy('haproxy.cfg', bench('haproxy.cfg')),
      'haproxy',
    );
    const config = resolves(yaml);
    expect(config.listeners.map((l) => l.name)).toEqual(['echo', 'http', 'iperf', 'redis']);
    expect(config.process.maxConnections).toBe(9000);
    expect(config.listeners[0]?.idleTimeout).toBe(3_600_000);
  });

  it('maps servers, checks, timeouts, ACLs and frontends with their backends', () => {
    const cfg = `global
  maxconn 100
defaults
  mode tcp
  timeout connect 3000
  timeout client 30s
  timeout server 10s
  default-server inter 1s fall 2
frontend f
  bind :6379 accept-proxy
  acl lb src 10.0.0.0/8
  tcp-request connection reject if !lb
  default_backend redis
backend redis
  balance leastconn
  option tcp-check
  tcp-check send "INFO replication\\r\\n"
  tcp-check expect string role:master
  server a 10.1.0.1:6379 check weight 5 send-proxy-v2 maxconn 20
  server b 10.1.0.2:6379 check maxconn 20
backend orphan
  server z 10.9.9.9:1
`;
    const imported = importHaproxy('h.cfg', cfg);
    const options = Object.fromEntries(imported.listeners[0]?.options ?? []);
    expect(options).toMatchObject({
      name: 'f',
      listen: ':6379',
      backends: 'static://10.1.0.1:6379=5,10.1.0.2:6379',
      strategy: 'least-conn',
      'connect-timeout': '3s',
      'idle-timeout': '10s',
      'health-check': 'tcp',
      'health-interval': '1s',
      'health-fall': 2,
      'health-rise': 2,
      'health-send': 'INFO replication\\r\\n',
      'health-expect': 'role:master',
      'max-connections-per-backend': 20,
      'proxy-protocol': 'v2',
      'accept-proxy-protocol': true,
      'proxy-protocol-from': ['0.0.0.0/0', '::/0'],
      allow: ['10.0.0.0/8'],
    });
    expect(imported.listeners[0]?.notes.join('\n')).toMatch(
      /trusts a PROXY header from every peer/,
    );
    expect(imported.notes.join('\n')).toMatch(/backend orphan: no frontend/);
    resolves(renderImportedConfig(imported, 'haproxy'));
  });

  it('names layer-7 proxies and unknown lines instead of dropping them', () => {
    const cfg = `defaults\n  mode http\nfrontend web\n  bind :80\n  default_backend app\nbackend app\n  server a 10.0.0.1:80\nlisten tcp\n  mode tcp\n  bind :81\n  stick-table type ip size 1m\n  server b 10.0.0.2:81 check port 9000\n`;
    const yaml = renderImportedConfig(importHaproxy('h.cfg', cfg), 'haproxy');
    expect(yaml).toMatch(/h.cfg:3 frontend web: mode http is layer 7/);
    expect(yaml).toMatch(/h.cfg:11 stick-table/);
    expect(yaml).toMatch(/h.cfg:12 server b .*parameter port/);
    expect(resolves(yaml).listeners.map((l) => l.name)).toEqual(['tcp']);
  });

  it('refuses a line outside any section with file and line', () => {
    expect(() => importHaproxy('h.cfg', '\n  bind :1\n')).toThrow(/h.cfg:2/);
  });
});

describe('headway import ingress-nginx-tcp', () => {
  it.each([
    ['6379', 'prod/redis:6379', { namespace: 'prod', service: 'redis', servicePort: 6379 }],
    [
      '5432',
      'db/pg:postgres:PROXY',
      { servicePort: 'postgres', decodeProxy: true, encodeProxy: false },
    ],
    ['9000', 'a/b:9000::PROXY', { decodeProxy: false, encodeProxy: true }],
    ['9001', 'a/b:9000:PROXY:PROXY', { decodeProxy: true, encodeProxy: true }],
  ])('reads "%s": "%s" as ingress-nginx does', (key, value, expected) => {
    expect(parseTcpServiceEntry(key, value)).toMatchObject(expected);
  });

  it.each([
    ['http', 'a/b:1'],
    ['70000', 'a/b:1'],
    ['1', 'b:1'],
    ['1', 'a/b'],
    ['1', 'a/b:1:proxy'],
    ['1', 'a/b:1:PROXY:PROXY:x'],
    ['1', 'A/b:1'],
  ])('refuses "%s": "%s" with a reason', (key, value) => {
    expect(typeof parseTcpServiceEntry(key, value)).toBe('string');
  });

  it('turns a ConfigMap file into k8s:// listeners, naming skipped entries', () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tcp-services, namespace: ingress-nginx}\ndata:\n  "6379": "prod/redis:redis"\n  "5432": "prod/pg:5432:PROXY:PROXY"\n  "bad": "x"\n`;
    const imported = importIngressNginxTcp('tcp.yaml', configMapData('tcp.yaml', text));
    const yaml = renderImportedConfig(imported, 'ingress-nginx-tcp');
    expect(yaml).toMatch(/not translated: tcp.yaml "bad": "x"/);
    const config = resolves(yaml);
    expect(config.listeners.map((l) => [l.name, l.backends?.uri])).toEqual([
      ['prod-pg-5432', 'k8s://prod/pg:5432'],
      ['prod-redis-6379', 'k8s://prod/redis:redis'],
    ]);
    expect(config.listeners[0]?.acceptProxyProtocol).toBe(true);
    expect(config.listeners[0]?.proxyProtocol).toBe('v1');
  });

  it('finds the ConfigMap in a kubectl list and refuses a file without one', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- kind: Service\n- kind: ConfigMap\n  data: {"1": "a/b:1"}\n`;
    expect(configMapData('l.yaml', list)).toEqual({ '1': 'a/b:1' });
    expect(() => configMapData('s.yaml', 'kind: Service\n')).toThrow(/holds no ConfigMap/);
  });
});
