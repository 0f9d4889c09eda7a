import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ProxyApp } from '../app/proxy-app.ts';
import { reportIsEmpty, type ReloadReport } from '../app/lifecycle.ts';
import { ControlPlane } from '../workers/control-plane.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { ReloadRefusedError, errorMessage } from '../core/errors.ts';
import { buildInfo } from '../metrics/build-info.ts';
import { ConfigWatcher } from './config-watcher.ts';
import type { ListenerSettings } from '../config/schema.ts';
import { startListenerSources } from '../gateway/start-sources.ts';

/** One thread doing everything (ProxyApp) or the main thread of `--workers` (ControlPlane). */
type RunningProxy = Pick<
  ProxyApp,
  'start' | 'shutdown' | 'reload' | 'reopenLogs' | 'shuttingDown' | 'metrics'
> & {
  /** The forced exit: reset every open connection (may wait briefly for worker threads). */
  abort(): void | Promise<void>;
};

/** The forced exit waits at most this long for worker threads to reset their connections. */
const ABORT_DEADLINE_MS = 2000;

/**
 * Run the proxy until a signal: SIGTERM/SIGINT run the shutdown sequence (a
 * second one exits at once); SIGHUP never kills the process.
 */
export async function runProxy(
  config: ProxyConfig,
  reloadConfig: () => ProxyConfig,
): Promise<void> {
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat });
  logger.info('headway starting', {
    ...buildInfo(),
    workers: config.process.workers,
    socketImpl: config.process.socketImpl,
  });
  const onFatal = (err: Error): void => {
    // Only the source could see it (e.g. an ambiguous Kubernetes port): same contract as a bad flag.
    process.stderr.write(`headway: ${err.message}\n`);
    process.exit(2);
  };
  const app: RunningProxy =
    config.process.workers > 0
      ? new ControlPlane(config, { logger, onFatal })
      : new ProxyApp(config, { logger, onFatal });
  app.metrics.enableReloadMetrics(Date.now());
  const reloader = new Reloader(app, logger, config, reloadConfig);
  installSignals(app, logger, (why) => reloader.request(why, true));
  await app.start();
  await startListenerSources(config, logger, (s, l) => reloader.applySourced(s, l), process.env);
  if (config.process.watchConfig && config.process.config !== null) {
    new ConfigWatcher({
      path: config.process.config,
      logger,
      onChange: () => reloader.request('config file changed', false),
    }).start();
  }
}

/**
 * Runs reloads one at a time (a SIGHUP during a reload runs once more
 * after it, never interleaved), refuses them once shutdown has started,
 * and logs and counts each outcome. A watch-triggered reload whose file
 * content is the same as last time is skipped (no "config reloaded" for a
 * touch); SIGHUP always reloads.
 */
class Reloader {
  readonly #app: RunningProxy;
  readonly #logger: Logger;
  readonly #path: string | null;
  readonly #load: () => ProxyConfig;
  /** The configuration last applied from flags and file, without the sourced listeners. */
  #base: ProxyConfig;
  /** Listeners from Kubernetes objects (--gateway, --ingress-nginx-tcp-services), by source. */
  readonly #sourced = new Map<string, readonly ListenerSettings[]>();
  /** Reloads run one at a time, whichever asked: a file reload and a sourced change never interleave. */
  #lock: Promise<void> = Promise.resolve();
  /** Hash of the file content last loaded (or tried): what "changed" is measured against. */
  #lastHash: string | undefined;
  #running: Promise<void> | undefined;
  #pending: { why: string; force: boolean } | undefined;

  constructor(app: RunningProxy, logger: Logger, initial: ProxyConfig, load: () => ProxyConfig) {
    const path = initial.process.config;
    this.#app = app;
    this.#logger = logger;
    this.#path = path;
    this.#load = load;
    this.#base = initial;
    this.#lastHash = path === null ? undefined : hashOf(path);
  }

  request(why: string, force: boolean): void {
    if (this.#running !== undefined) {
      // Coalesce: one more reload after the running one, forced if any request was.
      this.#pending = { why, force: force || (this.#pending?.force ?? false) };
      return;
    }
    this.#running = this.#exclusive(() => this.#run(why, force)).finally(() => {
      this.#running = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (next !== undefined) this.request(next.why, next.force);
    });
  }

  /**
   * A Kubernetes source's listeners changed: apply them with the running
   * file configuration, through the same all-or-nothing reload. Rejects (and
   * keeps the source's previous listeners) when they cannot be applied.
   */
  applySourced(source: string, listeners: readonly ListenerSettings[]): Promise<void> {
    return this.#exclusive(async () => {
      const before = this.#sourced.get(source);
      this.#sourced.set(source, listeners);
      try {
        const report = await this.#app.reload(this.#withSourced(this.#base));
        this.#app.metrics.reloaded('success', Date.now());
        if (!reportIsEmpty(report))
          this.#logger.info('listeners from Kubernetes applied', {
            source,
            added: report.added,
            removed: report.removed,
            applied: report.applied,
          });
      } catch (err) {
        if (before === undefined) this.#sourced.delete(source);
        else this.#sourced.set(source, before);
        this.#app.metrics.reloaded(
          err instanceof ReloadRefusedError ? 'refused' : 'failure',
          Date.now(),
        );
        this.#logger.error('listeners from Kubernetes not applied; keeping the running ones', {
          source,
          error: errorMessage(err),
        });
        throw err;
      }
    });
  }

  #withSourced(config: ProxyConfig): ProxyConfig {
    const sourced = [...this.#sourced.values()].flat();
    return sourced.length === 0
      ? config
      : { ...config, listeners: [...config.listeners, ...sourced] };
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#lock.then(fn);
    this.#lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #run(why: string, force: boolean): Promise<void> {
    if (this.#app.shuttingDown) {
      this.#logger.warn('config reload refused: shutting down', { why });
      this.#app.metrics.reloaded('refused', Date.now());
      return;
    }
    if (this.#path === null) {
      this.#logger.info(`${why}: no config file to reload; continuing`);
      return;
    }
    const hash = hashOf(this.#path);
    if (!force && hash === this.#lastHash) {
      this.#logger.debug('config file content unchanged; not reloading', { why });
      return;
    }
    if (!force && hash === undefined) {
      // Mid-update (a ConfigMap swap) or removed: the next event or SIGHUP tells.
      this.#logger.debug('config file unreadable; not reloading', { why });
      return;
    }
    this.#lastHash = hash;
    let next: ProxyConfig;
    try {
      next = this.#load();
    } catch (err) {
      // A bad file never replaces the running configuration.
      this.#logger.error('config reload rejected; keeping the running configuration', {
        why,
        error: errorMessage(err),
      });
      this.#app.metrics.reloaded('failure', Date.now());
      return;
    }
    let report: ReloadReport;
    try {
      report = await this.#app.reload(this.#withSourced(next));
      this.#base = next;
    } catch (err) {
      if (err instanceof ReloadRefusedError) {
        this.#logger.warn('config reload refused: shutting down', { why });
        this.#app.metrics.reloaded('refused', Date.now());
        return;
      }
      // An address that cannot be bound (or discovery that cannot load) changes nothing.
      this.#logger.error('config reload failed; keeping the running configuration', {
        why,
        error: errorMessage(err),
      });
      this.#app.metrics.reloaded('failure', Date.now());
      return;
    }
    this.#app.metrics.reloaded('success', Date.now());
    for (const option of report.needsRestart) {
      this.#logger.warn('config option changed; it applies after a restart', { why, option });
    }
    if (reportIsEmpty(report)) {
      this.#logger.info('config unchanged; nothing to apply', { why });
      return;
    }
    if (report.added.length + report.removed.length + report.applied.length === 0) {
      this.#logger.warn('config reload applied nothing; the changed options need a restart', {
        why,
        needsRestart: report.needsRestart,
      });
      return;
    }
    this.#logger.info('config reloaded', {
      why,
      added: report.added,
      removed: report.removed,
      applied: report.applied,
      needsRestart: report.needsRestart,
    });
  }
}

/** Content hash of the config file (through symlinks), or undefined when unreadable. */
function hashOf(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

function installSignals(app: RunningProxy, logger: Logger, reload: (why: string) => void): void {
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // Exiting closes every socket with a clean FIN, which would make a cut
      // transfer look complete: reset every open connection first.
      logger.warn('second signal: resetting open connections and exiting now', { signal });
      const exit = (): never => process.exit(1);
      setTimeout(exit, ABORT_DEADLINE_MS).unref();
      Promise.resolve()
        .then(() => app.abort())
        .then(exit, (err: unknown) => {
          logger.error('resetting connections failed', { error: errorMessage(err) });
          exit();
        });
      return;
    }
    logger.info('signal received', { signal });
    app.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => reload('SIGHUP'));
  // Log rotation: reopen the access log file under its name.
  process.on('SIGUSR1', () => app.reopenLogs());
}
