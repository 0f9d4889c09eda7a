import { errorMessage } from '../core/errors.ts';
import type { ResourceInformer } from '../discovery/kubernetes/resource-informer.ts';
import { GatewayApiClient, type ServedKind } from './gateway-api-client.ts';
import { gatewayStatus, routeParents, sameStatus, type ApplyResult } from './gateway-status.ts';
import type {
  GatewayJson,
  KubeObjectJson,
  ReferenceGrantJson,
  RouteJson,
  RouteKind,
  ServiceJson,
} from './gateway-types.ts';
import { informer, type KubeSourceDeps } from './informer-factory.ts';
import type { ApplyListeners, SourcedListener } from './sourced-listener.ts';
import { translateGateway, type GatewayTranslation } from './translate.ts';

export interface GatewaySourceOptions extends KubeSourceDeps {
  readonly namespace: string;
  readonly name: string;
  readonly className: string;
  readonly apply: ApplyListeners;
  /** Changes are gathered this long before one translation (a `kubectl apply -f dir/` is many events). */
  readonly settleMs?: number;
}

/** How long to wait before asking the server again when the Gateway API is not installed. */
const DISCOVERY_RETRY_MS = 30_000;

/**
 * `--gateway NS/NAME`: watches the Gateway, the TCPRoutes and TLSRoutes (in
 * every namespace: routes attach from wherever the listeners allow),
 * ReferenceGrants, Services and Namespaces; on each settled change it
 * translates them, applies the listeners through the proxy's reload path,
 * and writes the Gateway's and the routes' status.
 */
export class GatewaySource {
  readonly #opts: GatewaySourceOptions;
  readonly #client: GatewayApiClient;
  #kinds: ReadonlyMap<string, ServedKind> = new Map();
  #informers: {
    gateways?: ResourceInformer<GatewayJson>;
    tcp?: ResourceInformer<RouteJson>;
    tls?: ResourceInformer<RouteJson>;
    grants?: ResourceInformer<ReferenceGrantJson>;
    services?: ResourceInformer<ServiceJson>;
    namespaces?: ResourceInformer<KubeObjectJson>;
  } = {};
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #lastListeners: string | undefined;
  #lastApply: ApplyResult = { ok: true };

  constructor(opts: GatewaySourceOptions) {
    this.#opts = opts;
    this.#client = new GatewayApiClient(opts.access);
  }

  start(): void {
    void this.#discover();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const i of Object.values(this.#informers)) i.stop();
  }

  async #discover(): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#kinds = await this.#client.discover(AbortSignal.timeout(30_000));
    } catch (err) {
      this.#opts.logger.warn('Gateway API discovery failed; retrying', {
        error: errorMessage(err),
      });
      this.#timer = setTimeout(() => void this.#discover(), DISCOVERY_RETRY_MS).unref();
      return;
    }
    const gateways = this.#kinds.get('gateways');
    if (gateways === undefined) {
      this.#opts.logger.warn(
        'the server has no Gateway API (gateway.networking.k8s.io Gateways); retrying',
        {
          everyMs: DISCOVERY_RETRY_MS,
        },
      );
      this.#timer = setTimeout(() => void this.#discover(), DISCOVERY_RETRY_MS).unref();
      return;
    }
    this.#opts.logger.info('serving a Gateway', {
      gateway: `${this.#opts.namespace}/${this.#opts.name}`,
      class: this.#opts.className,
      versions: Object.fromEntries([...this.#kinds].map(([k, v]) => [k, v.version])),
    });
    const changed = (): void => this.#schedule();
    const d = this.#opts;
    const kind = (plural: string): ServedKind | undefined => this.#kinds.get(plural);
    const gatewayKind = <T extends KubeObjectJson>(
      k: ServedKind,
      ns?: string,
    ): ResourceInformer<T> =>
      informer<T>(
        d,
        `${k.plural}.gateway.networking.k8s.io/${k.version}`,
        (signal) => this.#client.listGatewayKind<T>(k, ns, signal),
        this.#client.gatewayPath(k, ns),
        changed,
      );
    this.#informers.gateways = gatewayKind<GatewayJson>(gateways, d.namespace);
    const tcp = kind('tcproutes');
    const tls = kind('tlsroutes');
    const grants = kind('referencegrants');
    if (tcp !== undefined) this.#informers.tcp = gatewayKind<RouteJson>(tcp);
    if (tls !== undefined) this.#informers.tls = gatewayKind<RouteJson>(tls);
    if (grants !== undefined) this.#informers.grants = gatewayKind<ReferenceGrantJson>(grants);
    this.#informers.services = informer<ServiceJson>(
      d,
      'services/v1',
      (s) => this.#client.listServices(s),
      '/api/v1/services',
      changed,
    );
    this.#informers.namespaces = informer<KubeObjectJson>(
      d,
      'namespaces/v1',
      (s) => this.#client.listNamespaces(s),
      '/api/v1/namespaces',
      changed,
    );
    for (const i of Object.values(this.#informers)) i.start();
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#sync(), this.#opts.settleMs ?? 100);
    this.#timer.unref();
  }

  /** One translation at a time; a change during one runs another after it. */
  #sync(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#syncOnce()
      .catch((err: unknown) => {
        this.#opts.logger.error('Gateway sync failed', { error: errorMessage(err) });
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#sync();
        }
      });
  }

  async #syncOnce(): Promise<void> {
    const inf = this.#informers;
    // Translate only from a complete view: a route list not yet loaded would detach routes.
    if (!Object.values(inf).every((i) => i.synced)) return;
    const gateway = inf.gateways?.items.get(`${this.#opts.namespace}/${this.#opts.name}`);
    const services = new Map<string, ServiceJson>(inf.services?.items ?? []);
    const namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
    for (const ns of inf.namespaces?.items.values() ?? []) {
      namespaceLabels.set(ns.metadata?.name ?? '', ns.metadata?.labels ?? {});
    }
    const t = translateGateway({
      className: this.#opts.className,
      gatewayNamespace: this.#opts.namespace,
      gatewayName: this.#opts.name,
      gateway,
      tcpRoutes: [...(inf.tcp?.items.values() ?? [])],
      tlsRoutes: [...(inf.tls?.items.values() ?? [])],
      services,
      referenceGrants: [...(inf.grants?.items.values() ?? [])],
      namespaceLabels,
    });
    await this.#applyListeners(t.listeners);
    if (this.#stopped) return;
    await this.#writeStatus(gateway, t);
  }

  async #applyListeners(listeners: readonly SourcedListener[]): Promise<void> {
    const key = JSON.stringify(listeners);
    if (key === this.#lastListeners && this.#lastApply.ok) return;
    try {
      await this.#opts.apply(listeners);
      this.#lastApply = { ok: true };
    } catch (err) {
      this.#lastApply = { ok: false, error: errorMessage(err) };
    }
    this.#lastListeners = key;
  }

  async #writeStatus(gateway: GatewayJson | undefined, t: GatewayTranslation): Promise<void> {
    const now = new Date(this.#opts.clock.wallMs()).toISOString();
    const signal = (): AbortSignal => AbortSignal.timeout(10_000);
    const gatewaysKind = this.#kinds.get('gateways');
    if (gateway !== undefined && t.gateway !== undefined && gatewaysKind !== undefined) {
      const status = gatewayStatus(gateway, t.gateway, this.#lastApply, now);
      const current = {
        conditions: gateway.status?.conditions ?? [],
        listeners: gateway.status?.listeners ?? [],
      };
      if (!sameStatus(status, current)) {
        await this.#patch(gatewaysKind, this.#opts.namespace, this.#opts.name, status, signal());
      }
    }
    const byKey = new Map(t.routes.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r]));
    const routeSets: [RouteKind, ResourceInformer<RouteJson> | undefined, string][] = [
      ['TCPRoute', this.#informers.tcp, 'tcproutes'],
      ['TLSRoute', this.#informers.tls, 'tlsroutes'],
    ];
    for (const [kind, inf, plural] of routeSets) {
      const served = this.#kinds.get(plural);
      if (inf === undefined || served === undefined) continue;
      for (const route of inf.items.values()) {
        const ns = route.metadata?.namespace ?? '';
        const name = route.metadata?.name ?? '';
        const parents = routeParents(route, byKey.get(`${kind}/${ns}/${name}`), now);
        if (sameStatus(parents, route.status?.parents ?? [])) continue;
        await this.#patch(served, ns, name, { parents }, signal());
      }
    }
  }

  async #patch(
    kind: ServedKind,
    namespace: string,
    name: string,
    status: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.#client.patchStatus(kind, namespace, name, status, signal);
    } catch (err) {
      // The next change retries; a status we could not write changes nothing we serve.
      this.#opts.logger.warn('cannot write status', {
        object: `${kind.plural}/${namespace}/${name}`,
        error: errorMessage(err),
      });
    }
  }
}
