import {
  CoreV1Api,
  CustomObjectsApi,
  Observable,
  PatchStrategy,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { KubeAccess } from '../discovery/kubernetes/kube-access.ts';
import type { ResourceList } from '../discovery/kubernetes/resource-informer.ts';
import { GATEWAY_GROUP } from './gateway-types.ts';

/** A Gateway API kind as this server serves it. */
export interface ServedKind {
  readonly plural: string;
  readonly version: string;
}

/** The versions each kind is looked for in, preferred first. */
const CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  gateways: ['v1', 'v1beta1'],
  tcproutes: ['v1', 'v1alpha2'],
  tlsroutes: ['v1', 'v1alpha3', 'v1alpha2'],
  referencegrants: ['v1', 'v1beta1'],
};

/**
 * The Kubernetes requests of the Gateway source, all through client-node:
 * API discovery, lists (the watches are ResourceInformer's), and status
 * merge-patches on the status subresource.
 */
export class GatewayApiClient {
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;

  constructor(access: KubeAccess) {
    this.#custom = access.config.makeApiClient(CustomObjectsApi);
    this.#core = access.config.makeApiClient(CoreV1Api);
  }

  /**
   * Which version of each Gateway API kind the server offers (API discovery
   * of gateway.networking.k8s.io, newest first): TCPRoute is v1 in the
   * Standard channel since Gateway API v1.6, v1alpha2 in older installs.
   * A kind the server lacks is absent from the result.
   */
  async discover(signal: AbortSignal): Promise<ReadonlyMap<string, ServedKind>> {
    const versions = new Set(Object.values(CANDIDATES).flat());
    const offered = new Map<string, Set<string>>();
    for (const version of versions) {
      try {
        const list = await this.#custom.getAPIResources(
          { group: GATEWAY_GROUP, version },
          withSignal(signal),
        );
        offered.set(version, new Set(list.resources.map((r) => r.name)));
      } catch (err) {
        // 404: this version is not served. Anything else is a real failure.
        if (statusOf(err) !== 404) throw err;
      }
    }
    const out = new Map<string, ServedKind>();
    for (const [plural, candidates] of Object.entries(CANDIDATES)) {
      const version = candidates.find((v) => offered.get(v)?.has(plural) === true);
      if (version !== undefined) out.set(plural, { plural, version });
    }
    return out;
  }

  /** List a Gateway API kind, in one namespace or all. */
  async listGatewayKind<T>(
    kind: ServedKind,
    namespace: string | undefined,
    signal: AbortSignal,
  ): Promise<ResourceList<T>> {
    const base = { group: GATEWAY_GROUP, version: kind.version, plural: kind.plural };
    const list = (await (namespace === undefined
      ? this.#custom.listClusterCustomObject(base, withSignal(signal))
      : this.#custom.listNamespacedCustomObject({ ...base, namespace }, withSignal(signal)))) as {
      items?: T[];
      metadata?: { resourceVersion?: string };
    };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion };
  }

  gatewayPath(kind: ServedKind, namespace: string | undefined): string {
    const ns = namespace === undefined ? '' : `/namespaces/${namespace}`;
    return `/apis/${GATEWAY_GROUP}/${kind.version}${ns}/${kind.plural}`;
  }

  async listServices<T>(signal: AbortSignal): Promise<ResourceList<T>> {
    const list = await this.#core.listServiceForAllNamespaces({}, withSignal(signal));
    return { items: list.items as T[], resourceVersion: list.metadata?.resourceVersion };
  }

  async listNamespaces<T>(signal: AbortSignal): Promise<ResourceList<T>> {
    const list = await this.#core.listNamespace({}, withSignal(signal));
    return { items: list.items as T[], resourceVersion: list.metadata?.resourceVersion };
  }

  /** The ConfigMaps of a namespace that have this name (a list, so it can be watched). */
  async listConfigMap<T>(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<ResourceList<T>> {
    const list = await this.#core.listNamespacedConfigMap(
      { namespace, fieldSelector: `metadata.name=${name}` },
      withSignal(signal),
    );
    return { items: list.items as T[], resourceVersion: list.metadata?.resourceVersion };
  }

  /** Merge-patch the status subresource of a Gateway API object. */
  async patchStatus(
    kind: ServedKind,
    namespace: string,
    name: string,
    status: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const options = withSignal(signal, PatchStrategy.MergePatch);
    await this.#custom.patchNamespacedCustomObjectStatus(
      {
        group: GATEWAY_GROUP,
        version: kind.version,
        plural: kind.plural,
        namespace,
        name,
        body: { status },
      },
      options,
    );
  }
}

/** Request options with a deadline (client-node's fetch has none) and, for a patch, its type. */
function withSignal(signal: AbortSignal, contentType?: string): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          if (contentType !== undefined) ctx.setHeaderParam('Content-Type', contentType);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}
