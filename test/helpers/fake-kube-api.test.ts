import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, DiscoveryV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  FakeKubeApi,
  endpoint,
  port,
  slice,
  type FakeKubeApiOptions,
  type SliceInput,
  type WatchEventJson,
} from './fake-kube-api.ts';
import { makeTlsFixtures } from './tls-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'headway-fake-kube-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const opened: FakeKubeApi[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

let seq = 0;

async function setup(
  opts: FakeKubeApiOptions & { namespace?: string } = {},
): Promise<{ api: FakeKubeApi; kc: KubeConfig; discovery: DiscoveryV1Api }> {
  const api = await FakeKubeApi.start(opts);
  opened.push(api);
  const file = join(tmp, `kubeconfig-${++seq}`);
  api.writeKubeconfig(file, { namespace: opts.namespace ?? 'prod' });
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return { api, kc, discovery: kc.makeApiClient(DiscoveryV1Api) };
}

const PATH = '/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices';
const DB = 'kubernetes.io/service-name=db';

interface Received {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string }; code?: number } & Record<
    string,
    unknown
  >;
}

function startWatch(
  kc: KubeConfig,
  params: Record<string, string | number | boolean | undefined>,
  requestTimeoutMs?: number,
): { events: Received[]; done: Promise<unknown>; stop: () => Promise<void> } {
  const watch = new Watch(kc);
  if (requestTimeoutMs !== undefined) {
    // Private in the typings; 2.0.1's inactivity timeout (default 30 s).
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = requestTimeoutMs;
  }
  const events: Received[] = [];
  let controller: Promise<AbortController> | undefined;
  const done = new Promise<unknown>((resolve) => {
    controller = watch.watch(
      PATH,
      params,
      (type, object) => events.push({ type, object: object as Received['object'] }),
      resolve,
    );
  });
  return {
    events,
    done,
    stop: async () => {
      (await controller)?.abort();
    },
  };
}

function summary(events: readonly Received[]): string[] {
  return events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`.trim());
}

function raw(
  api: FakeKubeApi,
  path: string,
  /** null: no Authorization header. */
  token: string | null = api.token,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${api.url}${path}`,
      { ca: api.caCert, headers: token === null ? {} : { Authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function dbSlice(name: string, ip: string, extra: Partial<SliceInput> = {}): SliceInput {
  return slice('db', {
    namespace: 'prod',
    name,
    ports: [port(6379, 'redis')],
    endpoints: [endpoint(ip, { pod: `${name}-pod`, hostname: name, zone: 'a', node: 'n1' })],
    ...extra,
  });
}

describe('tls fixtures', () => {
  it('generate once: a CA and a server certificate for 127.0.0.1, ::1 and localhost', () => {
    const f = makeTlsFixtures();
    expect(makeTlsFixtures()).toBe(f);
    const ca = new X509Certificate(f.caCert);
    const cert = new X509Certificate(f.serverCert);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBeDefined();
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(f.serverKey).toContain('PRIVATE KEY');
  });
});

describe('FakeKubeApi with @kubernetes/client-node', () => {
  it('lists slices by label selector, with null endpoints/ports like a real cluster', async () => {
    const { api, discovery } = await setup();
    api.upsertSlice({
      namespace: 'prod',
      name: 'db-abc',
      service: 'db',
      addressType: 'IPv4',
      ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }],
      endpoints: [
        {
          ip: '127.0.0.11',
          pod: 'db-0',
          hostname: 'db-0',
          ready: true,
          serving: true,
          terminating: false,
          zone: 'a',
          node: 'n1',
          forZones: ['a'],
        },
      ],
    });
    api.upsertSlice({ namespace: 'prod', name: 'db-empty', service: 'db' });
    api.upsertSlice(slice('web', { namespace: 'prod', endpoints: [endpoint('127.0.0.20')] }));
    api.upsertSlice(dbSlice('db-other-ns', '127.0.0.30', { namespace: 'staging' }));

    const list = await discovery.listNamespacedEndpointSlice({
      namespace: 'prod',
      labelSelector: DB,
    });
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['db-abc', 'db-empty']);
    const [abc, empty] = list.items;
    expect(abc?.addressType).toBe('IPv4');
    expect(abc?.ports).toEqual([{ name: 'redis', port: 6379, protocol: 'TCP' }]);
    expect(abc?.endpoints?.[0]).toMatchObject({
      addresses: ['127.0.0.11'],
      conditions: { ready: true, serving: true, terminating: false },
      hostname: 'db-0',
      nodeName: 'n1',
      zone: 'a',
      targetRef: { kind: 'Pod', namespace: 'prod', name: 'db-0' },
      hints: { forZones: [{ name: 'a' }] },
    });
    expect(abc?.metadata?.labels).toEqual({
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      'kubernetes.io/service-name': 'db',
      'service.kubernetes.io/headless': '',
    });
    expect(abc?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Service', name: 'db' });
    // Typed as arrays, but a real cluster sends null for empty lists.
    expect(empty?.endpoints).toBeNull();
    expect(empty?.ports).toBeNull();

    const all = await discovery.listNamespacedEndpointSlice({ namespace: 'prod' });
    expect(all.items).toHaveLength(3);

    // On the wire: list items carry no kind/apiVersion; empty lists are null.
    const wire = await raw(api, `${PATH}?labelSelector=${encodeURIComponent(DB)}`);
    const parsed = JSON.parse(wire.body) as {
      kind: string;
      items: Record<string, unknown>[];
    };
    expect(parsed.kind).toBe('EndpointSliceList');
    expect(parsed.items[0]?.kind).toBeUndefined();
    expect(wire.body).toContain('"endpoints":null,"ports":null');
  });

  it('watch from the list RV: MODIFIED, ADDED, BOOKMARK, DELETED in order; other services filtered', async () => {
    const { api, discovery, kc } = await setup();
    api.upsertSlice(dbSlice('db-a', '127.0.0.11'));
    const list = await discovery.listNamespacedEndpointSlice({
      namespace: 'prod',
      labelSelector: DB,
    });
    const w = startWatch(kc, {
      labelSelector: DB,
      resourceVersion: list.metadata?.resourceVersion,
      allowWatchBookmarks: true,
    });
    await api.waitFor(() => api.watchersConnected() === 1);

    api.upsertSlice(dbSlice('db-a', '127.0.0.12'));
    api.upsertSlice(dbSlice('db-b', '127.0.0.13'));
    api.upsertSlice(slice('web', { namespace: 'prod', endpoints: [endpoint('127.0.0.20')] }));
    api.sendBookmark();
    expect(api.deleteSlice('prod', 'db-a')).toBe(true);
    await api.waitFor(() => w.events.length >= 4);

    expect(summary(w.events)).toEqual(['MODIFIED db-a', 'ADDED db-b', 'BOOKMARK', 'DELETED db-a']);
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(w.events[0]?.object).toMatchObject({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
    });
    expect(w.events[0]?.object.metadata).toMatchObject({ generation: 2 });
    expect(w.events[2]?.object).toEqual({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { resourceVersion: String(rvs[2]), creationTimestamp: null },
      addressType: '',
      endpoints: null,
      ports: null,
    });
    await w.stop();
    expect(await w.done).toBeInstanceOf(Error);
    await api.waitFor(() => api.watchersConnected() === 0);
  });

  it('watch without RV starts with synthetic ADDED; relabelling away sends DELETED; history replays', async () => {
    const { api, kc } = await setup();
    api.upsertSlice(dbSlice('db-a', '127.0.0.11'));
    const rvBefore = api.resourceVersion;
    api.upsertSlice(dbSlice('db-b', '127.0.0.12'));

    const fresh = startWatch(kc, { labelSelector: DB });
    await api.waitFor(() => fresh.events.length >= 2);
    expect(summary(fresh.events)).toEqual(['ADDED db-a', 'ADDED db-b']);

    // db-b stops matching the selector: DELETED with its old content and the new RV.
    api.upsertSlice(
      dbSlice('db-b', '127.0.0.12', { labels: { 'kubernetes.io/service-name': 'cache' } }),
    );
    await api.waitFor(() => fresh.events.length >= 3);
    expect(fresh.events[2]?.type).toBe('DELETED');
    expect(fresh.events[2]?.object.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(
      (fresh.events[2]?.object.metadata as { labels?: Record<string, string> }).labels?.[
        'kubernetes.io/service-name'
      ],
    ).toBe('db');
    // ...and back: ADDED.
    api.upsertSlice(dbSlice('db-b', '127.0.0.12'));
    await api.waitFor(() => fresh.events.length >= 4);
    expect(fresh.events[3]?.type).toBe('ADDED');

    const replay = startWatch(kc, { labelSelector: DB, resourceVersion: rvBefore });
    await api.waitFor(() => replay.events.length >= 3);
    expect(summary(replay.events)).toEqual(['ADDED db-b', 'DELETED db-b', 'ADDED db-b']);
    await fresh.stop();
    await replay.stop();
  });

  it('after compact(), a watch from an older RV gets 200 and one ERROR 410 Expired, then the stream ends', async () => {
    const { api, kc } = await setup();
    api.upsertSlice(dbSlice('db-a', '127.0.0.11'));
    const old = api.resourceVersion;
    api.upsertSlice(dbSlice('db-a', '127.0.0.12'));
    api.compact();
    const w = startWatch(kc, { labelSelector: DB, resourceVersion: old });
    expect(await w.done).toBeNull();
    expect(w.events).toEqual<WatchEventJson[]>([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${old} (${api.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
    expect(api.requests.at(-1)?.status).toBe(200);

    // From the compaction RV itself it still works.
    const ok = startWatch(kc, { labelSelector: DB, resourceVersion: api.resourceVersion });
    await api.waitFor(() => api.watchersConnected() === 1);
    api.deleteSlice('prod', 'db-a');
    await api.waitFor(() => ok.events.length === 1);
    expect(ok.events[0]?.type).toBe('DELETED');

    // expireWatchers(): ERROR 410 to connected watchers, then a clean end.
    api.expireWatchers();
    expect(await ok.done).toBeNull();
    expect(ok.events[1]?.type).toBe('ERROR');
    expect(ok.events[1]?.object.code).toBe(410);
  });

  it('a wrong token gets 401: list rejects with ApiException code 401, watch calls done with statusCode 401', async () => {
    const { api } = await setup({ token: 'right' });
    const file = join(tmp, 'wrong-token');
    api.writeKubeconfig(file, { namespace: 'prod', token: 'wrong' });
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const err = await kc
      .makeApiClient(DiscoveryV1Api)
      .listNamespacedEndpointSlice({ namespace: 'prod' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(401);

    const w = startWatch(kc, {});
    const done = (await w.done) as Error & { statusCode?: number };
    expect(done.message).toBe('Unauthorized');
    expect(done.statusCode).toBe(401);

    const wire = await raw(api, PATH, null);
    expect(wire.status).toBe(401);
    expect(JSON.parse(wire.body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    expect(api.requests.map((r) => [r.kind, r.status, r.token])).toEqual([
      ['list', 401, 'wrong'],
      ['watch', 401, 'wrong'],
      ['list', 401, undefined],
    ]);
  });

  it('watch faults: status codes, hang (inactivity timeout), reset, drop-mid-line, end-cleanly', async () => {
    const { api, kc } = await setup();
    api.upsertSlice(dbSlice('db-a', '127.0.0.11'));
    const from = { labelSelector: DB, resourceVersion: '100' };

    api.failNextWatches(1, 'status-500');
    api.failNextWatches(1, 'status-403');
    for (const code of [500, 403]) {
      const done = (await startWatch(kc, from).done) as Error & { statusCode?: number };
      expect(done).toBeInstanceOf(Error);
      expect(done.statusCode).toBe(code);
    }

    api.failNextWatches(1, 'hang');
    const hang = startWatch(kc, from, 300);
    await api.waitFor(() => api.watchersConnected() === 1);
    const hangDone = (await hang.done) as DOMException;
    expect(hangDone.name).toBe('TimeoutError');
    expect(hang.events).toEqual([]);

    api.failNextWatches(1, 'reset');
    const reset = (await startWatch(kc, from).done) as TypeError;
    expect(reset).toBeInstanceOf(TypeError);
    expect(reset.message).toBe('fetch failed');

    api.failNextWatches(1, 'drop-mid-line');
    const drop = startWatch(kc, from);
    const dropDone = (await drop.done) as TypeError;
    expect(dropDone).toBeInstanceOf(TypeError);
    expect(dropDone.message).toBe('terminated');
    expect(drop.events).toEqual([]);

    api.failNextWatches(1, 'end-cleanly');
    const clean = startWatch(kc, from);
    expect(await clean.done).toBeNull();
    expect(clean.events).toEqual([]);

    // Faults are used up: the next watch replays history normally.
    const normal = startWatch(kc, from);
    await api.waitFor(() => normal.events.length === 1);
    await normal.stop();

    expect(api.requests.map((r) => r.status)).toEqual([500, 403, 200, 0, 200, 200, 200]);
  });

  it('dropWatchers() errors the watch; endWatchers() and timeoutSeconds end it cleanly', async () => {
    const { api, kc } = await setup();
    const one = startWatch(kc, { labelSelector: DB });
    const two = startWatch(kc, { labelSelector: DB });
    await api.waitFor(() => api.watchersConnected() === 2);
    api.dropWatchers();
    expect(((await one.done) as Error).message).toBe('terminated');
    expect(((await two.done) as Error).message).toBe('terminated');

    const a = startWatch(kc, { labelSelector: DB });
    await api.waitFor(() => api.watchersConnected() === 1);
    api.endWatchers();
    expect(await a.done).toBeNull();

    const started = Date.now();
    const timed = startWatch(kc, { labelSelector: DB, timeoutSeconds: 1 });
    expect(await timed.done).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(api.watchersConnected()).toBe(0);
  });

  it('list faults: 500/403/429 reject with ApiException (body = raw Status JSON); reset rejects with fetch failed', async () => {
    const { api, discovery } = await setup();
    api.failNextLists(1, 'status-500');
    api.failNextLists(1, 'status-403');
    api.failNextLists(1, 'status-429');
    for (const [code, reason] of [
      [500, 'InternalError'],
      [403, 'Forbidden'],
      [429, 'TooManyRequests'],
    ] as const) {
      const err = (await discovery
        .listNamespacedEndpointSlice({ namespace: 'prod' })
        .catch((e: unknown) => e)) as ApiException<string>;
      expect(err).toBeInstanceOf(ApiException);
      expect(err.code).toBe(code);
      expect(JSON.parse(err.body)).toMatchObject({ kind: 'Status', code, reason });
    }
    api.failNextLists(1, 'reset');
    const reset = (await discovery
      .listNamespacedEndpointSlice({ namespace: 'prod' })
      .catch((e: unknown) => e)) as TypeError;
    expect(reset.message).toBe('fetch failed');
    const ok = await discovery.listNamespacedEndpointSlice({ namespace: 'prod' });
    expect(ok.items).toEqual([]);
    expect(ok.metadata?.resourceVersion).toBe('100');
  });

  it("list 'hang' never answers; close() destroys the socket and the list rejects", async () => {
    const { api, discovery } = await setup();
    api.failNextLists(1, 'hang');
    let settled = false;
    const p = discovery.listNamespacedEndpointSlice({ namespace: 'prod' }).then(
      () => 'resolved',
      (e: unknown) => (e as Error).message,
    );
    void p.then(() => (settled = true));
    await api.waitFor(() => api.count('list') === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    expect(api.requests[0]?.status).toBe(0);
    await api.close();
    expect(await p).toBe('fetch failed');
  });

  it('limit/continue pages over a consistent snapshot; an expired continue token gets HTTP 410', async () => {
    const { api, discovery } = await setup();
    for (const n of ['a', 'b', 'c']) api.upsertSlice(dbSlice(`db-${n}`, '127.0.0.11'));
    const first = await discovery.listNamespacedEndpointSlice({ namespace: 'prod', limit: 2 });
    expect(first.items.map((s) => s.metadata?.name)).toEqual(['db-a', 'db-b']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const token = first.metadata?._continue;
    expect(token).toBeTruthy();
    api.upsertSlice(dbSlice('db-d', '127.0.0.12'));
    api.deleteSlice('prod', 'db-c');
    const second = await discovery.listNamespacedEndpointSlice({
      namespace: 'prod',
      limit: 2,
      _continue: token,
    });
    expect(second.items.map((s) => s.metadata?.name)).toEqual(['db-c']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(second.metadata?._continue).toBeUndefined();

    api.compact();
    const err = (await discovery
      .listNamespacedEndpointSlice({ namespace: 'prod', limit: 2, _continue: token })
      .catch((e: unknown) => e)) as ApiException<string>;
    expect(err.code).toBe(410);
  });

  it('request accounting', async () => {
    const { api, discovery, kc } = await setup();
    await discovery.listNamespacedEndpointSlice({ namespace: 'prod', labelSelector: DB });
    const w = startWatch(kc, {
      labelSelector: DB,
      resourceVersion: '100',
      allowWatchBookmarks: true,
    });
    await api.waitFor(() => api.watchersConnected() === 1);
    expect(await raw(api, '/version')).toMatchObject({ status: 404 });
    expect(api.count('list')).toBe(1);
    expect(api.count('watch')).toBe(1);
    expect(api.count('other')).toBe(1);
    expect(api.requests[1]).toMatchObject({
      method: 'GET',
      path: PATH,
      kind: 'watch',
      status: 200,
      query: {
        watch: 'true',
        labelSelector: DB,
        resourceVersion: '100',
        allowWatchBookmarks: 'true',
      },
      token: 'test-token',
    });
    await w.stop();
    await api.waitFor(() => api.watchersConnected() === 0);
  });

  it('in-cluster files work with kc.loadFromCluster()', async () => {
    const { api } = await setup();
    const prefix = join(tmp, 'root');
    api.inClusterFiles(join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount'), 'prod');
    const saved = { ...process.env };
    Object.assign(process.env, api.inClusterEnv());
    try {
      const kc = new KubeConfig();
      kc.loadFromCluster(prefix);
      expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('prod');
      api.upsertSlice(dbSlice('db-a', '127.0.0.11'));
      const list = await kc
        .makeApiClient(DiscoveryV1Api)
        .listNamespacedEndpointSlice({ namespace: 'prod', labelSelector: DB });
      expect(list.items).toHaveLength(1);
    } finally {
      process.env = saved;
    }
  });

  it('bookmarkIntervalMs sends periodic bookmarks (keeping a quiet watch under the inactivity timeout)', async () => {
    const { api, kc } = await setup({ bookmarkIntervalMs: 100 });
    const quiet = startWatch(kc, { labelSelector: DB, allowWatchBookmarks: true }, 300);
    await api.waitFor(() => quiet.events.length >= 4);
    expect(new Set(quiet.events.map((e) => e.type))).toEqual(new Set(['BOOKMARK']));
    await quiet.stop();
    // Without bookmarks a quiet watch hits client-node's inactivity timeout.
    const silent = startWatch(kc, { labelSelector: DB }, 300);
    expect(((await silent.done) as Error).name).toBe('TimeoutError');
  });

  it('listens on ::1 when asked', async () => {
    const { api, discovery } = await setup({ host: '::1' });
    expect(api.url).toBe(`https://[::1]:${api.port}`);
    api.upsertSlice(dbSlice('db-a', '::1'));
    const list = await discovery.listNamespacedEndpointSlice({ namespace: 'prod' });
    expect(list.items[0]?.addressType).toBe('IPv6');
  });
});
