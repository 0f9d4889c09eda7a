import { listenSpecs, type ListenSpec } from '../config/listen-addresses.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { changedKeys } from '../config/settings-equal.ts';
import { formatHostPort } from '../core/address.ts';
import { ConfigError, ListenError, ReloadRefusedError, errnoCode } from '../core/errors.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import {
  Listener,
  closeSockets,
  socketKey,
  type BoundSocket,
  type ListenerDeps,
} from './listener.ts';
import type { Route } from './route.ts';

/** What a reload did to the listeners. */
export interface ListenersChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Per changed listener, the keys of the options that changed (all applied to new connections). */
  readonly changed: readonly { readonly listener: string; readonly options: readonly string[] }[];
}

/** One listener's part of a reload, prepared before anything is switched. */
interface Step {
  readonly listener: Listener;
  readonly isNew: boolean;
  route: Route | null;
  readonly sockets: BoundSocket[];
  /** Bound by this reload (closed if it fails); the rest were held already. */
  readonly fresh: BoundSocket[];
  readonly options: readonly string[];
}

/**
 * The listeners of one process. Listeners are added and drained at runtime
 * (config reload, per-pod listeners); each keeps its own backends and
 * settings. The connection limit (`deps.gate`) is shared by all.
 */
export class ListenerRegistry {
  readonly #deps: ListenerDeps;
  readonly #listeners = new Map<string, Listener>();
  /** Listeners a config reload manages (not the per-pod ones, which follow discovery). */
  readonly #configured = new Set<string>();

  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  /**
   * Create, bind and start a listener. Throws ConfigError on a duplicate
   * name, ListenError on bind failure. `specs` (from every listener of the
   * config, for the dual-stack rule) marks it as one a reload manages.
   */
  async add(
    settings: ListenerSettings,
    source?: DiscoverySource,
    specs?: readonly ListenSpec[],
  ): Promise<Listener> {
    if (this.#listeners.has(settings.name)) {
      throw new ConfigError('--name', `a listener named "${settings.name}" already exists`);
    }
    const listener = new Listener(settings, this.#deps, source);
    this.#listeners.set(settings.name, listener);
    try {
      await listener.init();
      const sockets: BoundSocket[] = [];
      try {
        for (const spec of specs ?? listenSpecs(settings)) {
          const bound = await this.#bind(listener, spec);
          if (bound !== null) sockets.push(bound);
        }
        listener.open(sockets);
      } catch (err) {
        listener.abandon(sockets);
        throw err;
      }
    } catch (err) {
      this.#listeners.delete(settings.name);
      throw err;
    }
    if (specs !== undefined) this.#configured.add(settings.name);
    return listener;
  }

  /**
   * Switch the configured listeners to `next`, all or nothing. Everything
   * that can fail happens first: discovery is loaded for new and changed
   * listeners, and every address not already held is bound (while the old
   * sockets still serve). Then, in one synchronous step, listeners take
   * their sockets and routes, an address that moved between listeners
   * keeps its socket, and the sockets no longer wanted close. Removed
   * listeners drain in the background. On any failure, or if `stillWanted`
   * says no before the switch (shutdown began), what was bound is closed and
   * the running listeners are exactly as they were.
   */
  async apply(
    next: readonly ListenerSettings[],
    drainTimeoutMs: number,
    stillWanted: () => boolean = () => true,
  ): Promise<ListenersChange> {
    const current = new Map([...this.#listeners].filter(([name]) => this.#configured.has(name)));
    const held = new Map<string, BoundSocket>();
    for (const l of current.values())
      for (const s of l.sockets) held.set(claimKey(s.spec, l.name), s);
    const steps: Step[] = [];
    try {
      for (const settings of next) {
        const existing = current.get(settings.name);
        const step: Step = {
          listener: existing ?? new Listener(settings, this.#deps),
          isNew: existing === undefined,
          route: null,
          sockets: [],
          fresh: [],
          options: existing === undefined ? [] : changedKeys(existing.config, settings),
        };
        steps.push(step);
        if (existing === undefined) await step.listener.init();
        else if (step.options.length > 0) step.route = await existing.prepareRoute(settings);
        for (const spec of listenSpecs(settings, next)) {
          const kept = held.get(claimKey(spec, settings.name));
          if (kept !== undefined) {
            held.delete(claimKey(spec, settings.name));
            step.sockets.push(kept);
            continue;
          }
          const bound = await this.#bind(step.listener, spec);
          if (bound === null) continue;
          step.sockets.push(bound);
          step.fresh.push(bound);
        }
        if (step.sockets.length === 0) {
          throw new ListenError(`listener "${settings.name}"`, 'no address could be bound');
        }
      }
      if (!stillWanted()) throw new ReloadRefusedError('shutdown started during the reload');
    } catch (err) {
      for (const step of steps) {
        step.route?.retire();
        if (step.isNew) step.listener.abandon(step.fresh);
        else closeSockets(step.fresh);
      }
      throw err;
    }
    // The switch: synchronous, so no connection is accepted half-way.
    const wanted = new Set(next.map((l) => l.name));
    const removed = [...current.values()].filter((l) => !wanted.has(l.name));
    for (const l of current.values()) l.releaseSockets();
    for (const step of steps) {
      if (step.isNew) {
        this.#listeners.set(step.listener.name, step.listener);
        this.#configured.add(step.listener.name);
        step.listener.open(step.sockets);
      } else {
        step.listener.commit(step.sockets, step.route);
      }
    }
    closeSockets(held.values());
    for (const l of removed) {
      this.#listeners.delete(l.name);
      this.#configured.delete(l.name);
    }
    void Promise.all(removed.map((l) => this.#drain(l, drainTimeoutMs))).then(() => {
      if (removed.length > 0)
        this.#deps.logger.info('removed listeners drained', { count: removed.length });
    });
    return {
      added: steps.filter((s) => s.isNew).map((s) => s.listener.name),
      removed: removed.map((l) => l.name),
      changed: steps
        .filter((s) => !s.isNew && s.options.length > 0)
        .map((s) => ({ listener: s.listener.name, options: s.options })),
    };
  }

  /** Bind for `listener`; an address in use by one of our own listeners names it. */
  async #bind(listener: Listener, spec: ListenSpec): Promise<BoundSocket | null> {
    try {
      return await listener.bindSocket(spec);
    } catch (err) {
      if (!(err instanceof ListenError) || errnoCode(err.cause) !== 'EADDRINUSE') throw err;
      for (const other of this.#listeners.values()) {
        const clash = other.sockets.find((s) => portOf(s.address) === spec.port);
        if (clash === undefined) continue;
        const who = other === listener ? 'this listener' : `listener "${other.name}"`;
        throw new ListenError(
          formatHostPort(spec.host, spec.port),
          `address already in use by ${who} of this process (${clash.address}${clash.spec.v6only ? ', IPv6-only' : ''}); ` +
            'a socket cannot be rebound in place (e.g. to change v6only): restart instead',
          { cause: err.cause },
        );
      }
      throw err;
    }
  }

  /** Stop accepting on a listener, drain it, and forget it. */
  async remove(name: string, drainTimeoutMs: number): Promise<void> {
    const listener = this.#listeners.get(name);
    if (listener === undefined) return;
    this.#listeners.delete(name);
    this.#configured.delete(name);
    await this.#drain(listener, drainTimeoutMs);
  }

  /** Listeners removed but still draining: a forced exit must reset their connections too. */
  readonly #draining = new Set<Listener>();

  async #drain(listener: Listener, timeoutMs: number): Promise<void> {
    this.#draining.add(listener);
    try {
      await listener.drain(timeoutMs);
    } finally {
      this.#draining.delete(listener);
    }
  }

  /** The forced exit: reset every open connection of every listener, draining ones included. */
  abortAll(): void {
    for (const l of [...this.#listeners.values(), ...this.#draining]) l.abort();
  }

  get(name: string): Listener | undefined {
    return this.#listeners.get(name);
  }

  list(): Listener[] {
    return [...this.#listeners.values()];
  }

  async drainAll(timeoutMs: number): Promise<void> {
    const all = this.list();
    this.#listeners.clear();
    this.#configured.clear();
    await Promise.all(all.map((l) => this.#drain(l, timeoutMs)));
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/**
 * Which held socket a reload may reuse for an address: the same address
 * (a listener renamed, or an address moved between listeners, keeps its
 * socket), except port 0, "any free port", which only its own listener
 * keeps: another listener asking for port 0 gets a new one.
 */
function claimKey(spec: ListenSpec, listener: string): string {
  return spec.port === 0 ? `${listener}\0${socketKey(spec)}` : socketKey(spec);
}
