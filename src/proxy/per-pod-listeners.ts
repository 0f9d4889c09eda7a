import type { ListenerSettings } from '../config/schema.ts';
import type { Endpoint, EndpointSnapshot } from '../core/endpoint.ts';
import { errorMessage, InternalError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { createDiscoverySource, type DiscoveryDeps } from '../discovery/create-source.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import { PushSource } from '../discovery/push-source.ts';
import { DEFAULT_LISTEN } from '../config/listen-addresses.ts';
import type { ListenerRegistry } from './listener-registry.ts';

/**
 * What a per-pod manager opens and closes for each pod: a listener in a
 * ListenerRegistry (one thread), or, in the main thread of `--workers`, the
 * pod's upstream alone (the workers open the listeners).
 */
export interface PodOpener {
  /** Open what serves `settings`, fed the pod's slice by `slice`; throws if it cannot (a port in use). */
  open(settings: ListenerSettings, slice: PushSource): Promise<void>;
  /** The pod left: close what serves listener `name` (draining its connections). */
  close(name: string): Promise<void>;
}

/** Pod listeners in `registry`; a pod that leaves drains for up to `drainTimeoutMs`. */
export function registryOpener(
  registry: ListenerRegistry,
  drainTimeoutMs: number,
  options: { readonly sliceFromMainThread?: boolean } = {},
): PodOpener {
  return {
    open: async (settings, slice) => {
      // A worker thread's pod listener takes its slice from the main thread, with its shared counts.
      await registry.add(settings, options.sliceFromMainThread === true ? undefined : slice);
    },
    close: (name) => registry.remove(name, drainTimeoutMs),
  };
}

/** One pod's own listener, as `GET /pods` shows it. */
export interface PodPort {
  readonly pod: string;
  readonly ordinal: number;
  readonly port: number;
  /** The listener serving it (`NAME-ORDINAL`). */
  readonly listener: string;
  readonly address: string;
  readonly state: string;
}

/**
 * The StatefulSet ordinal of an endpoint: the trailing `-N` of its hostname
 * (first label), pod name or id. Undefined when there is none.
 */
export function ordinalOf(ep: Endpoint): number | undefined {
  for (const name of [ep.hostname, ep.pod, ep.id]) {
    if (name === undefined) continue;
    const m = /-(\d+)$/.exec(name.split('.')[0] ?? '');
    if (m !== null) return Number(m[1]);
  }
  return undefined;
}

interface PodListener {
  readonly ordinal: number;
  readonly name: string;
  readonly feed: PushSource;
  endpoint: Endpoint | undefined;
}

/**
 * `--per-pod-ports BASE --per-pod-max N`: one listener per pod on BASE +
 * ordinal, each with the full data path (limits, access control, PROXY
 * protocol, metrics) and the pod as its only backend. The port depends only
 * on the ordinal, so every Headway replica given the same pods builds the
 * same map, and a pod that returns gets its old port. Listeners open as pods
 * appear and drain as they leave.
 */
export class PerPodListeners {
  readonly #config: ListenerSettings;
  readonly #opener: PodOpener;
  readonly #logger: Logger;
  readonly #source: DiscoverySource;
  readonly #pods = new Map<number, PodListener>();
  readonly #refused = new Set<string>();
  #queue: Promise<void> = Promise.resolve();

  /** @param source the listener's whole view (default: the discovery its backends URI names). */
  constructor(
    config: ListenerSettings,
    opener: PodOpener,
    deps: DiscoveryDeps & { readonly logger: Logger },
    source?: DiscoverySource,
  ) {
    if (config.backends === null) throw new InternalError('per-pod listeners need backends');
    this.#config = config;
    this.#opener = opener;
    this.#logger = deps.logger.child({ listener: config.name, perPod: true });
    this.#source = source ?? createDiscoverySource(config.backends, config, deps);
  }

  /** The listener these pods' listeners are made from. */
  get name(): string {
    return this.#config.name;
  }

  async start(): Promise<void> {
    await this.#source.init?.();
    this.#source.start({
      onSnapshot: (snapshot) => {
        // Listener changes are asynchronous (bind, drain): apply snapshots one at a time.
        this.#queue = this.#queue
          .then(() => this.#apply(snapshot))
          .catch((err: unknown) => {
            this.#logger.error('per-pod listener update failed', { error: errorMessage(err) });
          });
      },
      onError: (reason, err, info) => {
        // A partial failure was applied around and logged (rate-limited) by the source.
        if (info?.partial === true) return;
        this.#logger.warn(
          this.#pods.size > 0
            ? 'discovery error; keeping the last known pods'
            : 'discovery error; no pods known yet',
          { reason, error: errorMessage(err) },
        );
      },
    });
  }

  stop(): void {
    this.#source.stop();
  }

  /** Settled once every snapshot seen so far has been applied (tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  ports(): PodPort[] {
    return [...this.#pods.values()]
      .sort((a, b) => a.ordinal - b.ordinal)
      .map((p) => ({
        pod: p.endpoint?.pod ?? p.endpoint?.hostname ?? p.endpoint?.id ?? '',
        ordinal: p.ordinal,
        port: this.#config.perPodPorts + p.ordinal,
        listener: p.name,
        address: p.endpoint === undefined ? '' : `${p.endpoint.address}:${p.endpoint.port}`,
        state: p.endpoint?.state ?? 'gone',
      }));
  }

  async #apply(snapshot: EndpointSnapshot): Promise<void> {
    const byOrdinal = new Map<number, Endpoint>();
    for (const ep of snapshot.endpoints) {
      const ordinal = ordinalOf(ep);
      if (ordinal === undefined || ordinal >= this.#config.perPodMax) {
        if (!this.#refused.has(ep.id)) {
          this.#refused.add(ep.id);
          this.#logger.warn(
            ordinal === undefined
              ? 'pod refused a per-pod port: its name has no StatefulSet ordinal (-N)'
              : `pod refused a per-pod port: ordinal ${ordinal} is not below --per-pod-max ${this.#config.perPodMax}`,
            { pod: ep.id },
          );
        }
        continue;
      }
      // Two endpoints with one ordinal: keep the ready one.
      const seen = byOrdinal.get(ordinal);
      if (seen === undefined || (seen.state !== 'ready' && ep.state === 'ready'))
        byOrdinal.set(ordinal, ep);
    }
    for (const [ordinal, ep] of byOrdinal) {
      let pod = this.#pods.get(ordinal);
      if (pod === undefined) {
        pod = await this.#open(ordinal);
        if (pod === undefined) continue;
      }
      pod.endpoint = ep;
      pod.feed.push({ endpoints: [ep], updatedAtMs: snapshot.updatedAtMs });
    }
    for (const [ordinal, pod] of [...this.#pods]) {
      if (byOrdinal.has(ordinal)) continue;
      this.#pods.delete(ordinal);
      pod.feed.push({ endpoints: [], updatedAtMs: snapshot.updatedAtMs });
      this.#logger.info('pod left: draining its listener', { listener: pod.name });
      await this.#opener.close(pod.name);
    }
  }

  async #open(ordinal: number): Promise<PodListener | undefined> {
    const port = this.#config.perPodPorts + ordinal;
    const hosts = this.#config.listen.length > 0 ? this.#config.listen : DEFAULT_LISTEN;
    const name = `${this.#config.name}-${ordinal}`;
    const feed = new PushSource(
      this.#source.kind,
      `${this.#config.backends?.uri ?? ''}#${ordinal}`,
    );
    const settings: ListenerSettings = {
      ...this.#config,
      name,
      listen: hosts.map((h) => ({ host: h.host, port })),
      perPodPorts: 0,
    };
    try {
      await this.#opener.open(settings, feed);
    } catch (err) {
      this.#logger.error('cannot open a per-pod listener', {
        listener: name,
        port,
        error: errorMessage(err),
      });
      return undefined;
    }
    const pod: PodListener = { ordinal, name, feed, endpoint: undefined };
    this.#pods.set(ordinal, pod);
    return pod;
  }
}
