import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { dirname } from 'node:path';
import { FakeObjectStore } from './fake-kube-objects.ts';
import { makeTlsFixtures } from './tls-fixtures.ts';

/*
 * A fake Kubernetes API server for EndpointSlices (discovery.k8s.io/v1), real
 * enough for @kubernetes/client-node: HTTPS with a CA-signed certificate,
 * bearer-token auth, list (with limit/continue and resourceVersion), watch
 * (newline-delimited JSON, history replay from a resourceVersion, label
 * selectors with ADDED/DELETED on (un)matching, bookmarks, timeoutSeconds,
 * 410 after compaction) and fault injection. JSON is shaped like a real
 * cluster's: empty `endpoints`/`ports` are `null`, list items carry no
 * kind/apiVersion, watch objects do.
 */

// ---------------------------------------------------------------------------
// Wire types

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface EndpointConditionsJson {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface EndpointJson {
  addresses: string[];
  conditions: EndpointConditionsJson;
  hostname?: string;
  targetRef?: { kind: 'Pod'; namespace: string; name: string; uid: string };
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
}

export interface EndpointPortJson {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
}

export interface OwnerReferenceJson {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMetaJson {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReferenceJson[];
  managedFields?: unknown[];
}

/** An EndpointSlice as stored and listed (no kind/apiVersion, like list items). */
export interface EndpointSliceJson {
  metadata: ObjectMetaJson;
  addressType: string;
  endpoints: EndpointJson[] | null;
  ports: EndpointPortJson[] | null;
}

export interface StatusJson {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEventJson {
  type: WatchEventType;
  object: Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// Test inputs

export interface EndpointInput {
  /** The endpoint's address (`addresses: [ip]`); or give `addresses`. */
  readonly ip?: string;
  readonly addresses?: readonly string[];
  /** Pod name: sets `targetRef {kind:'Pod', namespace, name, uid}`. */
  readonly pod?: string;
  /** Pod UID; default: derived from namespace/pod (stable across updates). */
  readonly podUid?: string;
  readonly hostname?: string;
  /**
   * Conditions; an undefined one is omitted from the JSON (nil), which means
   * ready/serving true and terminating false. `endpoint()` fills all three.
   */
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  /** `nodeName` */
  readonly node?: string;
  readonly zone?: string;
  /** `hints.forZones[].name` */
  readonly forZones?: readonly string[];
  /** `hints.forNodes[].name` */
  readonly forNodes?: readonly string[];
}

export interface PortInput {
  /** Service port name; default `""` (the Service's only port is unnamed). */
  readonly name?: string;
  /** Resolved target port; `null` omits it (meaning "all ports"). */
  readonly port?: number | null;
  /** Default `TCP`. */
  readonly protocol?: Protocol;
  readonly appProtocol?: string;
}

export interface SliceInput {
  readonly namespace: string;
  readonly name: string;
  /** Value of the `kubernetes.io/service-name` label and the owner Service. */
  readonly service: string;
  /** Default: IPv6 if the first endpoint's first address has a `:`, else IPv4. Immutable. */
  readonly addressType?: AddressType;
  readonly ports?: readonly PortInput[];
  readonly endpoints?: readonly EndpointInput[];
  /** Extra labels, merged over the controller's labels (may override them). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra annotations, merged over `endpoints.kubernetes.io/last-change-trigger-time`. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** `endpointslice.kubernetes.io/managed-by`; default `endpointslice-controller.k8s.io`. */
  readonly managedBy?: string;
  /** Adds `service.kubernetes.io/headless: ""`; default true. */
  readonly headless?: boolean;
  /** UID of the owner Service; default: derived from namespace/service. */
  readonly serviceUid?: string;
}

/** An endpoint with all conditions set (default ready, serving, not terminating). */
export function endpoint(
  ip: string,
  opts: Omit<EndpointInput, 'ip' | 'addresses'> = {},
): EndpointInput {
  return { ip, ready: true, serving: true, terminating: false, ...opts };
}

/** A port entry: `{ name, port, protocol }`. */
export function port(portNumber: number, name = '', protocol: Protocol = 'TCP'): PortInput {
  return { name, port: portNumber, protocol };
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A random `generateName` suffix like the API server's (5 characters). */
export function nameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) {
    s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)] ?? 'x';
  }
  return s;
}

/**
 * A slice input with defaults: namespace `default`, name `<service>-<random>`,
 * no ports, no endpoints (both serialize as `null`).
 */
export function slice(
  service: string,
  opts: Partial<Omit<SliceInput, 'service'>> = {},
): SliceInput {
  return { namespace: 'default', name: `${service}-${nameSuffix()}`, service, ...opts };
}

// ---------------------------------------------------------------------------
// Faults and accounting

/** What the next watch request(s) get instead of a normal answer. */
export type WatchFault =
  /** HTTP 500 with an InternalError Status body. */
  | 'status-500'
  /** HTTP 403 with a Forbidden Status body (like missing RBAC). */
  | 'status-403'
  /** HTTP 410 with an Expired Status body. */
  | 'status-410'
  /** HTTP 429 with a TooManyRequests Status body and `Retry-After: 1`. */
  | 'status-429'
  /** HTTP 200 headers, then no bytes ever (until the client goes away or close()). */
  | 'hang'
  /** Destroy the socket without answering. */
  | 'reset'
  /** HTTP 200, half of the first event line (or of a bookmark), then destroy the socket. */
  | 'drop-mid-line'
  /** HTTP 200, then end the body cleanly without events. */
  | 'end-cleanly';

/** What the next list request(s) get instead of a normal answer. */
export type ListFault =
  'status-500' | 'status-403' | 'status-410' | 'status-429' | 'hang' | 'reset';

export type RequestKind = 'list' | 'watch' | 'other';

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly kind: RequestKind;
  /** HTTP status sent; 0 while unanswered (or never: 'hang'/'reset' lists, 'reset' watches). */
  status: number;
  /** Date.now() at arrival. */
  readonly time: number;
  /** The bearer token presented, if any. */
  readonly token: string | undefined;
}

export interface FakeKubeApiOptions {
  /** Accepted bearer token; default `test-token`. */
  readonly token?: string;
  /** Listen address; default 127.0.0.1 (may be `::1`). */
  readonly host?: string;
  /**
   * End every watch cleanly after this many ms even without `timeoutSeconds`
   * (like the API server's --min-request-timeout). Default: never.
   */
  readonly watchTimeoutMs?: number;
  /**
   * Send a BOOKMARK to bookmark-enabled watchers every this many ms (a real
   * API server does so about once a minute). Default: only on sendBookmark().
   */
  readonly bookmarkIntervalMs?: number;
  /** Directory for the TLS fixtures; default: the per-process temporary one. */
  readonly tlsDir?: string;
}

export interface KubeconfigOptions {
  /** Context namespace; default `default`. */
  readonly namespace?: string;
  /** users[].user.token; default the server's token. */
  readonly token?: string;
  /** clusters[].cluster.server; default `url` (e.g. use `https://localhost:PORT`). */
  readonly server?: string;
}

// ---------------------------------------------------------------------------
// Label selectors

interface Requirement {
  readonly key: string;
  readonly op: 'eq' | 'neq' | 'in' | 'notin' | 'exists' | 'notexists';
  readonly values: readonly string[];
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[-A-Za-z0-9_.]*`;
const RE_EQ = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const RE_SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^)]*)\\)$`);
const RE_EXISTS = new RegExp(`^(${KEY})$`);
const RE_NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);

/** Parse a label selector (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`); throws if invalid. */
export function parseLabelSelector(selector: string): readonly Requirement[] {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  terms.push(cur);
  if (terms.length === 1 && terms[0]?.trim() === '') return [];
  return terms.map((raw) => {
    const term = raw.trim();
    let m = RE_EQ.exec(term);
    if (m) {
      return { key: m[1] ?? '', op: m[2] === '!=' ? 'neq' : 'eq', values: [m[3] ?? ''] };
    }
    m = RE_SET.exec(term);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) {
        throw new Error(`unable to parse requirement: ${term}`);
      }
      return { key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values };
    }
    m = RE_EXISTS.exec(term);
    if (m) return { key: m[1] ?? '', op: 'exists', values: [] };
    m = RE_NOT_EXISTS.exec(term);
    if (m) return { key: m[1] ?? '', op: 'notexists', values: [] };
    throw new Error(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=`);
  });
}

function selectorMatches(
  reqs: readonly Requirement[],
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.values[0];
      case 'neq':
        return !has || v !== r.values[0];
      case 'in':
        return has && v !== undefined && r.values.includes(v);
      case 'notin':
        return !has || v === undefined || !r.values.includes(v);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

// ---------------------------------------------------------------------------
// Helpers

const GROUP_VERSION = 'discovery.k8s.io/v1';
const KIND = 'EndpointSlice';
const PATH_RE =
  /^\/apis\/discovery\.k8s\.io\/v1\/(?:namespaces\/([^/]+)\/)?endpointslices(?:\/([^/]+))?$/;
const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** A real-shaped `Status` object. */
export function statusJson(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): StatusJson {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function tooOld(requested: number, oldest: number): StatusJson {
  return statusJson(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

function derivedUid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function objKey(o: EndpointSliceJson): string {
  return key(o.metadata.namespace ?? '', o.metadata.name ?? '');
}

function withKind(o: EndpointSliceJson): Record<string, unknown> {
  return { kind: KIND, apiVersion: GROUP_VERSION, ...structuredClone(o) };
}

function line(ev: WatchEventJson): string {
  return `${JSON.stringify(ev)}\n`;
}

function bookmarkEvent(rv: number, initialEventsEnd = false): WatchEventJson {
  const metadata: ObjectMetaJson = { resourceVersion: String(rv), creationTimestamp: null };
  if (initialEventsEnd) metadata.annotations = { [INITIAL_EVENTS_END]: 'true' };
  return {
    type: 'BOOKMARK',
    object: {
      kind: KIND,
      apiVersion: GROUP_VERSION,
      metadata,
      addressType: '',
      endpoints: null,
      ports: null,
    },
  };
}

function errorEvent(status: StatusJson): WatchEventJson {
  return { type: 'ERROR', object: { ...status } };
}

function parseRv(s: string): number | undefined {
  return /^\d+$/.test(s) ? Number(s) : undefined;
}

interface HistoryEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly rv: number;
  /** The new object (for DELETED: the last state with the deletion RV). */
  readonly object: EndpointSliceJson;
  /** The object before the change (MODIFIED, DELETED). */
  readonly prev: EndpointSliceJson | undefined;
}

interface Watcher {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly namespace: string | undefined;
  readonly selector: readonly Requirement[];
  readonly bookmarks: boolean;
  /** False for a 'hang' fault: it never gets bytes. */
  readonly streaming: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

// ---------------------------------------------------------------------------

export class FakeKubeApi {
  /** Accepted bearer token; assign to rotate it. */
  token: string;
  readonly caCert: string;
  readonly host: string;
  port = 0;
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Other kinds (Services, ConfigMaps, Gateway API...): register them, then put objects. */
  readonly objects = new FakeObjectStore();

  #server: Server;
  #sockets = new Set<Socket>();
  #watchers = new Set<Watcher>();
  #slices = new Map<string, EndpointSliceJson>();
  /** Plain objects served by GET at their path (putObject). */
  readonly #objects = new Map<string, Record<string, unknown>>();
  #history: HistoryEvent[] = [];
  #rv = 100;
  #compactedRv = 0;
  #watchFaults: WatchFault[] = [];
  #listFaults: ListFault[] = [];
  #watchTimeoutMs: number | undefined;
  #bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(opts: FakeKubeApiOptions) {
    const tls = makeTlsFixtures(opts.tlsDir);
    this.token = opts.token ?? 'test-token';
    this.host = opts.host ?? '127.0.0.1';
    this.caCert = tls.caCert;
    this.#watchTimeoutMs = opts.watchTimeoutMs;
    this.#server = createServer({ cert: tls.serverCert, key: tls.serverKey }, (req, res) =>
      this.#handle(req, res),
    );
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('tlsClientError', () => undefined);
  }

  /** Start on an ephemeral port of `host` (default 127.0.0.1). */
  static async start(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(opts);
    api.#server.listen({ host: api.host, port: 0 });
    await once(api.#server, 'listening');
    api.port = (api.#server.address() as AddressInfo).port;
    if (opts.bookmarkIntervalMs !== undefined && opts.bookmarkIntervalMs > 0) {
      api.#bookmarkTimer = setInterval(() => api.sendBookmark(), opts.bookmarkIntervalMs);
      api.#bookmarkTimer.unref();
    }
    return api;
  }

  /** `https://127.0.0.1:PORT` (IPv6 hosts bracketed). */
  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `https://${h}:${this.port}`;
  }

  /** The current (latest) resourceVersion, a string of an integer. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  // -------------------------------------------------------------------------
  // Client configuration

  /** Write a kubeconfig (one cluster with certificate-authority-data, one token user, one context). */
  writeKubeconfig(path: string, opts: KubeconfigOptions = {}): void {
    const q = (s: string): string => JSON.stringify(s);
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake-kube',
      '  cluster:',
      `    server: ${q(opts.server ?? this.url)}`,
      `    certificate-authority-data: ${Buffer.from(this.caCert).toString('base64')}`,
      'users:',
      '- name: fake-user',
      '  user:',
      `    token: ${q(opts.token ?? this.token)}`,
      'contexts:',
      '- name: fake-context',
      '  context:',
      '    cluster: fake-kube',
      '    user: fake-user',
      `    namespace: ${q(opts.namespace ?? 'default')}`,
      'current-context: fake-context',
      'preferences: {}',
      '',
    ].join('\n');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, yaml, { mode: 0o600 });
  }

  /**
   * Write `token`, `ca.crt` and `namespace` into `dir`, as in
   * /var/run/secrets/kubernetes.io/serviceaccount. For client-node's
   * `kc.loadFromCluster(prefix)`, `dir` must be
   * `${prefix}/var/run/secrets/kubernetes.io/serviceaccount`; also set the
   * environment from `inClusterEnv()`.
   */
  inClusterFiles(dir: string, namespace: string, token: string = this.token): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/token`, token);
    writeFileSync(`${dir}/ca.crt`, this.caCert);
    writeFileSync(`${dir}/namespace`, namespace);
  }

  /** KUBERNETES_SERVICE_HOST / _PORT / _PORT_HTTPS for an in-cluster client. */
  inClusterEnv(): Record<string, string> {
    return {
      KUBERNETES_SERVICE_HOST: this.host,
      KUBERNETES_SERVICE_PORT: String(this.port),
      KUBERNETES_SERVICE_PORT_HTTPS: String(this.port),
    };
  }

  // -------------------------------------------------------------------------
  // Object store

  /** Create or replace a slice: a new RV, generation+1, and an ADDED/MODIFIED event. */
  /**
   * Serve `object` at its own GET path (e.g. a ConfigMap at
   * /api/v1/namespaces/NS/configmaps/NAME): plain reads of other kinds, no list or watch.
   */
  putObject(path: string, object: Record<string, unknown>): void {
    this.#objects.set(path, object);
  }

  upsertSlice(input: SliceInput): void {
    const k = key(input.namespace, input.name);
    const prev = this.#slices.get(k);
    const rv = ++this.#rv;
    const object = this.#build(input, rv, prev);
    if (prev && prev.addressType !== object.addressType) {
      throw new Error(
        `EndpointSlice.discovery.k8s.io "${input.name}" is invalid: addressType: Invalid value: "${object.addressType}": field is immutable`,
      );
    }
    this.#slices.set(k, object);
    this.#record({ type: prev ? 'MODIFIED' : 'ADDED', rv, object, prev });
  }

  /** Delete a slice (DELETED event with the last state and the deletion RV); false if absent. */
  deleteSlice(namespace: string, name: string): boolean {
    const k = key(namespace, name);
    const prev = this.#slices.get(k);
    if (!prev) return false;
    const rv = ++this.#rv;
    this.#slices.delete(k);
    const object = structuredClone(prev);
    object.metadata.resourceVersion = String(rv);
    this.#record({ type: 'DELETED', rv, object, prev });
    return true;
  }

  /** A copy of a stored slice (as a list item). */
  getSlice(namespace: string, name: string): EndpointSliceJson | undefined {
    const o = this.#slices.get(key(namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  /** Copies of the stored slices, optionally of one namespace, sorted by namespace/name. */
  slices(namespace?: string): EndpointSliceJson[] {
    return [...this.#slices.values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) => (objKey(a) < objKey(b) ? -1 : 1))
      .map((o) => structuredClone(o));
  }

  /**
   * Compact the history at the current RV: a later watch (or `continue` /
   * `resourceVersionMatch=Exact` list) from an older RV gets 410 Expired.
   */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  // -------------------------------------------------------------------------
  // Watch control

  /** Send a BOOKMARK at the current RV to every streaming watcher that asked for bookmarks. */
  sendBookmark(): void {
    for (const w of this.#watchers) {
      if (w.streaming && w.bookmarks) this.#write(w.res, line(bookmarkEvent(this.#rv)));
    }
  }

  /** Send an ERROR 410 Expired event to every streaming watcher, then end its stream. */
  expireWatchers(): void {
    const status = statusJson(
      410,
      'Expired',
      'The resourceVersion for the provided watch is too old.',
    );
    for (const w of [...this.#watchers]) {
      if (!w.streaming) continue;
      this.#write(w.res, line(errorEvent(status)));
      this.#endWatcher(w);
    }
  }

  /** Destroy every open watch connection (including hanging ones) abruptly. */
  dropWatchers(): void {
    for (const w of [...this.#watchers]) {
      this.#removeWatcher(w);
      w.req.socket.destroy();
    }
  }

  /** End every open watch response (including hanging ones) cleanly. */
  endWatchers(): void {
    for (const w of [...this.#watchers]) this.#endWatcher(w);
  }

  /** The next `n` watch requests (after authentication) get `mode`. Queues after earlier faults. */
  failNextWatches(n: number, mode: WatchFault): void {
    for (let i = 0; i < n; i++) this.#watchFaults.push(mode);
  }

  /** The next `n` list requests (after authentication) get `mode`. Queues after earlier faults. */
  failNextLists(n: number, mode: ListFault): void {
    for (let i = 0; i < n; i++) this.#listFaults.push(mode);
  }

  /** Forget queued faults. */
  clearFaults(): void {
    this.#watchFaults = [];
    this.#listFaults = [];
  }

  // -------------------------------------------------------------------------
  // Accounting

  /** Number of requests of a kind (any status, including 401s). */
  count(kind: RequestKind): number {
    return this.requests.filter((r) => r.kind === kind).length;
  }

  /** Number of open watch connections (including 'hang' ones). */
  watchersConnected(): number {
    return this.#watchers.size;
  }

  /** Poll `predicate` every 5 ms; reject after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`FakeKubeApi.waitFor: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stop listening and destroy every open socket. */
  async close(): Promise<void> {
    this.objects.close();
    clearInterval(this.#bookmarkTimer);
    for (const w of this.#watchers) if (w.timer) clearTimeout(w.timer);
    this.#watchers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  // -------------------------------------------------------------------------
  // Internals: objects

  #build(input: SliceInput, rv: number, prev: EndpointSliceJson | undefined): EndpointSliceJson {
    const ns = input.namespace;
    const now = timestamp();
    const labels: Record<string, string> = {
      'endpointslice.kubernetes.io/managed-by':
        input.managedBy ?? 'endpointslice-controller.k8s.io',
      'kubernetes.io/service-name': input.service,
    };
    if (input.headless ?? true) labels['service.kubernetes.io/headless'] = '';
    Object.assign(labels, input.labels);
    const annotations: Record<string, string> = {
      'endpoints.kubernetes.io/last-change-trigger-time': now,
      ...input.annotations,
    };
    const endpoints: EndpointJson[] = (input.endpoints ?? []).map((e) => {
      const addresses = e.addresses ? [...e.addresses] : e.ip !== undefined ? [e.ip] : [];
      if (addresses.length === 0) throw new Error('FakeKubeApi: an endpoint needs ip or addresses');
      const conditions: EndpointConditionsJson = {};
      if (e.ready !== undefined) conditions.ready = e.ready;
      if (e.serving !== undefined) conditions.serving = e.serving;
      if (e.terminating !== undefined) conditions.terminating = e.terminating;
      const ep: EndpointJson = { addresses, conditions };
      if (e.hostname !== undefined) ep.hostname = e.hostname;
      if (e.pod !== undefined) {
        ep.targetRef = {
          kind: 'Pod',
          namespace: ns,
          name: e.pod,
          uid: e.podUid ?? derivedUid('pod', ns, e.pod),
        };
      }
      if (e.node !== undefined) ep.nodeName = e.node;
      if (e.zone !== undefined) ep.zone = e.zone;
      if (e.forZones !== undefined || e.forNodes !== undefined) {
        ep.hints = {};
        if (e.forZones) ep.hints.forZones = e.forZones.map((name) => ({ name }));
        if (e.forNodes) ep.hints.forNodes = e.forNodes.map((name) => ({ name }));
      }
      return ep;
    });
    const ports: EndpointPortJson[] = (input.ports ?? []).map((p) => {
      const out: EndpointPortJson = { name: p.name ?? '', protocol: p.protocol ?? 'TCP' };
      if (p.port !== null && p.port !== undefined) out.port = p.port;
      if (p.appProtocol !== undefined) out.appProtocol = p.appProtocol;
      return out;
    });
    const first = endpoints[0]?.addresses[0];
    const addressType = input.addressType ?? (first?.includes(':') ? 'IPv6' : 'IPv4');
    return {
      metadata: {
        name: input.name,
        generateName: `${input.service}-`,
        namespace: ns,
        uid: prev?.metadata.uid ?? randomUUID(),
        resourceVersion: String(rv),
        generation: (prev?.metadata.generation ?? 0) + 1,
        creationTimestamp: prev?.metadata.creationTimestamp ?? now,
        labels: sortedRecord(labels),
        annotations: sortedRecord(annotations),
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            name: input.service,
            uid: input.serviceUid ?? derivedUid('service', ns, input.service),
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        managedFields: [
          {
            manager: 'kube-controller-manager',
            operation: 'Update',
            apiVersion: GROUP_VERSION,
            time: now,
            fieldsType: 'FieldsV1',
            fieldsV1: {
              'f:addressType': {},
              'f:endpoints': {},
              'f:metadata': {
                'f:annotations': {},
                'f:generateName': {},
                'f:labels': {},
                'f:ownerReferences': {},
              },
              'f:ports': {},
            },
          },
        ],
      },
      addressType,
      endpoints: endpoints.length > 0 ? endpoints : null,
      ports: ports.length > 0 ? ports : null,
    };
  }

  #record(ev: HistoryEvent): void {
    this.#history.push(ev);
    for (const w of this.#watchers) {
      if (!w.streaming) continue;
      const out = this.#convert(ev, w.namespace, w.selector);
      if (out) this.#write(w.res, line(out));
    }
  }

  /** The event as a watcher with this namespace and selector sees it, if at all. */
  #convert(
    ev: HistoryEvent,
    namespace: string | undefined,
    selector: readonly Requirement[],
  ): WatchEventJson | undefined {
    if (namespace !== undefined && ev.object.metadata.namespace !== namespace) return undefined;
    if (ev.type === 'DELETED') {
      return selectorMatches(selector, ev.object.metadata.labels)
        ? { type: 'DELETED', object: withKind(ev.object) }
        : undefined;
    }
    const cur = selectorMatches(selector, ev.object.metadata.labels);
    const prev = ev.prev;
    const prevFits = prev !== undefined && selectorMatches(selector, prev.metadata.labels);
    if (cur && prevFits) return { type: 'MODIFIED', object: withKind(ev.object) };
    if (cur) return { type: 'ADDED', object: withKind(ev.object) };
    if (prevFits) {
      // Like the watch cache: the previous content, with the event's RV.
      const old = structuredClone(prev);
      old.metadata.resourceVersion = String(ev.rv);
      return { type: 'DELETED', object: withKind(old) };
    }
    return undefined;
  }

  /** The store as of `rv` (rv >= compactedRv), undoing later history. */
  #stateAt(rv: number): Map<string, EndpointSliceJson> {
    const m = new Map(this.#slices);
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const ev = this.#history[i];
      if (!ev || ev.rv <= rv) break;
      if (ev.prev) m.set(objKey(ev.prev), ev.prev);
      else m.delete(objKey(ev.object));
    }
    return m;
  }

  #matching(
    store: Map<string, EndpointSliceJson>,
    namespace: string | undefined,
    selector: readonly Requirement[],
  ): EndpointSliceJson[] {
    return [...store.entries()]
      .filter(
        ([, o]) =>
          (namespace === undefined || o.metadata.namespace === namespace) &&
          selectorMatches(selector, o.metadata.labels),
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  // -------------------------------------------------------------------------
  // Internals: HTTP

  #write(res: ServerResponse, data: string): void {
    if (!res.writableEnded && !res.destroyed) res.write(data);
  }

  #endWatcher(w: Watcher): void {
    this.#removeWatcher(w);
    if (!w.res.writableEnded && !w.res.destroyed) w.res.end();
  }

  #removeWatcher(w: Watcher): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
    this.#watchers.delete(w);
  }

  #headers(
    res: ServerResponse,
    status: number,
    rec: RequestRecord,
    extra: Record<string, string> = {},
  ): void {
    rec.status = status;
    res.writeHead(status, {
      'Audit-Id': randomUUID(),
      'Cache-Control': 'no-cache, private',
      'Content-Type': 'application/json',
      ...extra,
    });
  }

  #sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    rec: RequestRecord,
    extra?: Record<string, string>,
  ): void {
    const data = `${JSON.stringify(body)}\n`;
    this.#headers(res, status, rec, {
      'Content-Length': String(Buffer.byteLength(data)),
      ...extra,
    });
    res.end(data);
  }

  #sendStatus(
    res: ServerResponse,
    s: StatusJson,
    rec: RequestRecord,
    extra?: Record<string, string>,
  ): void {
    this.#sendJson(res, s.code, s, rec, extra);
  }

  #faultStatus(
    mode: 'status-500' | 'status-403' | 'status-410' | 'status-429',
    verb: string,
    namespace: string | undefined,
  ): [StatusJson, Record<string, string>] {
    switch (mode) {
      case 'status-500':
        return [
          statusJson(500, 'InternalError', 'Internal error occurred: injected failure', {
            causes: [{ message: 'injected failure' }],
          }),
          {},
        ];
      case 'status-403': {
        const where =
          namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
        const user = `system:serviceaccount:${namespace ?? 'default'}:headway`;
        return [
          statusJson(
            403,
            'Forbidden',
            `endpointslices.discovery.k8s.io is forbidden: User "${user}" cannot ${verb} resource "endpointslices" in API group "discovery.k8s.io" ${where}`,
            { group: 'discovery.k8s.io', kind: 'endpointslices' },
          ),
          {},
        ];
      }
      case 'status-410':
        return [tooOld(this.#compactedRv, this.#compactedRv + 1), {}];
      case 'status-429':
        return [
          statusJson(429, 'TooManyRequests', 'Too many requests, please try again later.', {
            retryAfterSeconds: 1,
          }),
          { 'Retry-After': '1' },
        ];
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const m = PATH_RE.exec(url.pathname);
    const isWatch = query.watch !== undefined && TRUE_VALUES.has(query.watch);
    const kind: RequestKind =
      m && m[2] === undefined && req.method === 'GET' ? (isWatch ? 'watch' : 'list') : 'other';
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    const rec: RequestRecord = {
      method: req.method ?? '',
      path: url.pathname,
      query,
      kind,
      status: 0,
      time: Date.now(),
      token,
    };
    this.requests.push(rec);
    if (token === this.token && this.objects.handle(req, res, url)) return;
    req.resume();

    if (token !== this.token) {
      this.#sendStatus(res, statusJson(401, 'Unauthorized', 'Unauthorized'), rec);
      return;
    }
    const plain = req.method === 'GET' ? this.#objects.get(url.pathname) : undefined;
    if (plain !== undefined) {
      this.#sendJson(res, 200, plain, rec);
      return;
    }
    if (!m) {
      this.#sendStatus(
        res,
        statusJson(404, 'NotFound', 'the server could not find the requested resource', {}),
        rec,
      );
      return;
    }
    const namespace = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
    if (req.method !== 'GET') {
      this.#sendStatus(
        res,
        statusJson(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
          {
            group: 'discovery.k8s.io',
            kind: 'endpointslices',
          },
        ),
        rec,
      );
      return;
    }
    if (m[2] !== undefined) {
      const name = decodeURIComponent(m[2]);
      const o = namespace === undefined ? undefined : this.#slices.get(key(namespace, name));
      if (o) this.#sendJson(res, 200, withKind(o), rec);
      else {
        this.#sendStatus(
          res,
          statusJson(404, 'NotFound', `endpointslices.discovery.k8s.io "${name}" not found`, {
            name,
            group: 'discovery.k8s.io',
            kind: 'endpointslices',
          }),
          rec,
        );
      }
      return;
    }
    let selector: readonly Requirement[];
    try {
      selector = parseLabelSelector(query.labelSelector ?? '');
    } catch (err) {
      this.#sendStatus(res, statusJson(400, 'BadRequest', (err as Error).message), rec);
      return;
    }
    if (isWatch) this.#watch(req, res, rec, namespace, selector, query);
    else this.#list(req, res, rec, namespace, selector, query);
  }

  #list(
    req: IncomingMessage,
    res: ServerResponse,
    rec: RequestRecord,
    namespace: string | undefined,
    selector: readonly Requirement[],
    query: Record<string, string>,
  ): void {
    const fault = this.#listFaults.shift();
    if (fault === 'hang') return;
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault !== undefined) {
      const [s, extra] = this.#faultStatus(fault, 'list', namespace);
      this.#sendStatus(res, s, rec, extra);
      return;
    }

    let listRv = this.#rv;
    let start = '';
    if (query.continue) {
      let tok: ContinueToken | undefined;
      try {
        tok = JSON.parse(Buffer.from(query.continue, 'base64').toString('utf8')) as ContinueToken;
      } catch {
        tok = undefined;
      }
      if (typeof tok?.rv !== 'number' || typeof tok.start !== 'string') {
        this.#sendStatus(
          res,
          statusJson(
            400,
            'BadRequest',
            'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
          ),
          rec,
        );
        return;
      }
      if (tok.rv < this.#compactedRv) {
        this.#sendStatus(
          res,
          statusJson(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
          rec,
        );
        return;
      }
      listRv = tok.rv;
      start = tok.start;
    } else if (
      query.resourceVersion !== undefined &&
      query.resourceVersion !== '' &&
      query.resourceVersion !== '0'
    ) {
      const rv = parseRv(query.resourceVersion);
      if (rv === undefined) {
        this.#sendStatus(
          res,
          statusJson(400, 'BadRequest', `invalid resource version: ${query.resourceVersion}`),
          rec,
        );
        return;
      }
      if (rv > this.#rv) {
        this.#sendStatus(
          res,
          statusJson(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.#rv}`, {
            causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
            retryAfterSeconds: 1,
          }),
          rec,
        );
        return;
      }
      if (query.resourceVersionMatch === 'Exact') {
        if (rv < this.#compactedRv) {
          this.#sendStatus(res, tooOld(rv, this.#compactedRv), rec);
          return;
        }
        listRv = rv;
      }
    }

    const store = listRv === this.#rv ? this.#slices : this.#stateAt(listRv);
    let items = this.#matching(store, namespace, selector);
    if (start !== '') items = items.filter((o) => objKey(o) >= start);
    const limit = query.limit === undefined ? 0 : Number.parseInt(query.limit, 10);
    const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
      resourceVersion: String(listRv),
    };
    if (limit > 0 && items.length > limit) {
      const rest = items.slice(limit);
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      const tok: ContinueToken = {
        v: 'meta.k8s.io/v1',
        rv: listRv,
        start: `${last ? objKey(last) : ''}\u0000`,
      };
      metadata.continue = Buffer.from(JSON.stringify(tok)).toString('base64');
      metadata.remainingItemCount = rest.length;
    }
    this.#sendJson(
      res,
      200,
      { kind: 'EndpointSliceList', apiVersion: GROUP_VERSION, metadata, items },
      rec,
    );
  }

  #watch(
    req: IncomingMessage,
    res: ServerResponse,
    rec: RequestRecord,
    namespace: string | undefined,
    selector: readonly Requirement[],
    query: Record<string, string>,
  ): void {
    const fault = this.#watchFaults.shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (
      fault === 'status-500' ||
      fault === 'status-403' ||
      fault === 'status-410' ||
      fault === 'status-429'
    ) {
      const [s, extra] = this.#faultStatus(fault, 'watch', namespace);
      this.#sendStatus(res, s, rec, extra);
      return;
    }

    const rvParam = query.resourceVersion ?? '';
    const bookmarks =
      query.allowWatchBookmarks !== undefined && TRUE_VALUES.has(query.allowWatchBookmarks);
    const initialEvents =
      query.sendInitialEvents !== undefined && TRUE_VALUES.has(query.sendInitialEvents);
    const initial: WatchEventJson[] = [];
    let expired: StatusJson | undefined;
    if (initialEvents || rvParam === '' || rvParam === '0') {
      // "Get state and start at most recent": synthetic ADDED for current objects.
      for (const o of this.#matching(this.#slices, namespace, selector)) {
        initial.push({ type: 'ADDED', object: withKind(o) });
      }
      if (initialEvents && bookmarks) initial.push(bookmarkEvent(this.#rv, true));
    } else {
      const rv = parseRv(rvParam);
      if (rv === undefined) {
        this.#sendStatus(
          res,
          statusJson(400, 'BadRequest', `invalid resource version: ${rvParam}`),
          rec,
        );
        return;
      }
      if (rv < this.#compactedRv) {
        expired = tooOld(rv, this.#compactedRv);
      } else {
        for (const ev of this.#history) {
          if (ev.rv <= rv) continue;
          const out = this.#convert(ev, namespace, selector);
          if (out) initial.push(out);
        }
      }
    }

    this.#headers(res, 200, rec, { 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    if (expired) {
      res.end(line(errorEvent(expired)));
      return;
    }
    if (fault === 'end-cleanly') {
      res.end();
      return;
    }
    if (fault === 'drop-mid-line') {
      const first = line(initial[0] ?? bookmarkEvent(this.#rv));
      res.write(first.slice(0, Math.floor(first.length / 2)), () => req.socket.destroy());
      return;
    }

    const w: Watcher = {
      req,
      res,
      namespace,
      selector,
      bookmarks,
      streaming: fault !== 'hang',
      timer: undefined,
    };
    this.#watchers.add(w);
    res.on('close', () => this.#removeWatcher(w));
    if (!w.streaming) return;

    for (const ev of initial) res.write(line(ev));
    const timeoutSeconds = query.timeoutSeconds === undefined ? 0 : Number(query.timeoutSeconds);
    const limits = [
      timeoutSeconds > 0 ? timeoutSeconds * 1000 : Infinity,
      this.#watchTimeoutMs ?? Infinity,
    ];
    const ms = Math.min(...limits);
    if (Number.isFinite(ms)) {
      w.timer = setTimeout(() => this.#endWatcher(w), ms);
    }
  }
}
