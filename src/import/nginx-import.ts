import { parseDurationMs, formatDurationMs } from '../core/duration.ts';
import { parseNginxConf, type NginxDirective } from './nginx-conf.ts';
import {
  newImportedConfig,
  untranslated,
  type ImportedConfig,
  type ImportedListener,
} from './imported-config.ts';
import { accessRules, listenAddress, staticBackends, type ServerEntry } from './translate.ts';

/** NGINX times: a bare number is seconds; units ms, s, m, h, d (and combinations). */
function nginxDuration(text: string): string | undefined {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDurationMs(text);
  return ms === undefined ? undefined : formatDurationMs(ms);
}

interface Upstream {
  readonly name: string;
  readonly line: number;
  readonly servers: ServerEntry[];
  strategy: string | undefined;
  readonly notes: string[];
  ejectAfter: number | undefined;
  maxConns: number | undefined;
}

/**
 * `headway import nginx`: the `stream {}` block of an nginx.conf as Headway listeners. Each
 * `server {}` with a `listen` and a `proxy_pass` becomes a listener; `upstream {}` blocks give its
 * backends and strategy. Everything else is named in a comment with its line.
 */
export function importNginx(file: string, text: string): ImportedConfig {
  const out = newImportedConfig(file);
  const top = parseNginxConf(file, text);
  const at = (d: NginxDirective): string => `${file}:${d.line}`;
  const note = (d: NginxDirective, why: string, into: string[] = out.notes): void => {
    into.push(untranslated(at(d), [d.name, ...d.args].join(' '), why));
  };

  const streams = top.filter((d) => d.name === 'stream' && d.block !== undefined);
  for (const d of top) {
    if (d.name === 'stream') continue;
    if (d.name === 'http') note(d, 'an HTTP (layer 7) block; Headway proxies TCP only');
    else if (d.name === 'worker_processes')
      note(d, 'Headway runs one process; see --workers for threads');
    else if (['daemon', 'pid', 'load_module', 'error_log', 'user'].includes(d.name))
      note(d, 'process setting with no Headway equivalent (not needed)');
    else note(d, 'no Headway equivalent');
  }
  if (streams.length === 0) out.notes.push(`${file}: no stream {} block: nothing to translate`);

  for (const stream of streams) {
    const upstreams = new Map<string, Upstream>();
    const streamOptions = new Map<string, string>();
    for (const d of stream.block ?? []) {
      if (d.name === 'upstream') upstreams.set(d.args[0] ?? '', readUpstream(file, d));
      else if (d.name === 'proxy_connect_timeout' || d.name === 'proxy_timeout') {
        streamOptions.set(d.name, d.args[0] ?? '');
      } else if (d.name !== 'server') note(d, 'no Headway equivalent at the stream level');
    }
    let index = 0;
    for (const server of (stream.block ?? []).filter((d) => d.name === 'server')) {
      index++;
      const listener = translateServer(file, server, upstreams, streamOptions, index);
      if (listener.options.size > 0) out.listeners.push(listener);
      else out.notes.push(...listener.notes);
    }
    for (const u of upstreams.values()) {
      const used = out.listeners.some((l) => l.options.get('name') === u.name);
      if (!used) out.notes.push(`${file}:${u.line} upstream ${u.name}: no server {} proxies to it`);
    }
  }
  return out;
}

function readUpstream(file: string, block: NginxDirective): Upstream {
  const u: Upstream = {
    name: block.args[0] ?? 'upstream',
    line: block.line,
    servers: [],
    strategy: undefined,
    notes: [],
    ejectAfter: undefined,
    maxConns: undefined,
  };
  const note = (d: NginxDirective, why: string): void => {
    u.notes.push(untranslated(`${file}:${d.line}`, [d.name, ...d.args].join(' '), why));
  };
  const ejects = new Set<number>();
  const maxConns = new Set<number>();
  for (const d of block.block ?? []) {
    if (d.name === 'server') {
      const [address = '', ...params] = d.args;
      let weight = 1;
      let skip: string | undefined;
      let eject = 1; // NGINX's max_fails default
      let conns = 0;
      for (const p of params) {
        const [key = '', value = ''] = p.split('=');
        if (key === 'weight') weight = Number(value);
        else if (key === 'max_fails') eject = Number(value);
        else if (key === 'max_conns') conns = Number(value);
        else if (key === 'backup')
          skip = 'a backup server: Headway has no backup servers, left out';
        else if (key === 'down') skip = 'marked down: left out';
        else if (key === 'fail_timeout')
          note(d, `fail_timeout=${value}: Headway ejects for 10 s, doubling on repeats`);
        else note(d, `server parameter ${p} has no Headway equivalent`);
      }
      if (skip !== undefined) {
        note(d, skip);
        continue;
      }
      ejects.add(eject);
      maxConns.add(conns);
      u.servers.push({ address, weight, line: d.line });
    } else if (d.name === 'least_conn') u.strategy = 'least-conn';
    else if (d.name === 'random') u.strategy = 'random';
    else if (d.name === 'hash') {
      if (d.args[0] === '$remote_addr' || d.args[0] === '$binary_remote_addr') {
        u.strategy = 'sticky';
        if (d.args[1] !== 'consistent')
          note(d, 'Headway always hashes consistently (like `consistent`)');
      } else note(d, 'a hash key other than the client address: left as round-robin');
    } else note(d, 'no Headway equivalent');
  }
  if (ejects.size === 1) u.ejectAfter = [...ejects][0];
  else if (ejects.size > 1)
    u.notes.push(`${u.name}: servers differ in max_fails; eject-after left at its default`);
  if (maxConns.size === 1) u.maxConns = [...maxConns][0];
  else if (maxConns.size > 1)
    u.notes.push(
      `${u.name}: servers differ in max_conns; Headway has one limit per listener, not set`,
    );
  return u;
}

function translateServer(
  file: string,
  server: NginxDirective,
  upstreams: ReadonlyMap<string, Upstream>,
  streamOptions: ReadonlyMap<string, string>,
  index: number,
): ImportedListener {
  const notes: string[] = [];
  const note = (d: NginxDirective, why: string): void => {
    notes.push(untranslated(`${file}:${d.line}`, [d.name, ...d.args].join(' '), why));
  };
  // A server that cannot become a listener says why, with the notes gathered so far.
  const leftOut = (why: string): ImportedListener => ({
    options: new Map(),
    notes: [untranslated(`${file}:${server.line}`, 'server', why), ...notes],
  });
  const directives = server.block ?? [];
  const listens = directives.filter((d) => d.name === 'listen');
  const pass = directives.find((d) => d.name === 'proxy_pass');
  if (listens.length === 0) return leftOut('no listen directive');
  if (pass === undefined) return leftOut('no proxy_pass');

  const options = new Map<string, string | number | boolean | readonly string[]>();
  const target = pass.args[0] ?? '';
  const upstream = upstreams.get(target);
  options.set('name', upstream?.name ?? `server-${index}`);

  const addresses: string[] = [];
  let acceptProxy = false;
  for (const l of listens) {
    const [addr = '', ...flags] = l.args;
    if (flags.includes('udp')) {
      note(l, 'UDP: Headway proxies TCP only');
      continue;
    }
    for (const f of flags) {
      if (f === 'proxy_protocol') acceptProxy = true;
      else if (!f.startsWith('backlog=') && f !== 'reuseport' && f !== 'so_keepalive=on')
        note(l, `listen parameter ${f} has no Headway equivalent`);
    }
    addresses.push(listenAddress(addr));
  }
  if (addresses.length === 0) return leftOut('no TCP listen address');
  options.set('listen', addresses.length === 1 ? (addresses[0] as string) : addresses);

  if (upstream !== undefined) {
    notes.push(...upstream.notes);
    const backends = staticBackends(upstream.servers);
    if (backends === undefined)
      return leftOut(`upstream ${upstream.name} has no server Headway can use`);
    options.set('backends', backends);
    options.set('strategy', upstream.strategy ?? 'round-robin');
    if (upstream.ejectAfter !== undefined) options.set('eject-after', upstream.ejectAfter);
    if (upstream.maxConns !== undefined && upstream.maxConns > 0)
      options.set('max-connections-per-backend', upstream.maxConns);
  } else if (target.includes('$')) {
    return leftOut(`proxy_pass ${target}: variables need a fixed backend list in Headway`);
  } else {
    if (!/:\d+$/.test(target))
      return leftOut(`proxy_pass ${target}: not HOST:PORT nor an upstream`);
    options.set('backends', staticBackends([{ address: target, weight: 1 }]) ?? '');
    options.set('strategy', 'round-robin');
  }

  const rules: { allow: boolean; source: string; line: number }[] = [];
  // NGINX's own defaults written out, since Headway's differ (connect 5s, idle 1h).
  let connectTimeout = streamOptions.get('proxy_connect_timeout') ?? '60s';
  let idleTimeout = streamOptions.get('proxy_timeout') ?? '10m';
  for (const d of directives) {
    const arg = d.args[0] ?? '';
    switch (d.name) {
      case 'listen':
      case 'proxy_pass':
        break;
      case 'proxy_connect_timeout':
        connectTimeout = arg;
        break;
      case 'proxy_timeout':
        idleTimeout = arg;
        break;
      case 'proxy_protocol':
        if (arg === 'on') options.set('proxy-protocol', 'v1');
        break;
      case 'allow':
      case 'deny':
        rules.push({ allow: d.name === 'allow', source: arg, line: d.line });
        break;
      case 'proxy_next_upstream_tries':
        options.set('connect-retries', Math.max(0, Number(arg) - 1));
        break;
      case 'set_real_ip_from':
        if (acceptProxy) options.set('proxy-protocol-from', [...proxyFrom(options), arg]);
        else note(d, 'only meaningful with listen … proxy_protocol');
        break;
      default:
        note(d, 'no Headway equivalent');
    }
  }
  if (acceptProxy) options.set('accept-proxy-protocol', true);
  for (const [option, value] of [
    ['connect-timeout', connectTimeout],
    ['idle-timeout', idleTimeout],
  ] as const) {
    const duration = nginxDuration(value);
    if (duration !== undefined) options.set(option, duration);
    else
      notes.push(
        `${file}: ${value} is not a time NGINX would accept: ${option} left at its default`,
      );
  }
  const access = accessRules(rules);
  for (const n of access.notes) notes.push(`${file}: ${n}`);
  if (acceptProxy && !options.has('proxy-protocol-from') && rules.length > 0) {
    // Without set_real_ip_from NGINX checks allow/deny against the connecting peer (the load
    // balancer); Headway would check the client address inside the PROXY header instead.
    notes.push(
      `${file}:${server.line} allow/deny: on a proxy_protocol listen without set_real_ip_from they restrict the load balancers, which Headway expresses as proxy-protocol-from, not allow/deny: left out`,
    );
    return { options, notes };
  }
  if (access.allow.length > 0) options.set('allow', access.allow);
  if (access.deny.length > 0) options.set('deny', access.deny);
  return { options, notes };
}

function proxyFrom(options: ReadonlyMap<string, unknown>): string[] {
  const v = options.get('proxy-protocol-from');
  return Array.isArray(v) ? (v as string[]) : [];
}
