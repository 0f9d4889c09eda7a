import { formatDurationMs, parseDurationMs } from '../core/duration.ts';
import { parseHaproxyConf, type HaproxyLine, type HaproxySection } from './haproxy-conf.ts';
import {
  newImportedConfig,
  untranslated,
  type ImportedConfig,
  type ImportedListener,
  type OptionValue,
} from './imported-config.ts';
import { accessRules, listenAddress, staticBackends, type AccessRule } from './translate.ts';

/** HAProxy times: a bare number is milliseconds; units us, ms, s, m, h, d. */
function haproxyMs(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : parseDurationMs(text);
}

const BALANCE: Readonly<Record<string, string>> = {
  roundrobin: 'round-robin',
  'static-rr': 'round-robin',
  leastconn: 'least-conn',
  source: 'sticky',
  random: 'random',
};

/** What `defaults`, a frontend and a backend may each set; later sections inherit `defaults`. */
interface ProxySettings {
  mode: string;
  balance: string | undefined;
  timeouts: Map<string, number>;
  defaultServer: string[];
  tcpCheck: boolean;
  redisCheck: boolean;
}

function freshSettings(from?: ProxySettings): ProxySettings {
  return {
    mode: from?.mode ?? 'tcp',
    balance: from?.balance,
    timeouts: new Map(from?.timeouts ?? []),
    defaultServer: [...(from?.defaultServer ?? [])],
    tcpCheck: from?.tcpCheck ?? false,
    redisCheck: from?.redisCheck ?? false,
  };
}

interface Server {
  readonly address: string;
  readonly weight: number;
  readonly line: number;
  readonly params: ReadonlyMap<string, string>;
}

/** A backend (or the backend half of a `listen`) as read. */
interface Backend {
  readonly name: string;
  readonly settings: ProxySettings;
  readonly servers: Server[];
  readonly checks: { send: string[]; expect: string[] };
  readonly notes: string[];
}

/** Server keywords followed by a value. */
const SERVER_VALUED = new Set([
  'inter',
  'fastinter',
  'downinter',
  'rise',
  'fall',
  'weight',
  'maxconn',
  'port',
  'slowstart',
  'resolvers',
  'init-addr',
  'resolve-prefer',
  'addr',
  'id',
  'maxqueue',
  'on-error',
  'agent-port',
  'agent-inter',
]);

/**
 * `headway import haproxy`: the `mode tcp` frontends, backends and listens of a haproxy.cfg as
 * Headway listeners. Every line with no Headway equivalent is named in a comment with its line.
 */
export function importHaproxy(file: string, text: string): ImportedConfig {
  const out = newImportedConfig(file);
  const sections = parseHaproxyConf(file, text);
  const note = (into: string[], l: HaproxyLine, why: string): void => {
    into.push(untranslated(`${file}:${l.line}`, l.words.join(' '), why));
  };

  let defaults = freshSettings();
  const backends = new Map<string, Backend>();
  const frontends: { section: HaproxySection; settings: ProxySettings }[] = [];
  for (const s of sections) {
    if (s.kind === 'global') readGlobal(s, out, note);
    else if (s.kind === 'defaults') {
      defaults = freshSettings();
      for (const l of s.lines) {
        if (!readProxySetting(l, defaults))
          note(out.notes, l, 'a default with no Headway equivalent');
      }
    } else if (s.kind === 'backend' || s.kind === 'listen') {
      const b = readBackend(s, freshSettings(defaults), note);
      backends.set(s.name, b);
      if (s.kind === 'listen') frontends.push({ section: s, settings: b.settings });
    } else if (s.kind === 'frontend') {
      frontends.push({ section: s, settings: freshSettings(defaults) });
    } else {
      out.notes.push(
        untranslated(`${file}:${s.line}`, `${s.kind} ${s.name}`, 'section not translated'),
      );
    }
  }

  const used = new Set<string>();
  for (const { section, settings } of frontends) {
    const listener = translateFrontend(file, section, settings, backends, note);
    if (listener.options.size > 0) out.listeners.push(listener);
    else out.notes.push(...listener.notes);
    used.add(backendOf(section) ?? '');
  }
  for (const b of backends.values()) {
    if (!used.has(b.name)) {
      out.notes.push(
        `not translated: backend ${b.name}: no frontend sends traffic to it`,
        ...b.notes,
      );
    }
  }
  return out;
}

type Note = (into: string[], l: HaproxyLine, why: string) => void;

function readGlobal(s: HaproxySection, out: ImportedConfig, note: Note): void {
  for (const l of s.lines) {
    const [kw = '', arg = ''] = l.words;
    if (kw === 'maxconn') out.process.set('max-connections', Number(arg));
    else if (kw === 'nbthread') note(out.notes, l, 'see --workers for worker threads');
    else note(out.notes, l, 'a global setting with no Headway equivalent');
  }
}

/** Settings that `defaults`, frontends and backends share; true when the line was one. */
function readProxySetting(l: HaproxyLine, s: ProxySettings): boolean {
  const [kw = '', a1 = '', a2 = ''] = l.words;
  if (kw === 'mode') s.mode = a1;
  else if (kw === 'balance' && BALANCE[a1] !== undefined) s.balance = a1;
  else if (kw === 'timeout') {
    const ms = haproxyMs(a2);
    if (ms === undefined) return false;
    s.timeouts.set(a1, ms);
  } else if (kw === 'default-server') s.defaultServer = l.words.slice(1);
  else if (kw === 'option' && a1 === 'tcp-check') s.tcpCheck = true;
  else if (kw === 'option' && a1 === 'redis-check') s.redisCheck = true;
  else return false;
  return true;
}

function readBackend(s: HaproxySection, settings: ProxySettings, note: Note): Backend {
  const b: Backend = {
    name: s.name,
    settings,
    servers: [],
    checks: { send: [], expect: [] },
    notes: [],
  };
  for (const l of s.lines) {
    const [kw = '', a1 = ''] = l.words;
    if (readProxySetting(l, settings)) continue;
    if (kw === 'server') {
      const server = readServer(l, settings.defaultServer, b.notes, note);
      if (server !== undefined) b.servers.push(server);
    } else if (kw === 'tcp-check') {
      if (a1 === 'send') b.checks.send.push(l.words[2] ?? '');
      else if (a1 === 'expect' && l.words[2] === 'string') b.checks.expect.push(l.words[3] ?? '');
      else if (a1 === 'expect' && l.words[2] === 'rstring')
        b.checks.expect.push(`/${l.words[3] ?? ''}/`);
      else if (a1 !== 'connect') note(b.notes, l, 'this tcp-check step has no Headway equivalent');
    } else if (
      ['bind', 'acl', 'tcp-request', 'default_backend', 'use_backend'].includes(kw) &&
      s.kind === 'listen'
    ) {
      // The frontend half of a `listen`: read with the frontend.
    } else if (kw === 'balance')
      note(b.notes, l, `balance ${a1} has no Headway equivalent: round-robin used`);
    else if (
      kw === 'option' &&
      ['tcplog', 'dontlognull', 'tcpka', 'clitcpka', 'srvtcpka'].includes(a1)
    ) {
      note(
        b.notes,
        l,
        a1 === 'tcplog' ? 'see --access-log' : 'Headway sets TCP keepalive with --tcp-keepalive',
      );
    } else note(b.notes, l, 'no Headway equivalent');
  }
  return b;
}

function readServer(
  l: HaproxyLine,
  defaults: readonly string[],
  notes: string[],
  note: Note,
): Server | undefined {
  const address = l.words[2] ?? '';
  const params = new Map<string, string>();
  const words = [...defaults, ...l.words.slice(3)];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (SERVER_VALUED.has(w)) params.set(w, words[++i] ?? '');
    else params.set(w, '');
  }
  if (params.has('backup')) {
    note(notes, l, 'a backup server: Headway has no backup servers, left out');
    return undefined;
  }
  if (params.has('disabled')) {
    note(notes, l, 'a disabled server: left out');
    return undefined;
  }
  if (!/:\d+$/.test(address)) {
    note(notes, l, 'a server without a port: left out');
    return undefined;
  }
  for (const p of params.keys()) {
    if (
      ![
        'check',
        'inter',
        'rise',
        'fall',
        'weight',
        'maxconn',
        'send-proxy',
        'send-proxy-v2',
        'slowstart',
      ].includes(p)
    ) {
      note(notes, l, `server parameter ${p} has no Headway equivalent`);
    }
  }
  return { address, weight: Number(params.get('weight') ?? '1'), line: l.line, params };
}

/** The one value every server shares for `key`, or undefined (with a note) when they differ. */
function uniform(b: Backend, key: string, notes: string[]): string | undefined {
  const values = new Set(b.servers.filter((s) => s.params.has(key)).map((s) => s.params.get(key)));
  if (values.size > 1)
    notes.push(
      `backend ${b.name}: servers differ in ${key}; Headway has one per listener, left at its default`,
    );
  return values.size === 1 ? [...values][0] : undefined;
}

function translateFrontend(
  file: string,
  section: HaproxySection,
  settings: ProxySettings,
  backends: ReadonlyMap<string, Backend>,
  note: Note,
): ImportedListener {
  const notes: string[] = [];
  const options = new Map<string, OptionValue>();
  const where = `${file}:${section.line} ${section.kind} ${section.name}`;
  // A section that cannot become a listener says why, with the notes gathered so far.
  const leftOut = (why: string): ImportedListener => ({
    options: new Map(),
    notes: [`not translated: ${where}: ${why}`, ...notes],
  });
  options.set('name', section.name);
  const listen: string[] = [];
  let acceptProxy = false;
  const backendName = backendOf(section);
  const acls = new Map<string, string[]>();
  const rules: AccessRule[] = [];
  for (const l of section.lines) {
    const [kw = '', a1 = '', a2 = ''] = l.words;
    if (kw === 'bind') {
      listen.push(listenAddress(a1));
      for (const p of l.words.slice(2)) {
        if (p === 'accept-proxy') acceptProxy = true;
        else note(notes, l, `bind parameter ${p} has no Headway equivalent`);
      }
    } else if (kw === 'use_backend' && l.words.length > 2) {
      note(notes, l, 'a conditional use_backend: Headway routes a listener to one backend set');
    } else if (kw === 'default_backend' || kw === 'use_backend') {
      // read by backendOf
    } else if (kw === 'acl' && a2 === 'src') acls.set(a1, l.words.slice(3));
    else if (kw === 'tcp-request' && a1 === 'connection') {
      const rule = accessRule(l, acls);
      if (rule === undefined) note(notes, l, 'only src ACLs with accept/reject translate');
      else rules.push(...rule);
    } else if (section.kind === 'frontend' && readProxySetting(l, settings)) {
      // timeouts and mode of the frontend itself
    } else if (section.kind === 'frontend') note(notes, l, 'no Headway equivalent');
  }
  if (settings.mode !== 'tcp')
    return leftOut(`mode ${settings.mode} is layer 7; Headway proxies TCP`);
  if (listen.length === 0) return leftOut('no bind line');
  const backend = backendName === undefined ? undefined : backends.get(backendName);
  if (backend === undefined) {
    return leftOut(`no backend${backendName === undefined ? '' : ` named ${backendName}`}`);
  }
  notes.push(...backend.notes);
  if (backend.settings.mode !== 'tcp') {
    return leftOut(`backend ${backend.name} is mode ${backend.settings.mode}`);
  }
  if (backend.servers.length === 0) {
    return leftOut(`backend ${backend.name} has no server Headway can use`);
  }
  options.set('listen', listen.length === 1 ? (listen[0] as string) : listen);
  options.set('backends', staticBackends(backend.servers) ?? '');
  const balance = backend.settings.balance ?? 'roundrobin';
  options.set('strategy', BALANCE[balance] ?? 'round-robin');

  // Timeouts: the backend's own, else the frontend's, else defaults (HAProxy's inheritance).
  const timeout = (name: string): number | undefined =>
    backend.settings.timeouts.get(name) ?? settings.timeouts.get(name);
  const connect = timeout('connect');
  if (connect !== undefined) options.set('connect-timeout', formatDurationMs(connect));
  const client = timeout('client');
  const server = timeout('server');
  // In TCP mode a connection ends when either side has been idle for its timeout; a tunnel
  // timeout replaces both once connected.
  const idle =
    timeout('tunnel') ??
    (client === undefined ? server : server === undefined ? client : Math.min(client, server));
  if (idle !== undefined) options.set('idle-timeout', formatDurationMs(idle));
  const queue = timeout('queue');
  if (queue !== undefined) options.set('queue-timeout', formatDurationMs(queue));

  health(backend, options, notes);
  const maxconn = uniform(backend, 'maxconn', notes);
  if (maxconn !== undefined) options.set('max-connections-per-backend', Number(maxconn));
  const slow = uniform(backend, 'slowstart', notes);
  const slowMs = slow === undefined ? undefined : haproxyMs(slow);
  if (slowMs !== undefined) options.set('slow-start', formatDurationMs(slowMs));
  const v2 = backend.servers.some((s) => s.params.has('send-proxy-v2'));
  const v1 = backend.servers.some((s) => s.params.has('send-proxy'));
  if (v1 || v2) options.set('proxy-protocol', v2 ? 'v2' : 'v1');
  const access = accessRules(rules);
  if (acceptProxy) {
    options.set('accept-proxy-protocol', true);
    if (access.allow.length > 0 || access.deny.length > 0) {
      // HAProxy takes a PROXY header from every peer of an accept-proxy bind and applies `src`
      // rules to the address in it; Headway refuses that combination unless the trust is explicit.
      options.set('proxy-protocol-from', ['0.0.0.0/0', '::/0']);
      notes.push(
        `${file}:${section.line} ${section.kind} ${section.name}: HAProxy trusts a PROXY header from every peer here, so any client can forge its address past allow/deny; narrow proxy-protocol-from to your load balancers' addresses`,
      );
    }
  }
  for (const n of access.notes) notes.push(`${file}: ${n}`);
  if (access.allow.length > 0) options.set('allow', access.allow);
  if (access.deny.length > 0) options.set('deny', access.deny);
  return { options, notes };
}

function health(backend: Backend, options: Map<string, OptionValue>, notes: string[]): void {
  const checked = backend.servers.filter((s) => s.params.has('check')).length;
  if (checked === 0) return;
  if (checked < backend.servers.length) {
    notes.push(
      `backend ${backend.name}: only some servers have \`check\`; Headway checks every backend of a listener`,
    );
  }
  options.set('health-check', 'tcp');
  const inter = uniform(backend, 'inter', notes);
  // HAProxy's defaults (inter 2s, rise 2, fall 3) written out, so behaviour does not change.
  options.set(
    'health-interval',
    formatDurationMs(inter === undefined ? 2000 : (haproxyMs(inter) ?? 2000)),
  );
  options.set('health-rise', Number(uniform(backend, 'rise', notes) ?? '2'));
  options.set('health-fall', Number(uniform(backend, 'fall', notes) ?? '3'));
  const { send, expect } = backend.checks;
  if (backend.settings.redisCheck) {
    options.set('health-send', 'PING\\r\\n');
    options.set('health-expect', '+PONG');
  } else if (backend.settings.tcpCheck) {
    if (send[0] !== undefined) options.set('health-send', send[0]);
    if (expect[0] !== undefined) options.set('health-expect', expect[0]);
    if (send.length > 1 || expect.length > 1) {
      notes.push(
        `backend ${backend.name}: Headway checks send once and expect once; only the first tcp-check send and expect were kept`,
      );
    }
  }
}

/** `tcp-request connection accept|reject [if|unless [!]ACL]` as first-match access rules. */
function accessRule(l: HaproxyLine, acls: ReadonlyMap<string, string[]>): AccessRule[] | undefined {
  const [, , action = '', cond, negOrName = '', maybeName] = l.words;
  if (action !== 'accept' && action !== 'reject') return undefined;
  if (cond === undefined) return [{ allow: action === 'accept', source: 'all', line: l.line }];
  let name = negOrName;
  let negate = cond === 'unless';
  if (name === '!') name = maybeName ?? '';
  else if (name.startsWith('!')) name = name.slice(1);
  if (negOrName.startsWith('!')) negate = !negate;
  const sources = acls.get(name);
  if (sources === undefined || (cond !== 'if' && cond !== 'unless')) return undefined;
  const matched = sources.map((source) => ({ allow: action === 'accept', source, line: l.line }));
  // "reject unless SRC" = admit SRC, refuse the rest.
  return negate
    ? [
        ...sources.map((source) => ({ allow: action !== 'accept', source, line: l.line })),
        { allow: action === 'accept', source: 'all', line: l.line },
      ]
    : matched;
}

/** The backend a frontend sends its traffic to: itself for a `listen`, else its default. */
function backendOf(section: HaproxySection): string | undefined {
  if (section.kind === 'listen') return section.name;
  let name: string | undefined;
  for (const l of section.lines) {
    const [kw, arg] = l.words;
    if (kw === 'default_backend' || (kw === 'use_backend' && l.words.length === 2)) name = arg;
  }
  return name;
}
