import type { ProxyConfig } from '../config/resolve.ts';
import type { Logger } from '../core/logger.ts';
import type { PromMetrics } from '../metrics/prom-metrics.ts';
import type { Readiness, ReloadReport } from './lifecycle.ts';
import { ProxyApp } from './proxy-app.ts';
import { ControlPlane } from './workers/control-plane.ts';

/**
 * A running Headway as the command line drives it: started once, reloaded
 * and reopened on signals, shut down (or aborted) at the end. One thread
 * doing everything (ProxyApp), or the main thread of `--workers`
 * (ControlPlane) in front of worker threads that each run a ProxyApp.
 */
export interface App {
  readonly metrics: PromMetrics;
  readonly shuttingDown: boolean;
  /** `host:port` of the admin endpoint, once started (undefined when off). */
  readonly adminAddress: string | undefined;
  /** Bind everything; on failure nothing stays bound. */
  start(): Promise<void>;
  /** Apply a new configuration, all or nothing. */
  reload(next: ProxyConfig): Promise<ReloadReport>;
  /** SIGUSR1: reopen the access log (rotation). */
  reopenLogs(): void;
  readiness(): Readiness;
  /** The shutdown sequence: delay with /readyz 503, then drain. */
  shutdown(): Promise<void>;
  /** The forced exit: reset every open connection (may wait briefly for worker threads). */
  abort(): void | Promise<void>;
}

export interface AppDeps {
  readonly logger: Logger;
  /** A configuration error found after start; the CLI exits 2. */
  readonly onFatal: (err: Error) => void;
}

/** The App for `config`: worker threads with `--workers N`, else one thread. */
export function createApp(config: ProxyConfig, deps: AppDeps): App {
  return config.process.workers > 0 ? new ControlPlane(config, deps) : new ProxyApp(config, deps);
}
