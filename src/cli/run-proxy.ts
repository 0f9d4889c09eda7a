import { watch } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { ProxyApp } from '../app/proxy-app.ts';
import { ControlPlane } from '../workers/control-plane.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import { buildInfo } from '../metrics/build-info.ts';

/** One thread doing everything (ProxyApp) or the main thread of `--workers` (ControlPlane). */
type RunningProxy = Pick<ProxyApp, 'start' | 'shutdown' | 'reload' | 'reopenLogs'> & {
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
  logger.info('headway starting', { ...buildInfo(), workers: config.process.workers });
  const onFatal = (err: Error): void => {
    // Only the source could see it (e.g. an ambiguous Kubernetes port): same contract as a bad flag.
    process.stderr.write(`headway: ${err.message}\n`);
    process.exit(2);
  };
  const app: RunningProxy =
    config.process.workers > 0
      ? new ControlPlane(config, { logger, onFatal })
      : new ProxyApp(config, { logger, onFatal });
  const reload = (why: string): void => {
    if (config.process.config === null) {
      logger.info(`${why}: no config file to reload; continuing`);
      return;
    }
    let next: ProxyConfig;
    try {
      next = reloadConfig();
    } catch (err) {
      // A bad file never replaces a running configuration.
      logger.error('config reload rejected; keeping the running configuration', {
        why,
        error: errorMessage(err),
      });
      return;
    }
    app.reload(next).then(
      () => logger.info('config reloaded', { why, listeners: next.listeners.map((l) => l.name) }),
      (err: unknown) => logger.error('config reload failed', { why, error: errorMessage(err) }),
    );
  };
  installSignals(app, logger, reload);
  await app.start();
  if (config.process.watchConfig && config.process.config !== null)
    watchConfig(config.process.config, reload);
}

/**
 * Reload when the config file changes. The directory is watched, not the
 * file: Kubernetes updates a mounted ConfigMap by swapping a `..data`
 * symlink, which a watch on the file itself would never see.
 */
function watchConfig(path: string, reload: (why: string) => void): void {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(resolvePath(path)), () => {
    // Editors and the kubelet write in several steps: settle first.
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => reload('config file changed'), 250);
  });
  watcher.unref();
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
