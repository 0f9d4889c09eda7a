import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import type { Logger } from '../core/logger.ts';

export interface ConfigWatcherOptions {
  readonly path: string;
  readonly logger: Logger;
  /** Called once changes have settled; the caller compares content before reloading. */
  readonly onChange: () => void;
  /** Editors and the kubelet write in several steps: wait this long after the last event. */
  readonly settleMs?: number;
  /** How often the directory is checked (gone, replaced, back). */
  readonly pollMs?: number;
}

/**
 * `--watch-config`. The directory is watched (a mounted ConfigMap is
 * updated by swapping its `..data` symlink, which a watch on the file would
 * miss), but only events about the file itself or `..data` count: Headway's
 * own log files, editor swap files and anything else in the directory are
 * ignored. When the directory is removed (or replaced), inotify stops
 * reporting silently: the directory's identity is checked every `pollMs`,
 * and while it is gone the watcher polls for it, says so in the log, and
 * watches again (and checks the file) once it is back.
 */
export class ConfigWatcher {
  readonly #dir: string;
  readonly #file: string;
  readonly #opts: ConfigWatcherOptions;
  #watcher: FSWatcher | undefined;
  #inode: number | undefined;
  #settle: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;
  #polling = false;

  constructor(opts: ConfigWatcherOptions) {
    this.#opts = opts;
    const full = resolvePath(opts.path);
    this.#dir = dirname(full);
    this.#file = basename(full);
  }

  start(): void {
    if (this.#watch()) {
      this.#opts.logger.info('watching the config file for changes', {
        file: this.#file,
        dir: this.#dir,
      });
    } else this.#lost('is missing');
    this.#poll = setInterval(() => this.#check(), this.#opts.pollMs ?? 1000);
    this.#poll.unref();
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#poll);
    clearTimeout(this.#settle);
  }

  #watch(): boolean {
    const inode = inodeOf(this.#dir);
    if (inode === undefined) return false;
    try {
      const w = watch(this.#dir, (_event, name) => {
        // No name: the kernel could not say which entry changed; check the file.
        if (name === null || name === this.#file || name === '..data') this.#changed();
        else if (inodeOf(this.#dir) !== this.#inode) this.#lost('was removed');
      });
      w.on('error', (err) => this.#lost(`cannot be watched (${err.message})`));
      w.unref();
      this.#watcher = w;
      this.#inode = inode;
      return true;
    } catch {
      return false;
    }
  }

  #lost(why: string): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#polling) return;
    this.#polling = true;
    this.#opts.logger.warn(`config directory ${why}; polling for it`, {
      dir: this.#dir,
      everyMs: this.#opts.pollMs ?? 1000,
    });
  }

  /** Every pollMs: notice a removed or replaced directory, and a directory that is back. */
  #check(): void {
    if (this.#closed) return;
    if (this.#watcher !== undefined) {
      if (inodeOf(this.#dir) === this.#inode) return;
      this.#lost('was removed or replaced');
    }
    if (this.#watch()) {
      this.#polling = false;
      this.#opts.logger.info('config directory is back; watching it again', { dir: this.#dir });
      this.#changed();
    }
  }

  #changed(): void {
    if (this.#closed) return;
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      if (!this.#closed) this.#opts.onChange();
    }, this.#opts.settleMs ?? 250);
    this.#settle.unref();
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
