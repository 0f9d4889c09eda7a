import { localErrorKind } from '../core/local-errors.ts';
import type { CheckExpect } from '../config/check-string.ts';
import { probe, type ProbeOptions, type ProbeResult, type ProbeTarget } from './tcp-probe.ts';
import { OptionRangeError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';

/** The probe the checker runs; `probe` from `tcp-probe.ts` unless a test injects a fake. */
export type ProbeFn = (target: ProbeTarget, opts: ProbeOptions) => Promise<ProbeResult>;

export interface ActiveHealthCheckerOptions {
  /** Time between two checks of one target (`--health-interval`). */
  readonly intervalMs: number;
  /** Deadline of one check (`--health-timeout`). */
  readonly timeoutMs: number;
  /** Consecutive successes that bring an unhealthy target back (`--health-rise`). */
  readonly rise: number;
  /** Consecutive failures that take a healthy target out (`--health-fall`). */
  readonly fall: number;
  readonly send?: Buffer | undefined;
  readonly expect?: CheckExpect | undefined;
  /** How probes close their connection; see `ProbeOptions.close`. */
  readonly close?: 'fin' | 'reset';
  /** Uniform in [0, 1): draws each target's phase (see `ActiveHealthChecker`). */
  readonly random: () => number;
  readonly probe?: ProbeFn;
  /** Its wall time stamps `HealthStatus.lastCheckAtMs` (default: the system clock). */
  readonly clock?: Clock;
  /**
   * A probe failed for lack of a local resource (EMFILE...): it counts
   * neither for nor against the target; this is told instead.
   */
  readonly onLocalError?: (kind: string, id: string) => void;
}

/** A backend to check; `id` is the stable endpoint id, the address may change under it. */
export interface HealthTarget {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

/** What the checker knows about one target, as a snapshot. */
export interface HealthStatus {
  readonly healthy: boolean;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** Checks completed for this id. */
  readonly checks: number;
  /** Epoch ms when the last check completed; undefined before the first. */
  readonly lastCheckAtMs: number | undefined;
  /** The last result's reason (`connected`, `matched`, `connection refused`, ...). */
  readonly lastReason: string | undefined;
  /** Duration of the last check. */
  readonly lastMs: number | undefined;
  /** The HTTP status code of the last check (undefined for TCP checks, or when none was read). */
  readonly lastStatus: number | undefined;
  /** Where it is checked now. */
  readonly address: string;
  readonly port: number;
}

/** Called when a target's health flips (never for its initial healthy state). */
export type HealthChangeListener = (
  id: string,
  healthy: boolean,
  detail: { readonly reason: string },
) => void;

interface TargetState {
  readonly id: string;
  address: string;
  port: number;
  healthy: boolean;
  /**
   * A new target is healthy until its first check says otherwise: one
   * failure before any success takes it out (HAProxy's default
   * `init-state up`); after that, `fall` applies.
   */
  provisional: boolean;
  successes: number;
  failures: number;
  checks: number;
  lastCheckAtMs: number | undefined;
  lastReason: string | undefined;
  lastMs: number | undefined;
  lastStatus: number | undefined;
  phaseTimer: NodeJS.Timeout | undefined;
  intervalTimer: NodeJS.Timeout | undefined;
  /** The probe in flight; its result counts only while it is still this one. */
  inflight: AbortController | undefined;
}

/**
 * Active TCP health checks for a set of targets, with HAProxy's rise/fall:
 * a healthy target turns unhealthy after `fall` consecutive failed checks, an
 * unhealthy one healthy after `rise` consecutive successes.
 *
 * A new id starts healthy and is checked at once; then every `intervalMs`
 * at its own phase, drawn with `random` between half an interval and one and
 * a half after it was added, so a pool discovered all at once is probed
 * evenly rather than in bursts. A target has at most one probe in flight: a tick
 * that finds one running is skipped. Timers are unref'd and never keep the
 * process alive.
 */
export class ActiveHealthChecker {
  readonly #opts: ActiveHealthCheckerOptions;
  readonly #onChange: HealthChangeListener;
  readonly #probe: ProbeFn;
  readonly #clock: Clock;
  readonly #targets = new Map<string, TargetState>();
  #stopped = false;

  constructor(opts: ActiveHealthCheckerOptions, onChange: HealthChangeListener) {
    for (const key of ['intervalMs', 'timeoutMs'] as const) {
      if (!(opts[key] > 0) || !Number.isFinite(opts[key])) {
        throw new OptionRangeError(`${key} must be a positive number, got ${opts[key]}`);
      }
    }
    for (const key of ['rise', 'fall'] as const) {
      if (!Number.isInteger(opts[key]) || opts[key] < 1) {
        throw new OptionRangeError(`${key} must be an integer of at least 1, got ${opts[key]}`);
      }
    }
    this.#opts = opts;
    this.#onChange = onChange;
    this.#probe = opts.probe ?? probe;
    this.#clock = opts.clock ?? systemClock;
  }

  /**
   * Replace the set of targets. New ids start healthy and get an immediate
   * check; ids no longer listed stop (an in-flight probe is aborted, its
   * result dropped). An id whose address or port changed keeps its health
   * and counters, and is checked at the new address at once (a probe to the
   * old address is aborted). Duplicate ids: the first wins. Ignored after `stop()`.
   */
  setTargets(targets: readonly HealthTarget[]): void {
    if (this.#stopped) return;
    const seen = new Set<string>();
    for (const t of targets) {
      if (seen.has(t.id)) continue;
      seen.add(t.id);
      const state = this.#targets.get(t.id);
      if (state === undefined) {
        this.#add(t);
      } else if (state.address !== t.address || state.port !== t.port) {
        state.address = t.address;
        state.port = t.port;
        state.inflight?.abort();
        state.inflight = undefined;
        this.#check(state);
      }
    }
    for (const [id, state] of this.#targets) {
      if (!seen.has(id)) this.#remove(state);
    }
  }

  status(id: string): HealthStatus | undefined {
    const s = this.#targets.get(id);
    if (s === undefined) return undefined;
    return {
      healthy: s.healthy,
      consecutiveSuccesses: s.successes,
      consecutiveFailures: s.failures,
      checks: s.checks,
      lastCheckAtMs: s.lastCheckAtMs,
      lastReason: s.lastReason,
      lastMs: s.lastMs,
      lastStatus: s.lastStatus,
      address: s.address,
      port: s.port,
    };
  }

  /** Whether `id` is checked and currently healthy (false for unknown ids). */
  isHealthy(id: string): boolean {
    return this.#targets.get(id)?.healthy ?? false;
  }

  /** Ids currently checked, in the order they were added. */
  ids(): IterableIterator<string> {
    return this.#targets.keys();
  }

  /** Stop every timer and abort probes in flight; no callback fires afterwards. */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#targets.values()) this.#remove(state);
  }

  #add(t: HealthTarget): void {
    const state: TargetState = {
      id: t.id,
      address: t.address,
      port: t.port,
      healthy: true,
      provisional: true,
      successes: 0,
      failures: 0,
      checks: 0,
      lastCheckAtMs: undefined,
      lastReason: undefined,
      lastMs: undefined,
      lastStatus: undefined,
      phaseTimer: undefined,
      intervalTimer: undefined,
      inflight: undefined,
    };
    this.#targets.set(t.id, state);
    const interval = this.#opts.intervalMs;
    // After the immediate check, the first periodic one comes at a random
    // phase in [interval/2, 3·interval/2) and the others every interval after
    // it: targets added together (a whole pool at start-up) spread evenly
    // over an interval, and none is checked twice in a row within half of one.
    const r = this.#opts.random();
    const phaseMs = (0.5 + (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0)) * interval;
    state.phaseTimer = setTimeout(() => {
      state.phaseTimer = undefined;
      state.intervalTimer = setInterval(() => this.#check(state), interval);
      state.intervalTimer.unref();
      this.#check(state);
    }, phaseMs);
    state.phaseTimer.unref();
    this.#check(state);
  }

  #remove(state: TargetState): void {
    if (state.phaseTimer !== undefined) clearTimeout(state.phaseTimer);
    if (state.intervalTimer !== undefined) clearInterval(state.intervalTimer);
    state.phaseTimer = undefined;
    state.intervalTimer = undefined;
    state.inflight?.abort();
    state.inflight = undefined;
    this.#targets.delete(state.id);
  }

  #check(state: TargetState): void {
    if (state.inflight !== undefined) return;
    const controller = new AbortController();
    state.inflight = controller;
    let pending: Promise<ProbeResult>;
    try {
      pending = this.#probe(
        { address: state.address, port: state.port },
        {
          timeoutMs: this.#opts.timeoutMs,
          send: this.#opts.send,
          expect: this.#opts.expect,
          close: this.#opts.close ?? 'fin',
          signal: controller.signal,
        },
      );
    } catch (err) {
      pending = Promise.resolve(probeError(err));
    }
    // A throw from onChange escapes as an unhandled rejection, like a bug in
    // any timer callback; the state is updated before it is called.
    void pending.then(
      (result) => this.#settle(state, controller, result),
      (err: unknown) => this.#settle(state, controller, probeError(err)),
    );
  }

  #settle(state: TargetState, controller: AbortController, result: ProbeResult): void {
    if (state.inflight !== controller) return;
    state.inflight = undefined;
    state.checks++;
    state.lastCheckAtMs = this.#clock.wallMs();
    state.lastReason = result.reason;
    state.lastMs = result.ms;
    if (result.local !== undefined) {
      // Our own shortage (file descriptors, buffers): the backend was never asked.
      this.#opts.onLocalError?.(result.local, state.id);
      return;
    }
    state.lastStatus = result.status;
    let flipped = false;
    if (result.ok) {
      state.successes++;
      state.failures = 0;
      if (!state.healthy && state.successes >= this.#opts.rise) {
        state.healthy = true;
        flipped = true;
      }
    } else {
      state.failures++;
      state.successes = 0;
      if (state.healthy && (state.provisional || state.failures >= this.#opts.fall)) {
        state.healthy = false;
        flipped = true;
      }
    }
    state.provisional = false;
    if (flipped) this.#onChange(state.id, state.healthy, { reason: result.reason });
  }
}

function probeError(err: unknown): ProbeResult {
  const reason = `probe error: ${err instanceof Error ? err.message : String(err)}`;
  const local = localErrorKind(err);
  return local === undefined ? { ok: false, reason, ms: 0 } : { ok: false, reason, ms: 0, local };
}
