import { errorMessage } from '../core/errors.ts';
import { formatK8sRoutes, type K8sWeightedRef } from '../config/k8s-routes-uri.ts';
import type { ResourceInformer } from '../discovery/kubernetes/resource-informer.ts';
import { parseTcpServiceEntry } from '../config/tcp-services-entry.ts';
import { GatewayApiClient } from './gateway-api-client.ts';
import type { KubeObjectJson, ServiceJson } from './gateway-types.ts';
import { informer, type KubeSourceDeps } from './informer-factory.ts';
import type { ApplyListeners, SourcedListener } from './sourced-listener.ts';

export interface TcpServicesSourceOptions extends KubeSourceDeps {
  readonly namespace: string;
  readonly name: string;
  readonly apply: ApplyListeners;
  readonly settleMs?: number;
}

interface ConfigMapJson extends KubeObjectJson {
  readonly data?: Readonly<Record<string, string>> | null;
}

/**
 * `--ingress-nginx-tcp-services NS/NAME`: the drop-in for ingress-nginx's
 * tcp-services ConfigMap. Each entry becomes a listener on its port whose
 * backends are the Service's EndpointSlices; the ConfigMap and the Services
 * are watched, and every change goes through the proxy's reload path. A
 * malformed entry is logged (once per distinct text) and skipped.
 */
export class TcpServicesSource {
  readonly #opts: TcpServicesSourceOptions;
  readonly #client: GatewayApiClient;
  #configMaps: ResourceInformer<ConfigMapJson> | undefined;
  #services: ResourceInformer<ServiceJson> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #last: string | undefined;
  readonly #reported = new Set<string>();

  constructor(opts: TcpServicesSourceOptions) {
    this.#opts = opts;
    this.#client = new GatewayApiClient(opts.access);
  }

  start(): void {
    const { namespace, name } = this.#opts;
    const changed = (): void => this.#schedule();
    this.#configMaps = informer<ConfigMapJson>(
      this.#opts,
      `configmap ${namespace}/${name}`,
      (signal) => this.#client.listConfigMap(namespace, name, signal),
      `/api/v1/namespaces/${namespace}/configmaps`,
      changed,
      { fieldSelector: `metadata.name=${name}` },
    );
    this.#services = informer<ServiceJson>(
      this.#opts,
      'services/v1',
      (signal) => this.#client.listServices(signal),
      '/api/v1/services',
      changed,
    );
    this.#configMaps.start();
    this.#services.start();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#configMaps?.stop();
    this.#services?.stop();
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#sync(), this.#opts.settleMs ?? 100);
    this.#timer.unref();
  }

  #sync(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#syncOnce()
      .catch((err: unknown) => {
        this.#opts.logger.error('tcp-services: cannot apply the ConfigMap', {
          error: errorMessage(err),
        });
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
    if (this.#configMaps?.synced !== true || this.#services?.synced !== true) return;
    const cm = this.#configMaps.items.get(`${this.#opts.namespace}/${this.#opts.name}`);
    const listeners = tcpServicesListeners(
      cm?.data ?? {},
      this.#services.items,
      (key, value, why) => {
        const text = `"${key}": "${value}"`;
        if (this.#reported.has(text)) return;
        this.#reported.add(text);
        this.#opts.logger.warn('tcp-services: entry skipped', { entry: text, reason: why });
      },
    );
    const key = JSON.stringify(listeners);
    if (key === this.#last) return;
    this.#last = key;
    await this.#opts.apply(listeners);
    this.#opts.logger.info('tcp-services applied', {
      configMap: `${this.#opts.namespace}/${this.#opts.name}`,
      ports: listeners.map((l) => l.port),
    });
  }
}

/**
 * The listeners a tcp-services ConfigMap asks for. The entry's port is the
 * Service's (by number or name); EndpointSlices name their ports after the
 * Service's, so it is resolved through the Service. An entry whose Service
 * or port does not exist (yet) keeps its listener, refusing connections,
 * until it does.
 */
export function tcpServicesListeners(
  data: Readonly<Record<string, string>>,
  services: ReadonlyMap<string, ServiceJson>,
  skipped: (key: string, value: string, why: string) => void,
): SourcedListener[] {
  const out: SourcedListener[] = [];
  for (const [key, value] of Object.entries(data).sort(([a], [b]) => Number(a) - Number(b))) {
    const entry = parseTcpServiceEntry(key, value);
    if (typeof entry === 'string') {
      skipped(key, value, entry);
      continue;
    }
    const service = services.get(`${entry.namespace}/${entry.service}`);
    const ports = (service?.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
    const port = ports.find((p) =>
      typeof entry.servicePort === 'number'
        ? p.port === entry.servicePort
        : p.name === entry.servicePort,
    );
    let ref: K8sWeightedRef;
    if (service === undefined || port === undefined) {
      ref = { kind: 'reject', reason: 'BackendNotFound', weight: 1 };
    } else {
      const name = port.name ?? '';
      ref = {
        kind: 'service',
        namespace: entry.namespace,
        service: entry.service,
        port: name === '' ? undefined : name,
        weight: 1,
      };
    }
    out.push({
      name: `tcp-services-${entry.listenPort}`,
      port: entry.listenPort,
      backends: formatK8sRoutes([{ serverNames: [], refs: [ref] }]),
      ...(entry.decodeProxy ? { acceptProxyProtocol: true } : {}),
      ...(entry.encodeProxy ? { proxyProtocol: 'v1' as const } : {}),
    });
  }
  return out;
}
