/**
 * Entry point of a worker thread (`--workers N`): a ProxyApp whose listeners
 * bind with SO_REUSEPORT beside the other workers' (the kernel spreads new
 * connections among them) and whose routes take discovery, health verdicts
 * and shared connection counts from the main thread. No admin endpoint and
 * no discovery of its own; metrics are collected by the main thread on scrape.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Counter } from 'prom-client';
import { ProxyApp } from '../app/proxy-app.ts';
import { createLogger } from '../core/logger.ts';
import { PromMetrics } from '../metrics/prom-metrics.ts';
import type { FromWorker, ToWorker, WorkerStart } from './messages.ts';
import { reportFailure } from './failure.ts';
import { MainThreadFeed } from './worker-feed.ts';
import { collectFigures } from './worker-figures.ts';
import { InternalError } from '../core/errors.ts';

if (parentPort === null) throw new InternalError('worker-main.ts runs only as a worker thread');
const port = parentPort;
const start = workerData as WorkerStart;
const post = (message: FromWorker): void => port.postMessage(message);

const logger = createLogger({
  level: start.config.process.logLevel,
  format: start.config.process.logFormat,
}).child({ worker: start.index });
const feed = new MainThreadFeed(start.feed, (listener, id, ok) => {
  post({ type: 'connect-outcome', listener, id, ok });
});
const workerConfig = (c: WorkerStart['config']): WorkerStart['config'] => ({
  ...c,
  process: { ...c.process, admin: null },
});
// Process metrics (CPU, memory, event loop) are the main thread's to report.
const metrics = new PromMetrics({
  backendLabel: start.config.process.metricsBackendLabel,
  processMetrics: false,
});
countConnectionsOfThisWorker(metrics, start.index);
const app = new ProxyApp(workerConfig(start.config), {
  logger,
  feed,
  reusePort: true,
  metrics,
  onFatal: (err) => post({ type: 'fatal', message: err.message }),
});

function onMessage(message: ToWorker): void {
  switch (message.type) {
    case 'snapshot':
      feed.deliver(message.listener, message.snapshot, message.counts, message.cells);
      return;
    case 'health':
      app.registry.get(message.listener)?.route.upstream.applyHealth(message.id, message.healthy);
      return;
    case 'eject':
      app.registry.get(message.listener)?.pool.eject(message.id, message.forMs);
      return;
    case 'drain':
      for (const l of app.registry.list()) {
        if (message.listener === undefined || l.name === message.listener)
          l.pool.setAdminDrain(message.id, message.drained);
      }
      return;
    case 'reload':
      app.reload(workerConfig(message.config)).catch((err: unknown) => {
        logger.error('config reload failed in a worker', { error: String(err) });
      });
      return;
    case 'reopen':
      app.accessLog?.reopen();
      return;
    case 'metrics':
      void app.metrics.registry.getMetricsAsJSON().then((metrics) => {
        post({ type: 'metrics', request: message.request, metrics });
      });
      return;
    case 'figures':
      post({
        type: 'figures',
        request: message.request,
        figures: collectFigures(app.registry.list()),
      });
      return;
    case 'abort':
      app.abort();
      post({ type: 'aborted' });
      return;
    case 'shutdown':
      void app.shutdown().finally(() => {
        post({ type: 'stopped' });
        port.close();
      });
      return;
  }
}

port.on('message', onMessage);

app.start().then(
  () => {
    // Health verdicts and maintenance the main thread had before this thread started.
    for (const [name, state] of Object.entries(start.feed)) {
      const upstream = app.registry.get(name)?.route.upstream;
      for (const id of state.unhealthy) upstream?.applyHealth(id, false);
      for (const id of state.drained) upstream?.pool.setAdminDrain(id, true);
    }
    post({ type: 'ready' });
  },
  (err: unknown) => {
    post({ type: 'failed', error: reportFailure(err) });
    port.close();
  },
);

/**
 * `headway_worker_connections_total{worker}`: this worker's share of the
 * connections (read from its own counters at scrape time, nothing added to
 * the data path), showing how evenly SO_REUSEPORT spreads clients.
 */
function countConnectionsOfThisWorker(metrics: PromMetrics, index: number): void {
  const worker = String(index);
  new Counter({
    name: 'headway_worker_connections_total',
    help: 'Connections handled (closed) by each worker thread (--workers)',
    labelNames: ['worker'],
    registers: [metrics.registry],
    async collect() {
      let total = 0;
      for (const v of (await metrics.connections.get()).values) total += v.value;
      this.reset();
      this.inc({ worker }, total);
    },
  });
}
