import { DiscoveryError } from '../../core/errors.ts';
import { Watch } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import type { KubeAccess } from './kube-access.ts';
import { describeCause } from './k8s-source.ts';

/** The object fields an informer keys and versions by. */
export interface InformedObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  } | null;
}

export interface ResourceList<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string | undefined;
}

export interface ResourceInformerOptions<T extends InformedObject> {
  /** For logs: `tcproutes.gateway.networking.k8s.io/v1`. */
  readonly what: string;
  readonly access: KubeAccess;
  /** One list request (through client-node), with its own deadline. */
  readonly list: (signal: AbortSignal) => Promise<ResourceList<T>>;
  /** The collection path a watch streams (the list's path). */
  readonly watchPath: string;
  readonly watchQuery?: Readonly<Record<string, string>>;
  /** Called after every change with the whole current set (by namespace/name). */
  readonly onChange: (items: ReadonlyMap<string, T>) => void;
  readonly onError: (message: string) => void;
  readonly watchIdleTimeoutMs: number;
  readonly listTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

interface WatchEventObject extends InformedObject {
  readonly code?: number;
  readonly message?: string;
}

/**
 * One kind's objects kept current by list-then-watch, supervised as the
 * EndpointSlice source is: every error or close restarts the watch after a
 * capped, jittered backoff (reset by any event), a silent watch is
 * restarted by client-node's inactivity timeout, and 410 Gone relists and
 * replaces the whole set. While the API is unreachable the last set stays.
 */
export class ResourceInformer<T extends InformedObject> {
  readonly #opts: ResourceInformerOptions<T>;
  #items = new Map<string, T>();
  #resourceVersion: string | undefined;
  #watch: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failures = 0;
  #expired = false;
  #synced = false;
  #eventsThisWatch = 0;
  #watchStartedMs = 0;

  constructor(opts: ResourceInformerOptions<T>) {
    this.#opts = opts;
  }

  /** Whether the first list has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  get items(): ReadonlyMap<string, T> {
    return this.#items;
  }

  start(): void {
    void this.#list();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#watch?.abort();
    this.#watch = undefined;
  }

  async #list(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    const deadline = AbortSignal.timeout(this.#opts.listTimeoutMs);
    try {
      const list = await this.#opts.list(deadline);
      if (this.#isStopped()) return;
      this.#items = new Map(list.items.map((o) => [objectKey(o), o]));
      this.#resourceVersion = list.resourceVersion;
      this.#failures = 0;
      this.#synced = true;
      this.#opts.onChange(this.#items);
      this.#startWatch();
    } catch (err) {
      if (this.#isStopped()) return;
      this.#fail('list', err, () => void this.#list());
    }
  }

  #isStopped(): boolean {
    return this.#stopped;
  }

  #startWatch(): void {
    if (this.#stopped) return;
    const watch = new Watch(this.#opts.access.config);
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs =
      this.#opts.watchIdleTimeoutMs;
    this.#eventsThisWatch = 0;
    this.#watchStartedMs = this.#opts.clock.nowMs();
    const query: Record<string, string | number | boolean> = {
      ...this.#opts.watchQuery,
      allowWatchBookmarks: true,
      timeoutSeconds: 240 + Math.floor(this.#opts.random() * 60),
    };
    if (this.#resourceVersion !== undefined) query.resourceVersion = this.#resourceVersion;
    let done = false;
    const onDone = (err: unknown): void => {
      if (done) return;
      done = true;
      this.#watch = undefined;
      this.#watchEnded(err);
    };
    watch
      .watch(
        this.#opts.watchPath,
        query,
        (type: string, obj: unknown) => this.#onEvent(type, obj as WatchEventObject),
        onDone,
      )
      .then(
        (controller) => {
          if (done || this.#stopped) controller.abort();
          else this.#watch = controller;
        },
        (err: unknown) => onDone(err),
      );
  }

  #onEvent(type: string, obj: WatchEventObject): void {
    if (this.#stopped) return;
    this.#eventsThisWatch++;
    const rv = obj.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#failures = 0;
        this.#items.set(objectKey(obj), obj as T);
        break;
      case 'DELETED':
        this.#failures = 0;
        this.#items.delete(objectKey(obj));
        break;
      case 'BOOKMARK':
        this.#failures = 0;
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
        return;
      case 'ERROR':
        if (obj.code === 410) this.#expired = true;
        else
          this.#opts.onError(
            `${this.#opts.what}: watch error ${String(obj.code)}: ${obj.message ?? ''}`,
          );
        return;
      default:
        return;
    }
    if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
    this.#opts.onChange(this.#items);
  }

  #watchEnded(err: unknown): void {
    if (this.#stopped) return;
    const code =
      typeof err === 'object' && err !== null
        ? (err as { statusCode?: unknown }).statusCode
        : undefined;
    if (this.#expired || code === 410) {
      // Our resourceVersion was compacted away: a fresh list replaces the whole set.
      this.#expired = false;
      this.#resourceVersion = undefined;
      void this.#list();
      return;
    }
    if (err !== null && err !== undefined) {
      this.#fail('watch', err, () => this.#startWatch());
      return;
    }
    const quick =
      this.#opts.clock.nowMs() - this.#watchStartedMs < 1000 && this.#eventsThisWatch === 0;
    if (quick)
      this.#fail('watch', new DiscoveryError('watch ended at once without events'), () =>
        this.#startWatch(),
      );
    else this.#startWatch();
  }

  #fail(op: 'list' | 'watch', err: unknown, retry: () => void): void {
    this.#failures++;
    const timedOut =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    this.#opts.onError(
      `${op} ${this.#opts.what} failed: ${describeCause(err, timedOut ? 'timeout' : 'other')}`,
    );
    const base = Math.min(
      this.#opts.backoffMaxMs,
      this.#opts.backoffMinMs * 2 ** Math.min(this.#failures - 1, 20),
    );
    this.#timer = setTimeout(retry, base * (0.5 + 0.5 * this.#opts.random()));
    this.#timer.unref();
  }
}

export function objectKey(o: InformedObject): string {
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name ?? '';
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}
