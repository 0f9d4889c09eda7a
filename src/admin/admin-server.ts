import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatHostPort, type HostPort } from '../core/address.ts';
import { ListenError, errnoCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { BackendsReport } from './backends-report.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

/** What the admin endpoint reads from the running proxy. */
export interface AdminView {
  /** `/readyz`: listening, not shutting down, and (optionally) backends usable. */
  readiness(): { ready: boolean; reason?: string };
  backends(): BackendsReport;
  /** `GET /pods`: each per-pod listener's pod → port map. */
  pods(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Maintenance drain of a backend id (in one listener, or all that have it); returns how many matched. */
  setDrain(id: string, listener: string | undefined, drained: boolean): number;
}

export interface AdminServerOptions {
  /** Bearer token that allows runtime control from non-loopback peers (`--admin-token`). */
  readonly token?: string | undefined;
}

export interface AdminServer {
  readonly address: string;
  close(): Promise<void>;
}

/**
 * The admin HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, `/backends`.
 * Falls back from `[::]` to `0.0.0.0` where IPv6 is unavailable, like listeners.
 */
export async function startAdminServer(
  where: HostPort,
  view: AdminView,
  logger: Logger,
  opts: AdminServerOptions = {},
): Promise<AdminServer> {
  const server = createServer((req, res) => {
    handle(req, res, view, opts, logger).catch((err: unknown) => {
      logger.error('admin request failed', { url: req.url, error: String(err) });
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  let bound: string;
  try {
    bound = await listen(server, where);
  } catch (err) {
    const code = errnoCode(err);
    if (where.host === '::' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
      bound = await listen(server, { host: '0.0.0.0', port: where.port });
    } else {
      throw new ListenError(
        `admin ${formatHostPort(where.host, where.port)}`,
        code === 'EADDRINUSE' ? 'address already in use' : String(err),
        { cause: err },
      );
    }
  }
  logger.info('admin listening', { address: bound });
  return {
    address: bound,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, where: HostPort): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: where.host, port: where.port, ipv6Only: false }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(
        addr !== null && typeof addr === 'object'
          ? formatHostPort(addr.address, addr.port)
          : formatHostPort(where.host, where.port),
      );
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  view: AdminView,
  opts: AdminServerOptions,
  logger: Logger,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  const control = /^\/backends\/([^/]+)\/(drain|undrain)$/.exec(path);
  if (control !== null) {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    if (!mayControl(req, opts.token)) {
      send(
        res,
        403,
        'text/plain',
        'forbidden: runtime control needs a loopback peer or the admin token\n',
      );
      return;
    }
    const id = decodeURIComponent(control[1] ?? '');
    const drained = control[2] === 'drain';
    const matched = view.setDrain(id, url.searchParams.get('listener') ?? undefined, drained);
    if (matched === 0) {
      send(res, 404, 'text/plain', `no backend "${id}"\n`);
      return;
    }
    logger.info(drained ? 'backend drained by admin' : 'backend undrained by admin', {
      backend: id,
    });
    send(
      res,
      200,
      'application/json',
      JSON.stringify({ backend: id, drained, listeners: matched }) + '\n',
    );
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain', 'method not allowed\n');
    return;
  }
  switch (path) {
    case '/':
    case '/status':
      send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
      return;
    case '/healthz':
      send(res, 200, 'text/plain', 'ok\n');
      return;
    case '/readyz': {
      const r = view.readiness();
      send(
        res,
        r.ready ? 200 : 503,
        'text/plain',
        r.ready ? 'ready\n' : `not ready: ${r.reason ?? ''}\n`,
      );
      return;
    }
    case '/pods':
      send(res, 200, 'application/json', JSON.stringify(view.pods(), null, 2) + '\n');
      return;
    case '/backends':
      send(res, 200, 'application/json', JSON.stringify(view.backends(), null, 2) + '\n');
      return;
    case '/metrics': {
      const m = await view.metrics();
      send(res, 200, m.contentType, m.body);
      return;
    }
    default:
      send(res, 404, 'text/plain', 'not found\n');
  }
}

/** Runtime control is for operators: loopback peers, or anyone presenting the admin token. */
function mayControl(req: IncomingMessage, token: string | undefined): boolean {
  const peer = req.socket.remoteAddress ?? '';
  if (peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.')) return true;
  if (token === undefined) return false;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
