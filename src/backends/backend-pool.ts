import type { BalanceTarget, Balancer, PickContext } from '../balancing/balancer.ts';
import type { Endpoint, EndpointSnapshot } from '../core/endpoint.ts';
import type { Logger } from '../core/logger.ts';
import type { Outcome } from '../core/outcome.ts';
import { BackendLatency } from '../metrics/latency.ts';
import type { ListenerMetrics } from '../metrics/proxy-metrics.ts';
import type { OutlierDetector } from '../health/outlier-detector.ts';
import { Backend, type Closable, type SharedCount } from './backend.ts';
import { logMembership } from './membership-log.ts';
import { systemClock, type Clock } from '../core/clock.ts';

export interface BackendPoolOptions {
  readonly listener: string;
  readonly balancer: Balancer<Backend>;
  readonly metrics: ListenerMetrics;
  readonly logger: Logger;
  /** 0 = connections to a backend that left are never cut. */
  readonly backendDrainTimeoutMs: number;
  /** This proxy's zone (`--zone`): ready endpoints for it are preferred. */
  readonly zone?: string | undefined;
  /** Per-backend latency histograms; off with `--latency-tracking off`. */
  readonly trackLatency?: boolean;
  /** Its monotonic time drives latency windows, drains and slow start (default: the system clock). */
  readonly clock?: Clock;
  /** `--max-connections-per-backend` (0 = unlimited): full backends are skipped. */
  readonly maxPerBackend?: number;
  /** A connection to a backend ended: room may have opened for a queued client. */
  readonly onRoom?: () => void;
  /** Passive ejection after consecutive connect failures (absent: off, or decided elsewhere). */
  readonly outlier?: OutlierDetector | undefined;
  /**
   * Where connect outcomes go when another thread decides ejections (a
   * worker thread of `--workers` reports to the main thread, which sends
   * its verdicts back through `eject`). Used only without `outlier`.
   */
  readonly connectOutcomes?: ConnectOutcomes | undefined;
  /** This pool's outlier detection ejected a backend for `forMs` (the main thread tells the workers). */
  readonly onEjected?: (backend: Backend, forMs: number) => void;
  /** `--slow-start`: ramp a new or recovered backend's weight over this long (0 = off). */
  readonly slowStartMs?: number;
  /** Every candidate is unhealthy or ejected: traffic goes to all of them (counted). */
  readonly onPanic?: () => void;
  /** Active health checks run: every backend gets a `healthy` series from the start. */
  readonly healthChecked?: boolean;
  /** The cell counting a backend's connections across worker threads (`--workers`), if any. */
  readonly sharedCount?: (id: string) => SharedCount | null;
  /** Log `backend added/removed` (default on; off in worker threads, whose main thread logs). */
  readonly logMembership?: boolean;
}

/** The connect outcomes a pool passes on when ejection is decided elsewhere. */
export interface ConnectOutcomes {
  failed(backend: Backend): void;
  succeeded(backend: Backend): void;
}

/** Slow start begins at this share of the weight (Envoy's min_weight_percent). */
const SLOW_START_FLOOR = 0.1;
/** How often ramping weights are re-applied to the balancer. */
const SLOW_START_STEP_MS = 1000;

/** `pick` found usable backends, but every one is at `--max-connections-per-backend`. */
export const ALL_FULL = Symbol('all backends full');

/** What a client connection that used a backend amounted to, once both its sockets closed. */
export interface SessionFigures {
  readonly outcome: Outcome;
  readonly bytesFromClient: number;
  readonly bytesFromBackend: number;
  /** Accept to close, when the backend connection was established (else no latency sample). */
  readonly durationMs: number | undefined;
  /** Monotonic ms at the close. */
  readonly nowMs: number;
}

/** Which endpoints currently get new connections. */
export type PoolTier = 'ready' | 'draining-fallback' | 'panic' | 'none';

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
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshAtMs = Infinity;
  #panics = 0;

  constructor(opts: BackendPoolOptions) {
    this.#opts = opts;
  }

  get balancer(): Balancer<Backend> {
    return this.#opts.balancer;
  }

  /** This listener's metrics (the admin report reads its outcome counts). */
  get listenerMetrics(): ListenerMetrics {
    return this.#opts.metrics;
  }

  /** Replace the view of discovery; keeps state for ids that remain. */
  applySnapshot(snapshot: EndpointSnapshot): void {
    const seen = new Set<string>();
    let listedBefore = 0;
    for (const b of this.#byId.values()) if (b.listed) listedBefore++;
    const added: Endpoint[] = [];
    const removed: { endpoint: Endpoint; open: number }[] = [];
    for (const ep of snapshot.endpoints) {
      if (seen.has(ep.id)) {
        this.#opts.logger.warn('duplicate endpoint id in discovery snapshot; keeping the first', {
          listener: this.#opts.listener,
          backend: ep.id,
        });
        continue;
      }
      seen.add(ep.id);
      if (this.#upsert(ep)) added.push(ep);
    }
    for (const backend of this.#byId.values()) {
      if (!seen.has(backend.id) && backend.listed) {
        backend.listed = false;
        removed.push({ endpoint: backend.endpoint, open: backend.open });
        this.#onLeaving(backend);
      }
    }
    if (this.#opts.logMembership !== false) {
      logMembership(this.#opts.logger, {
        listener: this.#opts.listener,
        added,
        removed,
        listedBefore,
        listedAfter: seen.size,
      });
    }
    this.#updatedAtMs = snapshot.updatedAtMs;
    this.#updates++;
    this.refresh();
  }

  /** Add or update one endpoint; true when it was not listed before. */
  #upsert(ep: Endpoint): boolean {
    const existing = this.#byId.get(ep.id);
    if (existing === undefined) {
      const latency = this.#opts.trackLatency === true ? new BackendLatency(this.#now()) : null;
      const backend = new Backend(ep, this.#opts.metrics.backend(ep.id), latency);
      backend.shared = this.#opts.sharedCount?.(ep.id) ?? null;
      backend.usableSinceMs = this.#now();
      if (this.#opts.healthChecked === true) backend.metrics.setHealthy(true);
      this.#byId.set(ep.id, backend);
      return true;
    }
    const relisted = !existing.listed;
    const wasLeaving = existing.isLeaving();
    existing.endpoint = ep;
    existing.listed = true;
    if (wasLeaving && !existing.isLeaving()) {
      this.#cancelDrain(existing);
      // Back in service (readiness returned, or listed again): slow start applies anew.
      existing.usableSinceMs = this.#now();
    }
    if (!wasLeaving && existing.isLeaving()) this.#onLeaving(existing);
    return relisted;
  }

  /** Recompute candidates (after a snapshot, or when usability changed) and tell the balancer. */
  refresh(): void {
    // An ejection that ended before this refresh starts its slow start now, whoever refreshes.
    this.#markRecovered();
    const now = this.#now();
    const ready: Backend[] = [];
    const draining: Backend[] = [];
    for (const b of this.#byId.values()) {
      if (!b.listed || b.endpoint.weight <= 0 || b.adminDrained) continue;
      if (b.endpoint.state === 'ready') ready.push(b);
      else if (b.endpoint.state === 'draining') draining.push(b);
    }
    const usable = (b: Backend): boolean => b.healthy && b.ejectedUntilMs <= now;
    const usableReady = ready.filter(usable);
    const usableDraining = draining.filter(usable);
    let candidates: Backend[];
    if (usableReady.length > 0) {
      candidates = lowestPriority(preferZone(usableReady, this.#opts.zone));
      this.#tier = 'ready';
    } else if (usableDraining.length > 0) {
      candidates = lowestPriority(usableDraining);
      this.#tier = 'draining-fallback';
    } else if (ready.length > 0 || draining.length > 0) {
      // Panic mode (Envoy): every candidate is down or ejected. Sending to all
      // of them beats refusing everyone on a possibly wrong health verdict.
      candidates = lowestPriority(preferZone(ready.length > 0 ? ready : draining, this.#opts.zone));
      if (this.#tier !== 'panic') {
        this.#panics++;
        this.#opts.onPanic?.();
        this.#opts.logger.warn(
          'panic mode: every backend is unhealthy or ejected; using all of them',
          {
            listener: this.#opts.listener,
          },
        );
      }
      this.#tier = 'panic';
    } else {
      candidates = [];
      this.#tier = 'none';
    }
    this.#candidates = candidates;
    for (const b of this.#byId.values()) b.noteState(now);
    this.#applyRamp(candidates, now);
    this.#scheduleEjectionExpiry(now);
    this.#opts.balancer.update(candidates);
  }

  /** Set each candidate's slow-start share; schedule the next step while any ramps. */
  #applyRamp(candidates: readonly Backend[], now: number): void {
    const ramp = this.#opts.slowStartMs ?? 0;
    let ramping = false;
    for (const b of candidates) {
      if (ramp <= 0) {
        b.rampFactor = 1;
        continue;
      }
      const f = Math.min(1, Math.max(SLOW_START_FLOOR, (now - b.usableSinceMs) / ramp));
      b.rampFactor = f;
      if (f < 1) ramping = true;
    }
    if (ramping) this.#refreshAt(now + SLOW_START_STEP_MS);
  }

  #scheduleEjectionExpiry(now: number): void {
    // From the backends rather than the detector: an ejection may have been decided in another thread.
    let next = Infinity;
    for (const b of this.#byId.values())
      if (b.ejectedUntilMs > now) next = Math.min(next, b.ejectedUntilMs);
    if (next !== Infinity) this.#refreshAt(next + 1);
  }

  #refreshAt(atMs: number): void {
    if (this.#refreshTimer !== undefined && this.#refreshAtMs <= atMs) return;
    if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
    this.#refreshAtMs = atMs;
    this.#refreshTimer = setTimeout(
      () => {
        this.#refreshTimer = undefined;
        this.#refreshAtMs = Infinity;
        this.#markRecovered();
        this.refresh();
      },
      Math.max(1, atMs - this.#now()),
    );
    this.#refreshTimer.unref();
  }

  /** Backends whose ejection just ended start their slow start now. */
  #markRecovered(): void {
    const now = this.#now();
    for (const b of this.#byId.values()) {
      if (b.ejectedUntilMs !== 0 && b.ejectedUntilMs <= now) {
        b.ejectedUntilMs = 0;
        b.usableSinceMs = now;
      }
    }
  }

  #now(): number {
    return (this.#opts.clock ?? systemClock).nowMs();
  }

  /** Active health checks changed a backend's verdict. */
  setHealthy(id: string, healthy: boolean): void {
    const b = this.#byId.get(id);
    if (b === undefined || b.healthy === healthy) return;
    b.healthy = healthy;
    if (healthy) b.usableSinceMs = this.#now();
    b.metrics.setHealthy(healthy);
    this.refresh();
  }

  /** Close every connection of a backend (it failed its role check: `--close-on-down`). */
  closeConnections(id: string): void {
    const b = this.#byId.get(id);
    if (b === undefined) return;
    for (const s of [...b.sessions]) s.closeGracefully('drained');
  }

  /** A connect attempt to `backend` failed: passive ejection may take it out. */
  connectFailed(backend: Backend): void {
    const outlier = this.#opts.outlier;
    if (outlier === undefined) {
      this.#opts.connectOutcomes?.failed(backend);
      return;
    }
    const now = this.#now();
    if (outlier.connectFailed(backend.id, now)) {
      backend.ejectedUntilMs = outlier.ejectedUntil(backend.id, now) ?? now;
      backend.ejections++;
      backend.metrics.ejected();
      const forMs = backend.ejectedUntilMs - now;
      this.#opts.logger.warn('backend ejected after consecutive connect failures', {
        listener: this.#opts.listener,
        backend: backend.id,
        forMs: Math.round(forMs),
      });
      this.refresh();
      this.#opts.onEjected?.(backend, forMs);
    }
  }

  connectSucceeded(backend: Backend): void {
    if (this.#opts.outlier === undefined) this.#opts.connectOutcomes?.succeeded(backend);
    else this.#opts.outlier.connectSucceeded(backend.id);
  }

  /**
   * An ejection decided by another thread's outlier detection (`--workers`):
   * out for `forMs` from now. Counted, logged and reported there, not here.
   */
  eject(id: string, forMs: number): void {
    const backend = this.#byId.get(id);
    if (backend === undefined || forMs <= 0) return;
    backend.ejectedUntilMs = this.#now() + forMs;
    this.refresh();
  }

  /** Times panic mode was entered. */
  get panics(): number {
    return this.#panics;
  }

  pick(ctx: PickContext): Backend | undefined {
    return this.#opts.balancer.pick(ctx);
  }

  /**
   * Pick a backend for a new connection. With a per-backend limit, full
   * backends are skipped (retried with them excluded); when all are full the
   * caller may queue (`ALL_FULL`). With `name`, only the candidate it
   * designates (see pickByName); `ALL_FULL` when that one is full.
   */
  pickWithRoom(ctx: PickContext, name?: string): Backend | typeof ALL_FULL | undefined {
    const max = this.#opts.maxPerBackend ?? 0;
    if (name !== undefined) {
      // A named pick (`--route-by sni`) obeys the same limit: a full pod makes the client wait.
      const named = this.pickByName(name, ctx);
      if (named === undefined || max === 0 || named.active < max) return named;
      return ALL_FULL;
    }
    const first = this.#opts.balancer.pick(ctx);
    if (max === 0 || first === undefined || first.active < max) return first;
    const full: BalanceTarget[] = [...ctx.tried, first];
    for (let i = 0; i < this.#candidates.length; i++) {
      const next = this.#opts.balancer.pick({ ...ctx, tried: full });
      if (next === undefined) break;
      if (next.active < max) return next;
      if (full.includes(next)) break;
      full.push(next);
    }
    return ALL_FULL;
  }

  /**
   * The candidate a name designates (`--route-by sni`): its hostname's first
   * label, its pod name or its id. Undefined when none is usable. No room
   * check: pickWithRoom(ctx, name) is the pick for a new connection.
   */
  pickByName(name: string, ctx: PickContext): Backend | undefined {
    for (const b of this.#candidates) {
      const ep = b.endpoint;
      if (ctx.tried.includes(b)) continue;
      if (ep.hostname?.split('.')[0] === name || ep.pod === name || b.id === name) return b;
    }
    return undefined;
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
      if (!drained) b.usableSinceMs = this.#now();
      this.refresh();
    }
    return true;
  }

  // The data path's accounting: sessions report what happened to their
  // backend here, and the pool is the one writer of a backend's counters,
  // latency histograms and per-backend metrics.

  /**
   * A connection attempt to `backend` failed before it was established.
   * `blamed`: the backend refused or did not answer in time, so it counts as
   * its failure and feeds passive ejection; false for a local resource error
   * of this process (EMFILE...), where the backend was never asked.
   */
  attemptFailed(backend: Backend, session: Closable, blamed: boolean): void {
    this.detach(backend, session);
    if (!blamed) return;
    backend.failures++;
    this.connectFailed(backend);
  }

  /** A connection attempt to `backend` succeeded after `connectMs`. */
  connected(backend: Backend, connectMs: number, nowMs: number): void {
    backend.recordConnect(connectMs, nowMs);
    this.connectSucceeded(backend);
    this.#opts.balancer.onConnect?.(backend, connectMs);
  }

  /** `backend` answered `ms` after the client's first bytes were sent. */
  firstByte(backend: Backend, ms: number, nowMs: number): void {
    backend.recordFirstByte(ms, nowMs);
    this.#opts.balancer.onFirstByte?.(backend, ms);
  }

  /**
   * A client connection that used `backend` closed: count it and detach it.
   * `figures` is read now and not kept (the data path reuses one object).
   */
  sessionEnded(backend: Backend, session: Closable, figures: SessionFigures): void {
    backend.bytesFromClient += figures.bytesFromClient;
    backend.bytesFromBackend += figures.bytesFromBackend;
    if (figures.durationMs !== undefined) backend.recordSession(figures.durationMs, figures.nowMs);
    // Count before detaching: detaching the last connection of a backend that
    // left discovery removes its series, and they must not come back.
    backend.metrics.connectionClosed(
      figures.outcome,
      figures.bytesFromClient,
      figures.bytesFromBackend,
    );
    this.detach(backend, session);
  }

  /** A connection (or attempt) to `backend` started. */
  attach(backend: Backend, session: Closable): void {
    backend.open++;
    if (backend.shared !== null) Atomics.add(backend.shared.counts, backend.shared.index, 1);
    backend.total++;
    backend.sessions.add(session);
    backend.metrics.attemptStarted();
  }

  /** A connection (or attempt) to `backend` ended. */
  detach(backend: Backend, session: Closable): void {
    if (!backend.sessions.delete(session)) return;
    backend.open--;
    if (backend.shared !== null) Atomics.sub(backend.shared.counts, backend.shared.index, 1);
    backend.metrics.attemptEnded();
    this.#opts.balancer.onClose?.(backend);
    if (!backend.listed && backend.open === 0) this.#forget(backend);
    this.#opts.onRoom?.();
  }

  #onLeaving(backend: Backend): void {
    if (!backend.listed && backend.open === 0) {
      this.#forget(backend);
      return;
    }
    const timeout = this.#opts.backendDrainTimeoutMs;
    if (timeout > 0 && backend.drainTimer === undefined && backend.open > 0) {
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
    this.#opts.outlier?.remove(backend.id);
    this.#byId.delete(backend.id);
    backend.metrics.remove();
  }

  /** Stop timers; used when the listener goes away. */
  dispose(): void {
    if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
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
