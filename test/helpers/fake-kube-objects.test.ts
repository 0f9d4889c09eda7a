import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from './fake-kube-api.ts';
import { CORE_KINDS, gatewayApiKinds, mergePatch } from './fake-kube-objects.ts';

const G = 'gateway.networking.k8s.io';
let api: FakeKubeApi | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function setup(): Promise<{ api: FakeKubeApi; kc: KubeConfig; custom: CustomObjectsApi }> {
  api = await FakeKubeApi.start();
  const file = join(mkdtempSync(join(tmpdir(), 'headway-objects-')), 'config');
  api.writeKubeconfig(file);
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  api.objects.register(...CORE_KINDS, ...gatewayApiKinds('v1alpha2'));
  return { api, kc, custom: kc.makeApiClient(CustomObjectsApi) };
}

const route = (name: string, ns = 'a') => ({
  metadata: { name, namespace: ns },
  spec: { parentRefs: [{ name: 'gw' }] },
});

describe('FakeKubeApi: other kinds', () => {
  it('answers API discovery for the versions it serves and 404 for others', async () => {
    const { custom } = await setup();
    const alpha = await custom.getAPIResources({ group: G, version: 'v1alpha2' });
    expect(alpha.resources.map((r) => r.name)).toEqual([
      'tcproutes',
      'tcproutes/status',
      'tlsroutes',
      'tlsroutes/status',
    ]);
    const v1 = await custom.getAPIResources({ group: G, version: 'v1' });
    expect(v1.resources.map((r) => r.name)).toContain('gateways');
    await expect(custom.getAPIResources({ group: G, version: 'v9' })).rejects.toMatchObject({
      code: 404,
    });
  });

  it('lists across namespaces or in one, and bumps generation only on a spec change', async () => {
    const { api: fake, custom } = await setup();
    fake.objects.put('tcproutes', route('r1', 'a'));
    fake.objects.put('tcproutes', route('r2', 'b'));
    const all = (await custom.listClusterCustomObject({
      group: G,
      version: 'v1alpha2',
      plural: 'tcproutes',
    })) as {
      items: { metadata: { name: string; generation: number } }[];
    };
    expect(all.items.map((i) => i.metadata.name)).toEqual(['r1', 'r2']);
    const inB = (await custom.listNamespacedCustomObject({
      group: G,
      version: 'v1alpha2',
      plural: 'tcproutes',
      namespace: 'b',
    })) as typeof all;
    expect(inB.items.map((i) => i.metadata.name)).toEqual(['r2']);
    fake.objects.put('tcproutes', route('r1', 'a'));
    expect(fake.objects.get('tcproutes', 'a', 'r1')?.metadata.generation).toBe(1);
    fake.objects.put('tcproutes', {
      ...route('r1', 'a'),
      spec: { parentRefs: [{ name: 'other' }] },
    });
    expect(fake.objects.get('tcproutes', 'a', 'r1')?.metadata.generation).toBe(2);
  });

  it('watches from a resourceVersion, and answers 410 once it is compacted away', async () => {
    const { api: fake, kc } = await setup();
    fake.objects.put('tcproutes', route('r1'));
    const rv = String(fake.objects.get('tcproutes', 'a', 'r1')?.metadata.resourceVersion);
    fake.objects.put('tcproutes', route('r2'));
    const events: string[] = [];
    const done = new Promise((resolve) => {
      void new Watch(kc).watch(
        `/apis/${G}/v1alpha2/tcproutes`,
        { resourceVersion: rv },
        (type, o: { metadata: { name: string } }) => events.push(`${type} ${o.metadata.name}`),
        resolve,
      );
    });
    await fake.waitFor(() => events.length === 1);
    fake.objects.delete('tcproutes', 'a', 'r1');
    await fake.waitFor(() => events.length === 2);
    expect(events).toEqual(['ADDED r2', 'DELETED r1']);
    fake.objects.compact();
    fake.objects.expireWatchers();
    await done;
    const expired: { code?: number }[] = [];
    await new Promise((resolve) => {
      void new Watch(kc).watch(
        `/apis/${G}/v1alpha2/tcproutes`,
        { resourceVersion: rv },
        (_t, o: { code?: number }) => expired.push(o),
        resolve,
      );
    });
    expect(expired.map((o) => o.code)).toEqual([410]);
  });

  it('merge-patches the status subresource, records the body, and refuses another patch type', async () => {
    const { api: fake, custom } = await setup();
    fake.objects.put('tcproutes', route('r1'));
    const patch = {
      group: G,
      version: 'v1alpha2',
      plural: 'tcproutes',
      namespace: 'a',
      name: 'r1',
    };
    await custom.patchNamespacedCustomObjectStatus(
      { ...patch, body: { status: { parents: [{ controllerName: 'x' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(fake.objects.get('tcproutes', 'a', 'r1')?.status).toEqual({
      parents: [{ controllerName: 'x' }],
    });
    expect(fake.objects.statusPatches.map((p) => [p.name, p.contentType])).toEqual([
      ['r1', 'application/merge-patch+json'],
    ]);
    await expect(
      custom.patchNamespacedCustomObjectStatus(
        { ...patch, body: [{ op: 'add', path: '/status', value: {} }] },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    ).rejects.toMatchObject({ code: 415 });
  });

  it('merge patch follows RFC 7386', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] })).toEqual({
      a: 1,
      b: { d: 3, e: 4 },
      f: [1],
    });
  });
});
