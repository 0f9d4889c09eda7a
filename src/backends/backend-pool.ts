import type { Balancer, PickContext } from '../balancing/balancer.ts';
import type { Endpoint, EndpointSnapshot } from '../core/endpoint.ts';
import type { Logger } from '../core/logger.ts';
import { BackendLatency } from '../metrics/latency.ts';
import type { ListenerMetrics } from '../metrics/proxy-metrics.ts';
import { Backend, type Closable } from './backend.ts';

export interface BackendPoolOptions {
  readonly listener: string;
  readonly balancer: Balancer;
  readonly metrics: ListenerMetrics;
  readonly logger: Logger;
  /** 0 = connections to a backend that left are never cut. */
  readonly backendDrainTimeoutMs: number;
  /** This proxy's zone (`--zone`): ready endpoints for it are preferred. */
  readonly zone?: string | undefined;
  /** Per-backend latency histograms; off with `--latency-tracking off`. */
  readonly trackLatency?: boolean;
  /** Monotonic clock for latency windows. */
  readonly nowMs?: () => number;
  /** `--max-connections-per-backend` (0 = unlimited): full backends are skipped. */
  readonly maxPerBackend?: number;
  /** A connection to a backend ended: room may have opened for a queued client. */
  readonly onRoom?: () => void;
}

/** `pick` found usable backends, but every one is at `--max-connections-per-backend`. */
export const ALL_FULL = Symbol('all backends full');

/** Which endpoints currently get new connections. */
export type PoolTier = 'ready' | 'draining-fallback' | 'none';

/**
 * The backends of one listener: merges discovery snapshots into long-lived
 * `Backend` state, decides which ones are candidates for new connections and
 * hands those to the balancer. Candidates are the ready endpoints; when none
 * is ready, the serving-but-terminating ones (kube-proxy's KEP-1669 rule).
 */
export class BackendPool {
  readonly #opts: BackendPoolOptions;
  readonly #byId = new Map<string, Backend>();
  #candidates: readonly Backend[] = [];
  #tier: PoolTier = 'none';
  #updatedAtMs: number | undefined;
  #updates = 0;

  constructor(opts: BackendPoolOptions) {
    this.#opts = opts;
  }

  get balancer(): Balancer {
    return this.#opts.balancer;
  }

  /** Replace the view of discovery; keeps state for ids that remain. */
  applySnapshot(snapshot: EndpointSnapshot): void {
    const seen = new Set<string>();
    for (const ep of snapshot.endpoints) {
      if (seen.has(ep.id)) {
        this.#opts.logger.warn('duplicate endpoint id in discovery snapshot; keeping the first', {
          listener: this.#opts.listener,
          backend: ep.id,
        });
        continue;
      }
      seen.add(ep.id);
      this.#upsert(ep);
    }
    for (const backend of this.#byId.values()) {
      if (!seen.has(backend.id) && backend.listed) {
        backend.listed = false;
        this.#onLeaving(backend);
      }
    }
    this.#updatedAtMs = snapshot.updatedAtMs;
    this.#updates++;
    this.refresh();
  }

  #upsert(ep: Endpoint): void {
    const existing = this.#byId.get(ep.id);
    if (existing === undefined) {
      const latency =
        this.#opts.trackLatency === true
          ? new BackendLatency(this.#opts.nowMs?.() ?? performance.now())
          : null;
      this.#byId.set(ep.id, new Backend(ep, this.#opts.metrics.backend(ep.id), latency));
      return;
    }
    const wasLeaving = existing.isLeaving();
    existing.endpoint = ep;
    existing.listed = true;
    if (wasLeaving && !existing.isLeaving()) this.#cancelDrain(existing);
    if (!wasLeaving && existing.isLeaving()) this.#onLeaving(existing);
  }

  /** Recompute candidates (after a snapshot, or when usability changed) and tell the balancer. */
  refresh(): void {
    let ready: Backend[] = [];
    let draining: Backend[] = [];
    for (const b of this.#byId.values()) {
      if (!b.listed || b.weight <= 0 || b.adminDrained) continue;
      if (b.endpoint.state === 'ready') ready.push(b);
      else if (b.endpoint.state === 'draining') draining.push(b);
    }
    ready = lowestPriority(preferZone(ready, this.#opts.zone));
    draining = lowestPriority(draining);
    if (ready.length > 0) {
      this.#candidates = ready;
      this.#tier = 'ready';
    } else if (draining.length > 0) {
      this.#candidates = draining;
      this.#tier = 'draining-fallback';
    } else {
      this.#candidates = [];
      this.#tier = 'none';
    }
    this.#opts.balancer.update(this.#candidates);
  }

  pick(ctx: PickContext): Backend | undefined {
    return this.#opts.balancer.pick(ctx);
  }

  /**
   * Pick a backend for a new connection. With a per-backend limit, full
   * backends are skipped (retried with them excluded); when all are full the
   * caller may queue (`ALL_FULL`).
   */
  pickWithRoom(ctx: PickContext): Backend | typeof ALL_FULL | undefined {
    const max = this.#opts.maxPerBackend ?? 0;
    const first = this.#opts.balancer.pick(ctx);
    if (max === 0 || first === undefined || first.active < max) return first;
    const full: Backend[] = [...ctx.tried, first];
    for (let i = 0; i < this.#candidates.length; i++) {
      const next = this.#opts.balancer.pick({ ...ctx, tried: full });
      if (next === undefined) break;
      if (next.active < max) return next;
      if (full.includes(next)) break;
      full.push(next);
    }
    return ALL_FULL;
  }

  /** Whether some candidate has room under `--max-connections-per-backend`. */
  hasRoom(): boolean {
    const max = this.#opts.maxPerBackend ?? 0;
    return max === 0 || this.#candidates.some((b) => b.active < max);
  }

  get hasUsableBackend(): boolean {
    return this.#candidates.length > 0;
  }

  get tier(): PoolTier {
    return this.#tier;
  }

  get updatedAtMs(): number | undefined {
    return this.#updatedAtMs;
  }

  get updates(): number {
    return this.#updates;
  }

  /** Every backend still known: listed ones and unlisted ones with open connections. */
  backends(): IterableIterator<Backend> {
    return this.#byId.values();
  }

  get(id: string): Backend | undefined {
    return this.#byId.get(id);
  }

  /**
   * Maintenance (HAProxy `set server state drain`): no new connections,
   * open ones continue. Returns false for an unknown id.
   */
  setAdminDrain(id: string, drained: boolean): boolean {
    const b = this.#byId.get(id);
    if (b === undefined) return false;
    if (b.adminDrained !== drained) {
      b.adminDrained = drained;
      this.refresh();
    }
    return true;
  }

  /** A connection (or attempt) to `backend` started. */
  attach(backend: Backend, session: Closable): void {
    backend.active++;
    backend.total++;
    backend.sessions.add(session);
    backend.metrics.attemptStarted();
  }

  /** A connection (or attempt) to `backend` ended. */
  detach(backend: Backend, session: Closable): void {
    if (!backend.sessions.delete(session)) return;
    backend.active--;
    backend.metrics.attemptEnded();
    this.#opts.balancer.onClose?.(backend);
    if (!backend.listed && backend.active === 0) this.#forget(backend);
    this.#opts.onRoom?.();
  }

  #onLeaving(backend: Backend): void {
    if (!backend.listed && backend.active === 0) {
      this.#forget(backend);
      return;
    }
    const timeout = this.#opts.backendDrainTimeoutMs;
    if (timeout > 0 && backend.drainTimer === undefined && backend.active > 0) {
      backend.drainTimer = setTimeout(() => {
        backend.drainTimer = undefined;
        for (const s of [...backend.sessions]) s.closeGracefully('drained');
      }, timeout);
      backend.drainTimer.unref();
    }
  }

  #cancelDrain(backend: Backend): void {
    if (backend.drainTimer !== undefined) clearTimeout(backend.drainTimer);
    backend.drainTimer = undefined;
  }

  #forget(backend: Backend): void {
    this.#cancelDrain(backend);
    this.#byId.delete(backend.id);
    backend.metrics.remove();
  }

  /** Stop timers; used when the listener goes away. */
  dispose(): void {
    for (const b of this.#byId.values()) this.#cancelDrain(b);
  }
}

/** Keep only the endpoints of the lowest SRV priority present (RFC 2782). */
function lowestPriority(list: Backend[]): Backend[] {
  let min = Infinity;
  for (const b of list) min = Math.min(min, b.endpoint.priority ?? 0);
  return list.every((b) => (b.endpoint.priority ?? 0) === min)
    ? list
    : list.filter((b) => (b.endpoint.priority ?? 0) === min);
}

/**
 * Topology preference: with a zone, keep the endpoints meant for it — by
 * EndpointSlice hints when every endpoint carries them, else by the
 * endpoint's own zone — unless that leaves none.
 */
function preferZone(list: Backend[], zone: string | undefined): Backend[] {
  if (zone === undefined || list.length === 0) return list;
  const hinted = list.every((b) => b.endpoint.zoneHints !== undefined);
  const mine = list.filter((b) =>
    hinted ? (b.endpoint.zoneHints ?? []).includes(zone) : b.endpoint.zone === zone,
  );
  return mine.length > 0 ? mine : list;
}
