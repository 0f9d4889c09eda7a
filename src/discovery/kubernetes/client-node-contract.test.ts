import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Contract of the installed @kubernetes/client-node with what k8s-source.ts
 * sets beyond its typings: `Watch.requestTimeoutMs` (declared private), the
 * inactivity timeout that ends a watch whose connection went silent. If an
 * upgrade drops or renames it, Headway would set a field nobody reads and a
 * half-open watch would hang forever: this fails first, naming the field.
 */
const version = (
  createRequire(import.meta.url)('@kubernetes/client-node/package.json') as { version: string }
).version;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

function kubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'nobody' }],
    currentContext: 'local',
  });
  return kc;
}

describe(`@kubernetes/client-node ${version}: Watch.requestTimeoutMs`, () => {
  it('is a field of every Watch, holding a number', () => {
    const watch = new Watch(new KubeConfig());
    if (!('requestTimeoutMs' in watch))
      throw new Error(
        `@kubernetes/client-node ${version} has no Watch.requestTimeoutMs: src/discovery/kubernetes/k8s-source.ts sets it as the watch inactivity timeout`,
      );
    expect(typeof (watch as unknown as { requestTimeoutMs: unknown }).requestTimeoutMs).toBe(
      'number',
    );
  });

  it('ends a watch whose stream stays silent for that long', async () => {
    // An API server that opens the watch stream and then never sends a byte (a half-open link).
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const watch = new Watch(kubeConfig(port));
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 300;
    const started = performance.now();
    const ended = new Promise<unknown>((resolve) => {
      void watch.watch('/api/v1/pods', {}, () => undefined, resolve);
    });
    const outcome = await Promise.race([
      ended.then(() => 'ended'),
      new Promise((r) => setTimeout(() => r('still open after 5 s'), 5000)),
    ]);
    expect(
      outcome,
      `@kubernetes/client-node ${version} no longer ends a silent watch after Watch.requestTimeoutMs`,
    ).toBe('ended');
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });
});
