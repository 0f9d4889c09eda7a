import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/*
 * Kinds other than EndpointSlices for FakeKubeApi, speaking the API server's
 * wire protocol the way client-node uses it: API discovery (/api/v1, /apis,
 * /apis/GROUP/VERSION), list (all namespaces or one; fieldSelector
 * metadata.name), watch (newline-delimited JSON from a resourceVersion, with
 * history replay, 410 after compaction, timeoutSeconds), GET of one object,
 * and merge-patch of the status subresource (recorded for assertions, and
 * sent to watchers as MODIFIED like a real server).
 */

export interface KindSpec {
  /** '' for the core group (/api/v1). */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export type KubeObject = Record<string, unknown> & {
  metadata: { name: string; namespace?: string; [k: string]: unknown };
};

export interface StatusPatchRecord {
  readonly plural: string;
  readonly version: string;
  readonly namespace: string;
  readonly name: string;
  readonly contentType: string;
  readonly body: { status?: unknown };
  /** Date.now() at arrival. */
  readonly time: number;
}

interface Event {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly rv: number;
  readonly kind: KindSpec;
  readonly object: KubeObject;
}

interface ObjectWatcher {
  readonly kind: KindSpec;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly res: ServerResponse;
  readonly req: IncomingMessage;
  timer: NodeJS.Timeout | undefined;
}

export const CORE_KINDS: readonly KindSpec[] = [
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
];

const G = 'gateway.networking.k8s.io';

/** The Gateway API kinds, as a cluster with the given TCPRoute/TLSRoute version serves them. */
export function gatewayApiKinds(routeVersion: 'v1' | 'v1alpha2'): KindSpec[] {
  return [
    { group: G, version: 'v1', plural: 'gateways', kind: 'Gateway', namespaced: true },
    { group: G, version: 'v1', plural: 'gatewayclasses', kind: 'GatewayClass', namespaced: false },
    { group: G, version: routeVersion, plural: 'tcproutes', kind: 'TCPRoute', namespaced: true },
    { group: G, version: routeVersion, plural: 'tlsroutes', kind: 'TLSRoute', namespaced: true },
    {
      group: G,
      version: 'v1beta1',
      plural: 'referencegrants',
      kind: 'ReferenceGrant',
      namespaced: true,
    },
  ];
}

export class FakeObjectStore {
  readonly statusPatches: StatusPatchRecord[] = [];
  readonly #kinds: KindSpec[] = [];
  readonly #objects = new Map<string, KubeObject>();
  #history: Event[] = [];
  #watchers = new Set<ObjectWatcher>();
  #rv = 10_000;
  #compactedRv = 0;

  register(...kinds: readonly KindSpec[]): void {
    for (const k of kinds) if (!this.#kinds.some((x) => same(x, k))) this.#kinds.push(k);
  }

  /** Create or replace an object (spec changes bump generation): ADDED or MODIFIED to watchers. */
  put(plural: string, object: KubeObject): KubeObject {
    const kind = this.#kind(plural);
    const k = objectKey(kind, object.metadata.namespace, object.metadata.name);
    const prev = this.#objects.get(k);
    const rv = ++this.#rv;
    const prevMeta = (prev?.metadata ?? {}) as Record<string, unknown>;
    const specChanged = JSON.stringify(prev?.spec) !== JSON.stringify(object.spec);
    const generation =
      ((prevMeta.generation as number | undefined) ?? 0) + (specChanged || !prev ? 1 : 0);
    const stored: KubeObject = {
      ...structuredClone(object),
      ...(prev?.status !== undefined && object.status === undefined ? { status: prev.status } : {}),
      metadata: {
        ...structuredClone(object.metadata),
        uid: prevMeta.uid ?? randomUUID(),
        resourceVersion: String(rv),
        generation,
        creationTimestamp:
          prevMeta.creationTimestamp ??
          object.metadata.creationTimestamp ??
          new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
    this.#objects.set(k, stored);
    this.#record({ type: prev ? 'MODIFIED' : 'ADDED', rv, kind, object: stored });
    return structuredClone(stored);
  }

  delete(plural: string, namespace: string | undefined, name: string): boolean {
    const kind = this.#kind(plural);
    const k = objectKey(kind, namespace, name);
    const prev = this.#objects.get(k);
    if (!prev) return false;
    this.#objects.delete(k);
    const rv = ++this.#rv;
    const object = structuredClone(prev);
    object.metadata.resourceVersion = String(rv);
    this.#record({ type: 'DELETED', rv, kind, object });
    return true;
  }

  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.#objects.get(objectKey(this.#kind(plural), namespace, name));
    return o === undefined ? undefined : structuredClone(o);
  }

  /** Forget history: a watch from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  /** Send ERROR 410 to every watcher and end its stream (as after an etcd compaction). */
  expireWatchers(): void {
    for (const w of [...this.#watchers]) {
      w.res.write(
        line({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }),
      );
      this.#end(w);
    }
  }

  watchersConnected(): number {
    return this.#watchers.size;
  }

  close(): void {
    for (const w of [...this.#watchers]) this.#end(w);
  }

  /** Serve the request if it is for a registered kind or discovery; false: not ours. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const path = url.pathname;
    if (path === '/apis' && req.method === 'GET') {
      this.#json(res, 200, this.#groupList());
      return true;
    }
    const disc = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/?$/.exec(path);
    if (disc !== null && req.method === 'GET') {
      const group = disc[2] ?? '';
      const version = disc[1] ?? disc[3] ?? '';
      const kinds = this.#kinds.filter((k) => k.group === group && k.version === version);
      if (kinds.length === 0) {
        if (group === '' || this.#kinds.some((k) => k.group === group)) {
          this.#json(
            res,
            404,
            status(404, 'NotFound', 'the server could not find the requested resource'),
          );
          return true;
        }
        return false;
      }
      this.#json(res, 200, resourceList(group, version, kinds));
      return true;
    }
    const m =
      /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(
        path,
      );
    if (m === null) return false;
    const group = m[2] ?? '';
    const version = m[1] ?? m[3] ?? '';
    const namespace = m[4] === undefined ? undefined : decodeURIComponent(m[4]);
    const kind = this.#kinds.find(
      (k) => k.group === group && k.version === version && k.plural === m[5],
    );
    if (kind === undefined) return false;
    const name = m[6] === undefined ? undefined : decodeURIComponent(m[6]);
    const subresource = m[7];
    if (req.method === 'PATCH' && name !== undefined && subresource === 'status') {
      this.#patchStatus(req, res, kind, namespace ?? '', name);
      return true;
    }
    req.resume();
    if (req.method !== 'GET') {
      this.#json(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
      return true;
    }
    if (name !== undefined) {
      const o = this.#objects.get(objectKey(kind, namespace, name));
      if (o === undefined)
        this.#json(res, 404, status(404, 'NotFound', `${kind.plural} "${name}" not found`));
      else this.#json(res, 200, withKind(kind, o));
      return true;
    }
    const fieldName = /^metadata\.name=(.+)$/.exec(
      url.searchParams.get('fieldSelector') ?? '',
    )?.[1];
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      this.#watch(req, res, url, kind, namespace, fieldName);
    } else {
      const items = this.#matching(kind, namespace, fieldName).map((o) => structuredClone(o));
      this.#json(res, 200, {
        kind: `${kind.kind}List`,
        apiVersion: apiVersion(kind),
        metadata: { resourceVersion: String(this.#rv) },
        items,
      });
    }
    return true;
  }

  #patchStatus(
    req: IncomingMessage,
    res: ServerResponse,
    kind: KindSpec,
    namespace: string,
    name: string,
  ): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      let body: { status?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: unknown };
      } catch {
        this.#json(res, 400, status(400, 'BadRequest', 'invalid JSON'));
        return;
      }
      this.statusPatches.push({
        plural: kind.plural,
        version: kind.version,
        namespace,
        name,
        contentType,
        body,
        time: Date.now(),
      });
      if (!contentType.startsWith('application/merge-patch+json')) {
        this.#json(
          res,
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${contentType})`,
          ),
        );
        return;
      }
      const k = objectKey(kind, kind.namespaced ? namespace : undefined, name);
      const prev = this.#objects.get(k);
      if (prev === undefined) {
        this.#json(res, 404, status(404, 'NotFound', `${kind.plural} "${name}" not found`));
        return;
      }
      const rv = ++this.#rv;
      const next = structuredClone(prev);
      next.status = mergePatch(prev.status, body.status);
      next.metadata.resourceVersion = String(rv);
      this.#objects.set(k, next);
      this.#record({ type: 'MODIFIED', rv, kind, object: next });
      this.#json(res, 200, withKind(kind, next));
    });
  }

  #watch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    kind: KindSpec,
    namespace: string | undefined,
    name: string | undefined,
  ): void {
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (rvParam !== '' && rvParam !== '0' && Number(rvParam) < this.#compactedRv) {
      res.end(
        line({
          type: 'ERROR',
          object: status(
            410,
            'Expired',
            `too old resource version: ${rvParam} (${this.#compactedRv})`,
          ),
        }),
      );
      return;
    }
    const w: ObjectWatcher = { kind, namespace, name, res, req, timer: undefined };
    this.#watchers.add(w);
    res.on('close', () => this.#forget(w));
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.#matching(kind, namespace, name))
        res.write(line({ type: 'ADDED', object: withKind(kind, o) }));
    } else {
      for (const ev of this.#history)
        if (ev.rv > Number(rvParam) && this.#fits(w, ev)) res.write(line(toWire(ev)));
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeout > 0) w.timer = setTimeout(() => this.#end(w), timeout * 1000);
  }

  #fits(w: ObjectWatcher, ev: Event): boolean {
    return (
      same(w.kind, ev.kind) &&
      (w.namespace === undefined || ev.object.metadata.namespace === w.namespace) &&
      (w.name === undefined || ev.object.metadata.name === w.name)
    );
  }

  #record(ev: Event): void {
    this.#history.push(ev);
    for (const w of this.#watchers) if (this.#fits(w, ev)) w.res.write(line(toWire(ev)));
  }

  #matching(kind: KindSpec, namespace: string | undefined, name: string | undefined): KubeObject[] {
    const prefix = `${kind.group}/${kind.plural}/`;
    return [...this.#objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([, o]) => o)
      .filter(
        (o) =>
          (namespace === undefined || o.metadata.namespace === namespace) &&
          (name === undefined || o.metadata.name === name),
      )
      .sort((a, b) =>
        objectKey(kind, a.metadata.namespace, a.metadata.name) <
        objectKey(kind, b.metadata.namespace, b.metadata.name)
          ? -1
          : 1,
      );
  }

  #end(w: ObjectWatcher): void {
    this.#forget(w);
    if (!w.res.writableEnded) w.res.end();
  }

  #forget(w: ObjectWatcher): void {
    clearTimeout(w.timer);
    this.#watchers.delete(w);
  }

  #kind(plural: string): KindSpec {
    // A kind registered in several versions (a cluster migrating) stores objects once, by group.
    const kind = this.#kinds.find((k) => k.plural === plural);
    if (kind === undefined) throw new Error(`FakeObjectStore: kind ${plural} is not registered`);
    return kind;
  }

  #groupList(): unknown {
    const groups = new Map<string, string[]>();
    for (const k of this.#kinds) {
      if (k.group === '') continue;
      const versions = groups.get(k.group) ?? [];
      if (!versions.includes(k.version)) versions.push(k.version);
      groups.set(k.group, versions);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => ({
        name,
        versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
        preferredVersion: {
          groupVersion: `${name}/${versions[0] ?? ''}`,
          version: versions[0] ?? '',
        },
      })),
    };
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    const data = `${JSON.stringify(body)}\n`;
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(data)),
    });
    res.end(data);
  }
}

function same(a: KindSpec, b: KindSpec): boolean {
  return a.group === b.group && a.plural === b.plural;
}

function objectKey(kind: KindSpec, namespace: string | undefined, name: string): string {
  return `${kind.group}/${kind.plural}/${kind.namespaced ? (namespace ?? '') : ''}/${name}`;
}

function apiVersion(kind: KindSpec): string {
  return kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;
}

function withKind(kind: KindSpec, o: KubeObject): Record<string, unknown> {
  return { apiVersion: apiVersion(kind), kind: kind.kind, ...structuredClone(o) };
}

function toWire(ev: Event): { type: string; object: unknown } {
  return { type: ev.type, object: withKind(ev.kind, ev.object) };
}

function line(ev: unknown): string {
  return `${JSON.stringify(ev)}\n`;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

function resourceList(group: string, version: string, kinds: readonly KindSpec[]): unknown {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: kinds.flatMap((k) => [
      {
        name: k.plural,
        singularName: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
      },
      ...(k.group === ''
        ? []
        : [
            {
              name: `${k.plural}/status`,
              singularName: '',
              namespaced: k.namespaced,
              kind: k.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]),
    ]),
  };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    return structuredClone(patch);
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  const entries = Object.entries(out);
  for (const [k, v] of Object.entries(patch)) {
    const i = entries.findIndex(([key]) => key === k);
    if (i >= 0) entries.splice(i, 1);
    if (v !== null) entries.push([k, mergePatch(out[k], v)]);
  }
  return Object.fromEntries(entries);
}
