import {
  DiscoveryV1Api,
  Observable,
  Watch,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/endpoint.ts';
import { ConfigError, DiscoveryError, errnoCode } from '../../core/errors.ts';
import type { K8sBackendsSpec } from '../../config/backends-uri.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from '../discovery-source.ts';
import type { KubeAccess } from './kube-access.ts';
import { mergeSlices, type SliceJson } from './endpoint-slices.ts';

export interface K8sSourceOptions {
  readonly spec: K8sBackendsSpec;
  readonly access: KubeAccess;
  /** A watch that delivers no byte (event or bookmark) for this long is restarted. */
  readonly watchIdleTimeoutMs: number;
  /** Deadline for one list request. */
  readonly listTimeoutMs: number;
  /** Reconnect backoff bounds: doubling from min, capped at max, with jitter. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

/** Why a list or watch failed, as the `reason` label of discovery errors. */
type FailureReason =
  'unauthorized' | 'forbidden' | 'server_error' | 'timeout' | 'network' | 'expired' | 'other';

interface WatchEventObject extends SliceJson {
  readonly kind?: string;
  readonly code?: number;
  readonly message?: string;
}

/**
 * EndpointSlice discovery: list, then watch from the list's resourceVersion
 * with bookmarks, applying each event in the turn it is parsed. The watch is
 * supervised: restarted after every error or close (capped exponential
 * backoff with jitter; any event resets it), restarted when silent too long,
 * and a 410 Gone relists and rebuilds the whole set from the new list, so no
 * endpoint is lost or duplicated. While the API is unreachable the last set
 * stays in force.
 */
export class K8sSource implements DiscoverySource {
  readonly kind = 'k8s';
  readonly uri: string;
  readonly #opts: K8sSourceOptions;
  readonly #api: DiscoveryV1Api;
  readonly #namespace: string;
  readonly #selector: string;
  readonly #path: string;
  #sink: DiscoverySink | undefined;
  #slices = new Map<string, SliceJson>();
  #resourceVersion: string | undefined;
  #watch: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failures = 0;
  #expired = false;
  #signature: string | undefined;
  #reportedPortProblem = false;
  #watching = false;
  #lists = 0;
  #watches = 0;
  #lastEventMs: number | undefined;
  #lastError: string | undefined;
  #eventsThisWatch = 0;
  #watchStartedMs = 0;

  constructor(opts: K8sSourceOptions) {
    this.#opts = opts;
    this.uri = opts.spec.uri;
    this.#api = opts.access.config.makeApiClient(DiscoveryV1Api);
    this.#namespace = opts.spec.namespace ?? opts.access.defaultNamespace;
    this.#selector = `kubernetes.io/service-name=${opts.spec.service}`;
    this.#path = `/apis/discovery.k8s.io/v1/namespaces/${this.#namespace}/endpointslices`;
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    void this.#list();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#watch?.abort();
    this.#watch = undefined;
  }

  status(): DiscoveryStatus {
    return {
      namespace: this.#namespace,
      service: this.#opts.spec.service,
      port: this.#opts.spec.port === undefined ? null : String(this.#opts.spec.port),
      server: this.#opts.access.server,
      credentials: this.#opts.access.origin,
      resourceVersion: this.#resourceVersion ?? null,
      watching: this.#watching,
      lastEventAt:
        this.#lastEventMs === undefined ? null : new Date(this.#lastEventMs).toISOString(),
      lastError: this.#lastError ?? null,
      consecutiveErrors: this.#failures,
      lists: this.#lists,
      watches: this.#watches,
    };
  }

  async #list(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    const deadline = AbortSignal.timeout(this.#opts.listTimeoutMs);
    try {
      this.#lists++;
      const list = await this.#api.listNamespacedEndpointSlice(
        { namespace: this.#namespace, labelSelector: this.#selector },
        {
          // Give the list a deadline: client-node's fetch has none of its own.
          middleware: [
            {
              pre: (ctx: RequestContext) => {
                ctx.setSignal(deadline);
                return new Observable(Promise.resolve(ctx));
              },
              post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
            },
          ],
          middlewareMergeStrategy: 'append',
        },
      );
      if (this.#isStopped()) return;
      // A relist replaces the whole view: slices that vanished are dropped, none duplicated.
      this.#slices = new Map();
      for (const item of list.items as SliceJson[]) this.#slices.set(sliceKey(item), item);
      this.#resourceVersion = list.metadata?.resourceVersion;
      this.#failures = 0;
      this.#lastError = undefined;
      this.#rebuild(true);
      this.#startWatch();
    } catch (err) {
      if (this.#isStopped()) return;
      this.#fail('list', classify(err, deadline.aborted), err, () => void this.#list());
    }
  }

  /** Read through a call: `stop()` may run while a request is awaited. */
  #isStopped(): boolean {
    return this.#stopped;
  }

  #startWatch(): void {
    if (this.#stopped) return;
    const watch = new Watch(this.#opts.access.config);
    // client-node turns this into an inactivity timeout once the stream is open:
    // the watchdog for half-open connections that would otherwise hang forever.
    // (Declared private in its typings, but it is the documented knob of #3022.)
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs =
      this.#opts.watchIdleTimeoutMs;
    this.#watches++;
    this.#eventsThisWatch = 0;
    this.#watchStartedMs = this.#opts.clock.nowMs();
    this.#watching = true;
    const query: Record<string, string | number | boolean> = {
      labelSelector: this.#selector,
      allowWatchBookmarks: true,
      // The server ends the stream after this; spread replicas' reconnects.
      timeoutSeconds: 240 + Math.floor(this.#opts.random() * 60),
    };
    if (this.#resourceVersion !== undefined) query.resourceVersion = this.#resourceVersion;
    let done = false;
    const onDone = (err: unknown): void => {
      if (done) return;
      done = true;
      this.#watching = false;
      this.#watch = undefined;
      this.#watchEnded(err);
    };
    watch
      .watch(
        this.#path,
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
    this.#lastEventMs = this.#opts.clock.wallMs();
    this.#eventsThisWatch++;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#failures = 0;
        this.#slices.set(sliceKey(obj), obj);
        this.#noteVersion(obj);
        this.#rebuild(false);
        return;
      case 'DELETED':
        this.#failures = 0;
        this.#slices.delete(sliceKey(obj));
        this.#noteVersion(obj);
        this.#rebuild(false);
        return;
      case 'BOOKMARK':
        this.#failures = 0;
        this.#noteVersion(obj);
        return;
      case 'ERROR':
        // 410 Gone: our resourceVersion was compacted away; relist when the stream ends.
        if (obj.code === 410) this.#expired = true;
        else this.#lastError = `watch error ${String(obj.code)}: ${obj.message ?? ''}`;
        return;
      default:
        return;
    }
  }

  #noteVersion(obj: SliceJson): void {
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
  }

  #watchEnded(err: unknown): void {
    if (this.#stopped) return;
    if (this.#expired || statusCode(err) === 410) {
      this.#expired = false;
      this.#resourceVersion = undefined;
      this.#sink?.onError('expired', err ?? new DiscoveryError('410 Gone'));
      void this.#list();
      return;
    }
    if (err !== null && err !== undefined) {
      this.#fail('watch', classify(err, false), err, () => this.#startWatch());
      return;
    }
    // A clean end (timeoutSeconds, server restart): resume from the last version.
    // One that ends at once with nothing in it is treated as a failure, so a
    // misbehaving server cannot make us reconnect in a tight loop.
    const quick =
      this.#opts.clock.nowMs() - this.#watchStartedMs < 1000 && this.#eventsThisWatch === 0;
    if (quick)
      this.#fail('watch', 'other', new DiscoveryError('watch ended at once without events'), () =>
        this.#startWatch(),
      );
    else this.#startWatch();
  }

  #fail(op: 'list' | 'watch', reason: FailureReason, err: unknown, retry: () => void): void {
    this.#failures++;
    // Say what was asked, of whom, for which Service, and why it failed: client-node's own
    // message is often just "fetch failed", the errno or TLS cause hidden in `cause`.
    const url = `${this.#opts.access.server}${this.#path}?labelSelector=${this.#selector}`;
    const target = `${this.#namespace}/${this.#opts.spec.service}`;
    const message = `${op} ${url} for ${target} failed: ${describeCause(err, reason)}`;
    this.#lastError = `${reason}: ${message}`;
    this.#sink?.onError(reason, new DiscoveryError(message, { cause: err }));
    const base = Math.min(
      this.#opts.backoffMaxMs,
      this.#opts.backoffMinMs * 2 ** Math.min(this.#failures - 1, 20),
    );
    const delay = base * (0.5 + 0.5 * this.#opts.random());
    this.#timer = setTimeout(retry, delay);
    this.#timer.unref();
  }

  #rebuild(fromList: boolean): void {
    const result = mergeSlices(this.#slices.values(), this.#opts.spec.port);
    let endpoints: Endpoint[];
    if (result.kind === 'ok') {
      endpoints = result.endpoints;
      this.#reportedPortProblem = false;
    } else {
      endpoints = [];
      const problem =
        result.kind === 'ambiguous-port'
          ? `Service ${this.#opts.spec.service} has several TCP ports; name one as k8s://${this.#namespace}/${this.#opts.spec.service}:PORT (choices: ${result.choices.join(', ')})`
          : `port "${String(this.#opts.spec.port)}" is not in the EndpointSlices of ${this.#opts.spec.service} (choices: ${result.choices.join(', ')})`;
      if (!this.#reportedPortProblem) {
        this.#reportedPortProblem = true;
        const err = new ConfigError('--backends', problem);
        // At start-up an ambiguous port is a configuration error; later, only a warning.
        if (fromList && this.#lists === 1 && this.#sink?.onFatal !== undefined)
          this.#sink.onFatal(err);
        else this.#sink?.onError('port', err);
      }
    }
    const signature = endpoints
      .map(
        (e) =>
          `${e.id}|${e.address}|${e.port}|${e.state}|${e.zone ?? ''}|${(e.zoneHints ?? []).join('+')}`,
      )
      .join(',');
    if (signature === this.#signature) return;
    this.#signature = signature;
    this.#sink?.onSnapshot({ endpoints, updatedAtMs: this.#opts.clock.wallMs() });
  }
}

function sliceKey(obj: SliceJson): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/**
 * The cause of a failed request in an operator's terms: `HTTP 403 (message
 * of the Status body)`, `ECONNREFUSED (connect ECONNREFUSED 10.0.0.1:443)`,
 * `TLS error UNABLE_TO_VERIFY_LEAF_SIGNATURE (...)`, `timed out`.
 */
export function describeCause(err: unknown, reason: FailureReason): string {
  const status = statusCode(err);
  if (status !== undefined) {
    const detail = statusMessage(err);
    return `HTTP ${String(status)}${detail === undefined ? '' : ` (${detail})`}`;
  }
  // The errno or TLS code sits in the cause chain of fetch's "fetch failed".
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const code = errnoCode(e);
    const text = e instanceof Error ? e.message.split('\n')[0] : '';
    if (code !== undefined) {
      const tls = /CERT|SSL|TLS|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(code);
      return `${tls ? 'TLS error ' : ''}${code} (${text ?? ''})`;
    }
    e = (e as { cause?: unknown }).cause;
  }
  if (reason === 'timeout') return 'timed out';
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

/** The `message` of a Kubernetes Status body carried by a client-node ApiException. */
function statusMessage(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('body' in err)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text.slice(0, 200);
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return typeof body.message === 'string' ? body.message.slice(0, 200) : undefined;
  }
  return undefined;
}

function classify(err: unknown, deadlineHit: boolean): FailureReason {
  if (deadlineHit) return 'timeout';
  const code = statusCode(err);
  if (code === 401) return 'unauthorized';
  if (code === 403) return 'forbidden';
  if (code === 410) return 'expired';
  if (code !== undefined && code >= 500) return 'server_error';
  if (err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err)) {
    const name = (err as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  }
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  const causeText = cause instanceof Error ? `${cause.message} ${errnoCode(cause) ?? ''}` : '';
  const text = `${err instanceof Error ? err.message : String(err)} ${causeText}`;
  if (
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|socket|fetch failed|other side closed/i.test(
      text,
    )
  ) {
    return 'network';
  }
  return 'other';
}
