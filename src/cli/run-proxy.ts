import { ProxyApp } from '../app/proxy-app.ts';
import type { ProxyConfig } from '../config/resolve.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';

/**
 * Run the proxy until a signal: SIGTERM/SIGINT run the shutdown sequence (a
 * second one exits at once); SIGHUP never kills the process.
 */
export async function runProxy(config: ProxyConfig): Promise<void> {
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat });
  const app = new ProxyApp(config, {
    logger,
    onFatal: (err) => {
      // Only the source could see it (e.g. an ambiguous Kubernetes port): same contract as a bad flag.
      process.stderr.write(`headway: ${err.message}\n`);
      process.exit(2);
    },
  });
  installSignals(app, logger);
  await app.start();
}

function installSignals(app: ProxyApp, logger: Logger): void {
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
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
  process.on('SIGHUP', () => {
    // Configuration reload arrives with the config file; until then SIGHUP is harmless.
    logger.info('SIGHUP received: nothing to reload without a config file; continuing');
  });
}
