import type { HostPort } from '../core/address.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from '../core/logger.ts';
import { parseBackendsUri, type BackendsSpec } from './backends-uri.ts';
import { combineBackends } from './combine-backends.ts';
import {
  STICKY_KEYS,
  STRATEGY_NAMES,
  type StickyKey,
  type StrategyName,
} from './strategy-names.ts';
import { parseCheckExpect, parseCheckSend, type CheckExpect } from './check-string.ts';
import {
  ANY_2XX,
  parseHealthHost,
  parseHealthPath,
  parseStatusSet,
  type StatusSet,
} from './health-check-values.ts';
import type { Cidr } from '../core/cidr.ts';
import type { Selector } from './selector.ts';
import * as v from './values.ts';
import { ValueError } from '../core/errors.ts';
import {
  ADMIN_AUTH_MODES,
  checkTokenText,
  readTokenFile,
  type AdminAuthMode,
} from './admin-token.ts';

/**
 * The one option schema. CLI flags, `HEADWAY_*` environment variables and
 * config-file keys are all generated from these entries, so names, defaults
 * and error messages cannot drift apart.
 */
export interface OptionSpec<T> {
  /** Flag name (`--connect-timeout`); env is `HEADWAY_CONNECT_TIMEOUT`; file key is the same as the flag. */
  readonly flag: string;
  /** `process` options apply once; `listener` options belong to each listener. */
  readonly scope: 'process' | 'listener';
  readonly group: string;
  readonly describe: string;
  /** The nearest HAProxy / NGINX stream setting, for users coming from them. */
  readonly equivalent?: string;
  /** Given more than once (or comma-separated in env), the parsed arrays are concatenated. */
  readonly repeatable?: boolean;
  /**
   * Given more than once (flags, or a list in the file), the parsed values are combined into one
   * (e.g. `--backends` static lists merge); throws ValueError when they cannot be.
   */
  // `never[]`: an OptionSpec<X> must stay assignable to OptionSpec<unknown> (parameters are
  // contravariant); the resolver only ever passes values this spec's own `parse` returned.
  readonly combine?: (values: readonly never[]) => T;
  readonly boolean?: boolean;
  /** A secret (a token): masked wherever the configuration is shown (`check-config --print`). */
  readonly secret?: boolean;
  /** Any text is valid (a path, a token, bytes): there is no bad value to refuse. */
  readonly freeText?: boolean;
  readonly default: T;
  /** How the default reads in help and README. */
  readonly defaultText: string;
  readonly parse: (raw: v.RawValue) => T;
}

type Parsed<S> = S extends OptionSpec<infer T> ? T : never;

function opt<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export const listenerOptions = {
  name: opt({
    flag: 'name',
    scope: 'listener',
    group: 'Listener',
    describe: 'Listener name, used as the `listener` label in metrics and logs',
    equivalent: 'HAProxy `listen NAME`',
    default: 'default',
    defaultText: 'default',
    parse: v.listenerName,
  }),
  listen: opt<readonly HostPort[]>({
    flag: 'listen',
    scope: 'listener',
    group: 'Listener',
    repeatable: true,
    describe:
      'Address to accept client connections on (HOST:PORT, [IPv6]:PORT or :PORT); repeatable. The default is dual-stack and falls back to 0.0.0.0:8080 where IPv6 is unavailable',
    equivalent: 'HAProxy `bind`, NGINX `listen`',
    default: [],
    defaultText: '[::]:8080',
    parse: (raw) => [v.hostPort(raw)],
  }),
  listenV6only: opt<'auto' | 'on' | 'off'>({
    flag: 'listen-v6only',
    scope: 'listener',
    group: 'Listener',
    describe:
      'Whether a [::]:PORT listen address also accepts IPv4 (off: dual-stack) or IPv6 only (on). auto: IPv6 only when an IPv4 address with the same port is also configured (0.0.0.0:P plus [::]:P), else dual-stack. Config file key: v6only',
    equivalent: 'NGINX `listen [::]:P ipv6only=on`, HAProxy `bind ... v6only`',
    default: 'auto',
    defaultText: 'auto',
    parse: (raw) => {
      const text = v.asText(raw).toLowerCase();
      if (text === 'auto') return 'auto';
      if (['on', 'true', 'yes'].includes(text)) return 'on';
      if (['off', 'false', 'no'].includes(text)) return 'off';
      throw new ValueError(`"${v.asText(raw)}" is not auto, on or off`);
    },
  }),
  backends: opt<BackendsSpec | null>({
    flag: 'backends',
    scope: 'listener',
    group: 'Listener',
    describe:
      'Where backends come from: static://HOST:PORT[=WEIGHT][,HOST:PORT[=WEIGHT]...] (a fixed list), dns://NAME:PORT (A/AAAA records, e.g. a headless Service), srv://_PORTNAME._tcp.NAME (SRV records), k8s://[NAMESPACE/]SERVICE[:PORT] (EndpointSlices), or sentinel://MASTER@HOST:PORT[,HOST:PORT...][?role=replica] (the master or replicas Redis Sentinel names), e.g. k8s://db/redis:6379; repeatable: static lists merge, one source per listener',
    equivalent: 'HAProxy `server` lines, NGINX `upstream`',
    default: null,
    defaultText: '(required)',
    parse: (raw) => parseBackendsUri(v.asText(raw)),
    combine: (specs: readonly (BackendsSpec | null)[]) => combineBackends(specs),
  }),
  strategy: opt<StrategyName>({
    flag: 'strategy',
    scope: 'listener',
    group: 'Balancing',
    describe: 'How a backend is picked for each new connection',
    equivalent: 'HAProxy `balance`, NGINX `least_conn`',
    default: 'least-conn',
    defaultText: 'least-conn',
    parse: v.oneOf(STRATEGY_NAMES),
  }),
  stickyKey: opt<StickyKey>({
    flag: 'sticky-key',
    scope: 'listener',
    group: 'Balancing',
    describe:
      'What --strategy sticky hashes: the client address, or address and source port (client-ip|client-ip-port)',
    equivalent: 'HAProxy `balance source`, NGINX `hash $remote_addr consistent`',
    default: 'client-ip',
    defaultText: 'client-ip',
    parse: v.oneOf(STICKY_KEYS),
  }),
  stickyBoundedLoad: opt({
    flag: 'sticky-bounded-load',
    scope: 'listener',
    group: 'Balancing',
    describe:
      'Cap each backend of --strategy sticky at FACTOR × its weighted mean load (e.g. 1.25), sending the excess to the next choice; off for pure hashing',
    equivalent: 'HAProxy `hash-balance-factor` (as a percentage), Envoy `hash_balance_factor`',
    default: 0,
    defaultText: 'off',
    parse: (raw) => {
      const text = v.asText(raw);
      if (text === 'off' || text === 'none' || text === '0') return 0;
      const factor = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      if (!(factor >= 1 && factor <= 100)) {
        throw new ValueError(
          `"${text}" is not a load factor (a number from 1 to 100, e.g. 1.25, or off)`,
        );
      }
      return factor;
    },
  }),
  latencyDecay: opt({
    flag: 'latency-decay',
    scope: 'listener',
    group: 'Balancing',
    describe:
      'Time constant of --strategy latency: how fast a latency estimate forgets, so a backend that was slow is tried again',
    equivalent: 'Linkerd peak-EWMA decay (10s)',
    default: 10_000,
    defaultText: '10s',
    parse: (raw) => {
      const ms = v.duration(raw);
      if (ms < 1) throw new ValueError(`${v.asText(raw)} is too short (at least 1ms)`);
      return ms;
    },
  }),
  connectTimeout: opt({
    flag: 'connect-timeout',
    scope: 'listener',
    group: 'Timeouts',
    describe: 'Time allowed for one backend connection attempt',
    equivalent: 'HAProxy `timeout connect`, NGINX `proxy_connect_timeout`',
    default: 5000,
    defaultText: '5s',
    parse: v.duration,
  }),
  connectRetries: opt({
    flag: 'connect-retries',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'Extra connection attempts after a failed one, each on a backend this connection has not tried while one exists',
    equivalent: 'HAProxy `retries` + `option redispatch`, NGINX `proxy_next_upstream_tries`',
    default: 2,
    defaultText: '2',
    parse: v.integer(0, 100),
  }),
  idleTimeout: opt({
    flag: 'idle-timeout',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'Close a connection after this long without bytes in either direction (0 = never); checked every tenth of it (at most every second), so it fires up to that much late, never early',
    equivalent: 'HAProxy `timeout tunnel` / `timeout client`+`server`, NGINX `proxy_timeout`',
    default: 3_600_000,
    defaultText: '1h',
    parse: v.durationOrOff,
  }),
  halfCloseTimeout: opt({
    flag: 'half-close-timeout',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'After one side has sent FIN, close the connection if the other side stays silent this long (0 = use the idle timeout); checked like --idle-timeout',
    equivalent: 'HAProxy `timeout client-fin` / `timeout server-fin`',
    default: 60_000,
    defaultText: '60s',
    parse: v.durationOrOff,
  }),
  tcpKeepalive: opt({
    flag: 'tcp-keepalive',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'TCP keepalive idle time on both sides, so connections to a vanished node die (off to disable)',
    equivalent: 'HAProxy `option tcpka`, NGINX `proxy_socket_keepalive`',
    default: 60_000,
    defaultText: '60s',
    parse: v.durationOrOff,
  }),
  latencyTracking: opt({
    flag: 'latency-tracking',
    scope: 'listener',
    group: 'Observability',
    describe:
      'Per-backend latency histograms (connect, first byte, session) for /backends and /metrics (on|off)',
    equivalent:
      'NGINX `$upstream_connect_time` / `$upstream_first_byte_time`; HAProxy keeps only averages',
    default: true,
    defaultText: 'on',
    parse: v.boolean,
  }),
  maxConnectionLifetime: opt({
    flag: 'max-connection-lifetime',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'Close connections older than this (±10 % jitter) with a graceful close, so long-lived clients re-spread after a scale-up (0 = off)',
    equivalent: 'Envoy `max_downstream_connection_duration`',
    default: 0,
    defaultText: 'off',
    parse: v.durationOrOff,
  }),
  healthCheck: opt<'auto' | 'tcp' | 'http' | 'none'>({
    flag: 'health-check',
    scope: 'listener',
    group: 'Health',
    describe:
      'Active health checks: tcp (connect, or send/expect), http (GET --health-path, pass on --health-expect-status), none, or auto = tcp for static/dns/srv and none for k8s (readiness comes from the API)',
    equivalent: 'HAProxy `check` / `option httpchk`, NGINX Plus `health_check`',
    default: 'auto',
    defaultText: 'auto',
    parse: v.oneOf(['auto', 'tcp', 'http', 'none'] as const),
  }),
  healthInterval: opt({
    flag: 'health-interval',
    scope: 'listener',
    group: 'Health',
    describe: 'Time between two checks of one backend (checks are spread over it)',
    equivalent: 'HAProxy `inter`',
    default: 5000,
    defaultText: '5s',
    parse: v.durationAtLeast(100),
  }),
  healthTimeout: opt({
    flag: 'health-timeout',
    scope: 'listener',
    group: 'Health',
    describe: 'Deadline of one check',
    equivalent: 'HAProxy `timeout check`',
    default: 1000,
    defaultText: '1s',
    parse: v.durationAtLeast(10),
  }),
  healthRise: opt<number | null>({
    flag: 'health-rise',
    scope: 'listener',
    group: 'Health',
    describe: 'Consecutive passing checks that bring a backend back',
    equivalent: 'HAProxy `rise`',
    default: null,
    defaultText: '2 (1 for a role check: --health-expect or http)',
    parse: v.integer(1, 100),
  }),
  healthFall: opt<number | null>({
    flag: 'health-fall',
    scope: 'listener',
    group: 'Health',
    describe: 'Consecutive failing checks that take a backend out',
    equivalent: 'HAProxy `fall`',
    default: null,
    defaultText: '3 (1 for a role check: --health-expect or http)',
    parse: v.integer(1, 100),
  }),
  closeOnDown: opt<'auto' | 'on' | 'off'>({
    flag: 'close-on-down',
    scope: 'listener',
    group: 'Health',
    describe:
      'Close the open connections of a backend that fails its health checks, so clients reconnect elsewhere (auto = on for a role check: --health-expect or --health-check http)',
    equivalent:
      'HAProxy `on-marked-down shutdown-sessions`, Envoy `close_connections_on_host_health_failure`',
    default: 'auto',
    defaultText: 'auto',
    parse: v.oneOf(['auto', 'on', 'off'] as const),
  }),
  healthSend: opt<Buffer | null>({
    flag: 'health-send',
    freeText: true,
    scope: 'listener',
    group: 'Health',
    describe:
      'Bytes a check sends after connecting (escapes \\r \\n \\t \\\\ \\xHH), e.g. "PING\\r\\n"',
    equivalent: 'HAProxy `tcp-check send`',
    default: null,
    defaultText: '(nothing)',
    // Bytes: a trimmed value would lose a line end or a leading space the backend needs.
    parse: (raw) => parseCheckSend(v.asBytesText(raw)),
  }),
  healthExpect: opt<CheckExpect | null>({
    flag: 'health-expect',
    freeText: true,
    scope: 'listener',
    group: 'Health',
    describe:
      'What a passing check must read within its timeout (16 KiB at most): a substring (same escapes), or /regex/',
    equivalent: 'HAProxy `tcp-check expect string|rstring`',
    default: null,
    defaultText: '(connect is enough)',
    parse: (raw) => parseCheckExpect(v.asBytesText(raw)),
  }),
  healthReject: opt<readonly CheckExpect[]>({
    flag: 'health-reject',
    freeText: true,
    scope: 'listener',
    group: 'Health',
    repeatable: true,
    describe:
      'With --health-expect: fail a check the moment this substring or /regex/ is read, instead of at the timeout (e.g. role:slave); repeatable',
    equivalent: 'HAProxy `tcp-check expect ! string`',
    default: [],
    defaultText: '(none)',
    parse: (raw) => [parseCheckExpect(v.asText(raw))],
  }),
  healthPort: opt<number | null>({
    flag: 'health-port',
    scope: 'listener',
    group: 'Health',
    describe:
      "Port the checks connect to instead of the backend's own (e.g. 8008 for Patroni's REST API); any check type",
    equivalent: 'HAProxy `check port`, Envoy `health_check_config.port_value`',
    default: null,
    defaultText: "(the backend's port)",
    parse: v.integer(1, 65535),
  }),
  healthPath: opt({
    flag: 'health-path',
    freeText: true,
    scope: 'listener',
    group: 'Health',
    describe: 'With --health-check http: the path requested (e.g. /primary for Patroni)',
    equivalent: 'HAProxy `option httpchk GET /path`',
    default: '/',
    defaultText: '/',
    parse: (raw) => parseHealthPath(v.asText(raw)),
  }),
  healthHost: opt<string | null>({
    flag: 'health-host',
    scope: 'listener',
    group: 'Health',
    describe: 'With --health-check http: the Host header',
    equivalent: 'HAProxy `http-check send hdr Host`',
    default: null,
    defaultText: '(the checked address:port)',
    parse: (raw) => parseHealthHost(v.asText(raw)),
  }),
  healthExpectStatus: opt<StatusSet>({
    flag: 'health-expect-status',
    scope: 'listener',
    group: 'Health',
    describe:
      'With --health-check http: the status codes that pass, as codes and ranges (e.g. 200,204 or 200-399)',
    equivalent: 'HAProxy `http-check expect status`',
    default: ANY_2XX,
    defaultText: '200-299',
    parse: (raw) => parseStatusSet(v.asText(raw)),
  }),
  ejectAfter: opt({
    flag: 'eject-after',
    scope: 'listener',
    group: 'Health',
    describe:
      'Consecutive connect failures that eject a backend for 10 s, doubling per repeat up to 5 min (0 = off)',
    equivalent: 'Envoy `outlier_detection.consecutive_local_origin_failure`, NGINX `max_fails`',
    default: 3,
    defaultText: '3',
    parse: v.integer(0, 1000),
  }),
  maxEjectionPercent: opt({
    flag: 'max-ejection-percent',
    scope: 'listener',
    group: 'Health',
    describe: 'Never eject more than this share of the backends',
    equivalent: 'Envoy `max_ejection_percent`',
    default: 50,
    defaultText: '50',
    parse: v.integer(0, 100),
  }),
  slowStart: opt({
    flag: 'slow-start',
    scope: 'listener',
    group: 'Health',
    describe:
      'Ramp a new or recovered backend from 10 % to its full weight over this long (not with sticky) (0 = off)',
    equivalent: 'HAProxy `slowstart`, Envoy `slow_start_config`',
    default: 0,
    defaultText: 'off',
    parse: v.durationOrOff,
  }),
  select: opt<readonly Selector[]>({
    flag: 'select',
    scope: 'listener',
    group: 'Stateful workloads',
    repeatable: true,
    describe:
      'Keep only the endpoints matching KEY=VALUE (keys: pod, hostname, zone, node, address); repeatable, all must match. Pins a listener to one pod across restarts and IP changes',
    equivalent: 'HAProxy one `server` line per pod; NGINX one upstream per pod',
    default: [],
    defaultText: '(all)',
    parse: (raw) => [v.selector(raw)],
  }),
  routeBy: opt<'strategy' | 'sni'>({
    flag: 'route-by',
    scope: 'listener',
    group: 'Stateful workloads',
    describe:
      'sni: read the TLS ClientHello (without terminating TLS) and send the connection to the pod its server name names (see --sni-pattern); strategy: the balancing strategy only',
    equivalent: 'NGINX `ssl_preread` + `map $ssl_preread_server_name`, HAProxy `req.ssl_sni`',
    default: 'strategy',
    defaultText: 'strategy',
    parse: v.oneOf(['strategy', 'sni'] as const),
  }),
  sniPattern: opt<string | null>({
    flag: 'sni-pattern',
    scope: 'listener',
    group: 'Stateful workloads',
    describe:
      'With --route-by sni: how server names map to pods, e.g. "{hostname}.db.example.com" (the {hostname} label is a pod hostname or name)',
    default: null,
    defaultText: '(required with --route-by sni)',
    parse: (raw) => {
      const t = v.text(raw);
      if (t.split('{hostname}').length !== 2)
        throw new ValueError(`"${t}" must contain {hostname} once`);
      return t;
    },
  }),
  sniStrict: opt({
    flag: 'sni-strict',
    scope: 'listener',
    group: 'Stateful workloads',
    boolean: true,
    describe:
      'With --route-by sni: close a connection whose server name names no pod (no_backend) instead of balancing it',
    default: false,
    defaultText: 'false',
    parse: v.boolean,
  }),
  perPodPorts: opt({
    flag: 'per-pod-ports',
    scope: 'listener',
    group: 'Stateful workloads',
    describe:
      'Also open one listener per pod on BASEPORT + its StatefulSet ordinal (db-3 → BASEPORT+3), on the --listen hosts; pods come and go with their listeners (0 = off)',
    equivalent: 'one HAProxy frontend per pod; Kafka-style advertised ports',
    default: 0,
    defaultText: 'off',
    parse: v.integer(0, 65535),
  }),
  perPodMax: opt({
    flag: 'per-pod-max',
    scope: 'listener',
    group: 'Stateful workloads',
    describe:
      'Highest number of per-pod listeners: ordinals 0 … N-1 get a port, others are refused',
    default: 16,
    defaultText: '16',
    parse: v.integer(1, 4096),
  }),
  allow: opt<readonly Cidr[]>({
    flag: 'allow',
    scope: 'listener',
    group: 'Access control',
    repeatable: true,
    describe:
      'Accept clients only from these CIDRs (IPv4 or IPv6; IPv4-mapped addresses match IPv4 blocks); repeatable. Checked before any backend is touched',
    equivalent: 'NGINX `allow`, HAProxy `tcp-request connection reject unless { src … }`',
    default: [],
    defaultText: '(everyone)',
    parse: (raw) => [v.cidr(raw)],
  }),
  deny: opt<readonly Cidr[]>({
    flag: 'deny',
    scope: 'listener',
    group: 'Access control',
    repeatable: true,
    describe: 'Refuse clients from these CIDRs (wins over --allow), closed as denied; repeatable',
    equivalent: 'NGINX `deny`, HAProxy `tcp-request connection reject if { src … }`',
    default: [],
    defaultText: '(nobody)',
    parse: (raw) => [v.cidr(raw)],
  }),
  proxyProtocol: opt<'off' | 'v1' | 'v2'>({
    flag: 'proxy-protocol',
    scope: 'listener',
    group: 'PROXY protocol',
    describe:
      "Send the client's address to backends in a PROXY protocol header (v1 text or v2 binary)",
    equivalent: 'HAProxy `send-proxy` / `send-proxy-v2`, NGINX `proxy_protocol on`',
    default: 'off',
    defaultText: 'off',
    parse: v.oneOf(['off', 'v1', 'v2'] as const),
  }),
  acceptProxyProtocol: opt({
    flag: 'accept-proxy-protocol',
    scope: 'listener',
    group: 'PROXY protocol',
    boolean: true,
    describe:
      'Read a PROXY protocol header (v1 or v2, auto-detected) from clients: its address feeds sticky hashing, access control, per-client limits and logs. A missing, malformed or late (3 s) header closes that connection (proxy_protocol_error). With --allow, --deny or --max-connections-per-client it needs --proxy-protocol-from (else any client could forge its address)',
    equivalent: 'HAProxy `accept-proxy`, NGINX `listen … proxy_protocol`',
    default: false,
    defaultText: 'false',
    parse: v.boolean,
  }),
  proxyProtocolFrom: opt<readonly Cidr[]>({
    flag: 'proxy-protocol-from',
    scope: 'listener',
    group: 'PROXY protocol',
    repeatable: true,
    describe:
      'With --accept-proxy-protocol, expect the header only from these peers (the load balancers); others are direct clients, checked by their own address; repeatable. Required with --allow, --deny or --max-connections-per-client',
    equivalent: 'Traefik `proxyProtocol.trustedIPs`, NGINX `set_real_ip_from`',
    default: [],
    defaultText: '(every peer)',
    parse: (raw) => [v.cidr(raw)],
  }),
  maxConnectionsPerBackend: opt({
    flag: 'max-connections-per-backend',
    scope: 'listener',
    group: 'Limits',
    describe:
      'Most connections open to one backend; full backends are skipped, and when all are full a client waits up to --queue-timeout (0 = unlimited)',
    equivalent: 'HAProxy server `maxconn` (with its queue), NGINX `max_conns`',
    default: 0,
    defaultText: 'unlimited',
    parse: v.limit,
  }),
  queueTimeout: opt({
    flag: 'queue-timeout',
    scope: 'listener',
    group: 'Limits',
    describe:
      'How long a client may wait for a backend below its connection limit before it is closed as rejected',
    equivalent: 'HAProxy `timeout queue`',
    default: 5000,
    defaultText: '5s',
    parse: v.duration,
  }),
  maxConnectionsPerClient: opt({
    flag: 'max-connections-per-client',
    scope: 'listener',
    group: 'Limits',
    describe:
      'Most connections open at once from one client address (the PROXY-protocol address when accepted); over it, closed as rejected (0 = unlimited)',
    equivalent: 'HAProxy `src_conn_cur` + `tcp-request connection reject`, NGINX `limit_conn`',
    default: 0,
    defaultText: 'unlimited',
    parse: v.limit,
  }),
  dnsFamily: opt<'any' | '4' | '6'>({
    flag: 'dns-family',
    scope: 'listener',
    group: 'DNS discovery',
    describe: 'Address records used by dns:// and srv:// (any = A and AAAA)',
    equivalent: 'HAProxy `resolve-prefer`, NGINX `resolver ... ipv6=off`',
    default: 'any',
    defaultText: 'any',
    parse: v.oneOf(['any', '4', '6'] as const),
  }),
  dnsServer: opt<readonly HostPort[]>({
    flag: 'dns-server',
    scope: 'listener',
    group: 'DNS discovery',
    repeatable: true,
    describe:
      'DNS server to query (HOST[:PORT], port 53 by default) instead of the system resolvers; repeatable',
    equivalent: 'HAProxy `resolvers` / `nameserver`, NGINX `resolver`',
    default: [],
    defaultText: '/etc/resolv.conf',
    parse: (raw) => [v.hostWithDefaultPort(53)(raw)],
  }),
  dnsMinRefresh: opt({
    flag: 'dns-min-refresh',
    scope: 'listener',
    group: 'DNS discovery',
    describe: 'Shortest wait between DNS refreshes (TTLs below it are raised to it)',
    equivalent: 'HAProxy `hold valid`, NGINX `resolver valid=`',
    default: 1000,
    defaultText: '1s',
    // A floor: with 0, a TTL-0 answer or a persistent SERVFAIL would re-query in a tight loop.
    parse: v.durationAtLeast(100),
  }),
  dnsMaxRefresh: opt({
    flag: 'dns-max-refresh',
    scope: 'listener',
    group: 'DNS discovery',
    describe: 'Longest wait between DNS refreshes, and the cap of the retry backoff',
    equivalent: 'Envoy `dns_refresh_rate` with `respect_dns_ttl`',
    default: 30_000,
    defaultText: '30s',
    parse: v.duration,
  }),
  dnsFlapGuard: opt({
    flag: 'dns-flap-guard',
    scope: 'listener',
    group: 'DNS discovery',
    describe:
      'Apply an answer that removes more than half of the backends (NXDOMAIN included) only when the next answer agrees (on|off)',
    equivalent: 'HAProxy `hold nx` / `hold obsolete`',
    default: true,
    defaultText: 'on',
    parse: v.boolean,
  }),
  dnsTimeout: opt({
    flag: 'dns-timeout',
    scope: 'listener',
    group: 'DNS discovery',
    describe: 'Time allowed for one DNS query (with one retry inside it)',
    equivalent: 'HAProxy `timeout resolve`, NGINX `resolver_timeout`',
    default: 2000,
    defaultText: '2s',
    parse: v.duration,
  }),
  kubeconfig: opt<string | null>({
    flag: 'kubeconfig',
    freeText: true,
    scope: 'listener',
    group: 'Kubernetes discovery',
    describe:
      'kubeconfig file for k8s:// (default: in-cluster service account inside a pod, else KUBECONFIG, else ~/.kube/config)',
    default: null,
    defaultText: '(auto)',
    parse: v.text,
  }),
  zone: opt<string | null>({
    flag: 'zone',
    scope: 'listener',
    group: 'Kubernetes discovery',
    describe:
      "This proxy's zone: prefer endpoints hinted for it (EndpointSlice hints.forZones, else their zone), falling back to all when it has none",
    equivalent: 'kube-proxy topology-aware routing, Envoy zone-aware LB',
    default: null,
    defaultText: '(none)',
    parse: v.labelValue,
  }),
  k8sWatchTimeout: opt({
    flag: 'k8s-watch-timeout',
    scope: 'listener',
    group: 'Kubernetes discovery',
    describe:
      'Restart an EndpointSlice watch that delivers nothing (no event, no bookmark) for this long',
    default: 90_000,
    defaultText: '90s',
    parse: v.durationAtLeast(100),
  }),
  backendDrainTimeout: opt({
    flag: 'backend-drain-timeout',
    scope: 'listener',
    group: 'Timeouts',
    describe:
      'How long connections to a backend that left discovery (or stopped serving) may stay open (0 = until they end)',
    equivalent:
      'Envoy `drain` on host removal; HAProxy `on-marked-down shutdown-sessions` when short',
    default: 0,
    defaultText: '0 (never cut)',
    parse: v.durationOrOff,
  }),
  sentinelPasswordFile: opt<string | null>({
    flag: 'sentinel-password-file',
    freeText: true,
    scope: 'listener',
    group: 'Redis Sentinel discovery',
    describe:
      'File holding the password sent (AUTH) to the sentinels of sentinel:// (default: the HEADWAY_SENTINEL_PASSWORD environment variable; none if unset)',
    equivalent: 'Sentinel `requirepass`; redis-py `sentinel_kwargs={"password": ...}`',
    default: null,
    defaultText: '(HEADWAY_SENTINEL_PASSWORD)',
    parse: v.text,
  }),
} as const;

export const processOptions = {
  admin: opt<HostPort | null>({
    flag: 'admin',
    scope: 'process',
    group: 'Admin and logs',
    describe: 'Admin HTTP endpoint (metrics, health, backends), or off',
    equivalent: 'HAProxy `stats socket` / PROMEX, NGINX `stub_status`',
    default: { host: '::', port: 9901 },
    defaultText: '[::]:9901',
    parse: v.hostPortOrOff,
  }),
  config: opt<string | null>({
    flag: 'config',
    freeText: true,
    scope: 'process',
    group: 'Config file',
    describe:
      'YAML config file: process options at the top level, per-listener options under `listeners:`; flags and environment override it. SIGHUP reloads it',
    equivalent: 'haproxy.cfg, nginx.conf',
    default: null,
    defaultText: '(none)',
    parse: v.text,
  }),
  watchConfig: opt({
    flag: 'watch-config',
    scope: 'process',
    group: 'Config file',
    boolean: true,
    describe:
      "Reload the config file when it changes (watches its directory, so a ConfigMap's symlink swap is seen)",
    default: false,
    defaultText: 'false',
    parse: v.boolean,
  }),
  gateway: opt<v.ObjectRef | null>({
    flag: 'gateway',
    scope: 'process',
    group: 'Kubernetes sources',
    describe:
      'Serve this Gateway API Gateway (NAMESPACE/NAME) when its gatewayClassName is --gateway-class: its TCP and TLS-passthrough listeners on the --listen hosts, with the TCPRoutes and TLSRoutes attached to it (backends from EndpointSlices); status is written back. Listener options given as flags or in the file apply to every listener it makes',
    equivalent: 'a Gateway API implementation (Envoy Gateway, Traefik) for TCPRoute/TLSRoute',
    default: null,
    defaultText: '(off)',
    parse: v.objectRef,
  }),
  gatewayClass: opt({
    flag: 'gateway-class',
    scope: 'process',
    group: 'Kubernetes sources',
    describe: 'The GatewayClass name whose Gateway --gateway serves',
    default: 'headway',
    defaultText: 'headway',
    parse: v.k8sName,
  }),
  ingressNginxTcpServices: opt<v.ObjectRef | null>({
    flag: 'ingress-nginx-tcp-services',
    scope: 'process',
    group: 'Kubernetes sources',
    describe:
      'Serve the entries of this ingress-nginx tcp-services ConfigMap (NAMESPACE/NAME), watched: "PORT": "NS/SVC:PORT[:PROXY[:PROXY]]" becomes a listener on the --listen hosts at PORT (first PROXY: read a PROXY header from clients; second: send one to backends); malformed entries are logged and skipped',
    equivalent: 'ingress-nginx `--tcp-services-configmap`',
    default: null,
    defaultText: '(off)',
    parse: v.objectRef,
  }),
  adminToken: opt<string | null>({
    flag: 'admin-token',
    freeText: true,
    secret: true,
    scope: 'process',
    group: 'Admin and logs',
    describe:
      'Bearer token for the admin endpoint (at least 16 bytes), required from every peer for runtime control (POST /backends/{id}/drain|undrain) and, with --admin-auth all, for /backends, /pods and /metrics. Prefer HEADWAY_ADMIN_TOKEN or --admin-token-file: a flag shows in ps. Without a token only loopback may control',
    equivalent: 'HAProxy stats socket `level admin`',
    default: null,
    defaultText: '(none: loopback only)',
    parse: (raw) => checkTokenText(v.text(raw)),
  }),
  adminTokenFile: opt<string | null>({
    flag: 'admin-token-file',
    freeText: true,
    scope: 'process',
    group: 'Admin and logs',
    describe:
      'Read the admin token from this file (e.g. a mounted Secret; one trailing newline is ignored), read at start',
    default: null,
    defaultText: '(none)',
    parse: (raw) => {
      const path = v.text(raw);
      readTokenFile(path);
      return path;
    },
  }),
  adminAuth: opt<AdminAuthMode>({
    flag: 'admin-auth',
    scope: 'process',
    group: 'Admin and logs',
    describe:
      'Which admin paths need the token: control (POST drain/undrain only) or all (also /backends, /pods, /metrics; /healthz, /readyz and the status page stay open for probes)',
    default: 'control',
    defaultText: 'control',
    parse: v.oneOf(ADMIN_AUTH_MODES),
  }),
  logFormat: opt<LogFormat>({
    flag: 'log-format',
    scope: 'process',
    group: 'Admin and logs',
    describe: 'Process log format',
    default: 'json',
    defaultText: 'json',
    parse: v.oneOf(['json', 'text'] as const),
  }),
  logLevel: opt<LogLevel>({
    flag: 'log-level',
    scope: 'process',
    group: 'Admin and logs',
    describe: 'Least severe process log level written',
    default: 'info',
    defaultText: 'info',
    parse: v.oneOf(LOG_LEVELS),
  }),
  maxConnections: opt({
    flag: 'max-connections',
    scope: 'process',
    group: 'Limits',
    describe:
      'Most client connections proxied at once, all listeners together; over it new clients wait (0 = unlimited)',
    equivalent: 'HAProxy global `maxconn`, NGINX `worker_connections`',
    default: 0,
    defaultText: 'unlimited',
    parse: v.limit,
  }),
  workers: opt({
    flag: 'workers',
    scope: 'process',
    group: 'Limits',
    describe:
      'Worker threads that accept and relay connections, each listening on the same ports (SO_REUSEPORT); the main thread then runs discovery, health checks and the admin endpoint. 0 = one thread does everything. --max-connections applies per worker',
    equivalent: 'NGINX `worker_processes`, HAProxy `nbthread`, Envoy `--concurrency`',
    default: 0,
    defaultText: '0',
    parse: v.integer(0, 256),
  }),
  socketImpl: opt<'raw' | 'net'>({
    flag: 'socket-impl',
    scope: 'process',
    group: 'Limits',
    describe:
      'What relays the bytes: raw (bare libuv handles through Node.js internals; lean, and checked by a self-test at start-up) or net (plain net.Socket: more memory and CPU per connection, no internals; the fallback when the self-test refuses this Node.js)',
    default: 'raw',
    defaultText: 'raw',
    parse: v.oneOf(['raw', 'net'] as const),
  }),
  rejectOverLimit: opt({
    flag: 'reject-over-limit',
    scope: 'process',
    group: 'Limits',
    boolean: true,
    describe:
      'Over --max-connections, close new clients at once (counted as rejected) instead of making them wait',
    equivalent: 'HAProxy `tcp-request connection reject if { fe_conn gt N }`',
    default: false,
    defaultText: 'false',
    parse: v.boolean,
  }),
  fdReserve: opt({
    flag: 'fd-reserve',
    scope: 'process',
    group: 'Limits',
    describe:
      'File descriptors kept free for the admin endpoint, health checks, DNS and logs: a new client is refused (reset, counted in headway_accept_errors_total{kind="fd_limit"}) when taking it would leave fewer free under the open-files limit (ulimit -n); at most a quarter of the limit',
    equivalent: 'HAProxy derives its default `maxconn` from `ulimit -n`',
    default: 128,
    defaultText: '128',
    parse: v.integer(0, 1_000_000),
  }),
  shutdownDelay: opt({
    flag: 'shutdown-delay',
    scope: 'process',
    group: 'Shutdown',
    describe:
      'On SIGTERM, keep accepting this long with /readyz answering 503, so endpoint removal can spread',
    equivalent: 'HAProxy `grace`',
    default: 0,
    defaultText: '0s',
    parse: v.duration,
  }),
  drainTimeout: opt({
    flag: 'drain-timeout',
    scope: 'process',
    group: 'Shutdown',
    describe:
      'After the shutdown delay, how long open connections may finish before they are closed',
    equivalent: 'HAProxy `hard-stop-after`, NGINX `worker_shutdown_timeout`',
    default: 30_000,
    defaultText: '30s',
    parse: v.duration,
  }),
  accessLog: opt<string>({
    flag: 'access-log',
    freeText: true,
    scope: 'process',
    group: 'Observability',
    describe:
      'One line per closed connection: off, stdout, or a file path (SIGUSR1 reopens it, for log rotation). Written through a bounded buffer: a slow sink drops lines (counted), never stalls traffic',
    equivalent: 'HAProxy `log` + `option tcplog`, NGINX stream `access_log`',
    default: 'off',
    defaultText: 'off',
    parse: v.text,
  }),
  accessLogFormat: opt<'json' | 'text'>({
    flag: 'access-log-format',
    scope: 'process',
    group: 'Observability',
    describe: 'Access log line format',
    equivalent: 'HAProxy `log-format`, NGINX `log_format`',
    default: 'json',
    defaultText: 'json',
    parse: v.oneOf(['json', 'text'] as const),
  }),
  accessLogSample: opt({
    flag: 'access-log-sample',
    scope: 'process',
    group: 'Observability',
    describe: 'Share of connections logged, 0 to 1',
    default: 1,
    defaultText: '1',
    parse: v.fraction,
  }),
  metricsBackendLabel: opt({
    flag: 'metrics-backend-label',
    scope: 'process',
    group: 'Observability',
    describe:
      'Label metrics per backend (on), or count every backend of a listener under backend="" (off, for very large sets)',
    default: true,
    defaultText: 'on',
    parse: v.boolean,
  }),
  readyRequiresBackends: opt({
    flag: 'ready-requires-backends',
    scope: 'process',
    group: 'Admin and logs',
    boolean: true,
    describe: '/readyz also requires every listener to have a usable backend',
    default: false,
    defaultText: 'false',
    parse: v.boolean,
  }),
} as const;

export type ListenerSettings = {
  readonly [K in keyof typeof listenerOptions]: Parsed<(typeof listenerOptions)[K]>;
};
export type ProcessSettings = {
  readonly [K in keyof typeof processOptions]: Parsed<(typeof processOptions)[K]>;
};

export type AnyOptionSpec = OptionSpec<unknown>;

/** Every option in help order. */
export function allOptions(): readonly (readonly [string, AnyOptionSpec])[] {
  return [
    ...Object.entries(listenerOptions as Record<string, AnyOptionSpec>),
    ...Object.entries(processOptions as Record<string, AnyOptionSpec>),
  ];
}

/** `connect-timeout` → `HEADWAY_CONNECT_TIMEOUT`. */
export function envName(flag: string): string {
  return `HEADWAY_${flag.toUpperCase().replaceAll('-', '_')}`;
}
