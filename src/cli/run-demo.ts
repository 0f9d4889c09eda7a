import type { AddressInfo, Server } from 'node:net';
import { ProxyApp } from '../app/proxy-app.ts';
import { resolveProxyConfig } from '../config/resolve.ts';
import { createLogger } from '../core/logger.ts';
import { createEchoServer } from '../echo/echo-server.ts';

export interface DemoOptions {
  readonly listen: string | undefined;
  readonly admin: string | undefined;
}

/**
 * `npm start`: three echo backends on loopback, the proxy in front, the
 * admin endpoint, and what to try. Ctrl-C stops everything.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const backends: Server[] = [];
  for (let i = 0; i < 3; i++) {
    const server = createEchoServer({ delayMs: 0 });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    backends.push(server);
  }
  const ports = backends.map((s) => (s.address() as AddressInfo).port);
  const listen = opts.listen ?? '127.0.0.1:8080';
  const admin = opts.admin ?? '127.0.0.1:9901';
  const config = resolveProxyConfig({
    argv: {
      listen,
      admin,
      name: 'demo',
      backends: `static://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      'log-format': 'text',
      'log-level': 'warn',
      'drain-timeout': '2s',
    },
    env: {},
  });
  const app = new ProxyApp(config, { logger: createLogger({ level: 'warn', format: 'text' }) });
  try {
    await app.start();
  } catch (err) {
    for (const s of backends) s.close();
    throw err;
  }
  const proxyAddr = app.registry.list()[0]?.addresses[0] ?? listen;
  const [host, port] = splitHostPort(proxyAddr);
  process.stdout.write(
    [
      'Headway demo is running.',
      `  proxy    ${proxyAddr}  →  echo backends ${ports.map((p) => `127.0.0.1:${p}`).join(', ')}  (least-conn)`,
      `  admin    http://${app.adminAddress ?? admin}/`,
      '',
      'Try:',
      `  echo hello | nc -q1 ${host} ${port}                 # echoed back through the proxy`,
      `  curl -s http://${app.adminAddress ?? admin}/backends          # each backend: state, active, total`,
      `  curl -s http://${app.adminAddress ?? admin}/metrics | grep headway_`,
      `  npm run -s headway -- bench rr --target ${proxyAddr} --duration 5s   # load through the proxy`,
      `  open http://${app.adminAddress ?? admin}/                # the status page`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stdout.write('\nstopping...\n');
    void app.shutdown().then(() => {
      for (const s of backends) s.close();
      process.stdout.write('stopped.\n');
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), addr.slice(i + 1)];
}
