import type { ListenerSettings } from '../config/schema.ts';
import { ConfigError } from '../core/errors.ts';
import type { DiscoverySource } from '../discovery/discovery-source.ts';
import { Listener, type ListenerDeps } from './listener.ts';

/**
 * The listeners of one process. Listeners are added and drained at runtime
 * (config reload, per-pod listeners); each keeps its own backends and
 * settings. The connection limit (`deps.gate`) is shared by all.
 */
export class ListenerRegistry {
  readonly #deps: ListenerDeps;
  readonly #listeners = new Map<string, Listener>();

  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  /** Create, bind and start a listener. Throws ConfigError on a duplicate name, ListenError on bind failure. */
  async add(settings: ListenerSettings, source?: DiscoverySource): Promise<Listener> {
    if (this.#listeners.has(settings.name)) {
      throw new ConfigError('--name', `a listener named "${settings.name}" already exists`);
    }
    const listener = new Listener(settings, this.#deps, source);
    this.#listeners.set(settings.name, listener);
    try {
      await listener.start();
    } catch (err) {
      this.#listeners.delete(settings.name);
      throw err;
    }
    return listener;
  }

  /** Stop accepting on a listener, drain it, and forget it. */
  async remove(name: string, drainTimeoutMs: number): Promise<void> {
    const listener = this.#listeners.get(name);
    if (listener === undefined) return;
    this.#listeners.delete(name);
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
    await Promise.all(all.map((l) => this.#drain(l, timeoutMs)));
  }
}
