import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatHostPort, type HostPort } from '../core/address.ts';
import { ListenError, errnoCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { AdminAuth, type AdminAuthOptions, type PathKind } from './admin-auth.ts';
import { ADMIN_TIMEOUTS, capConnections } from './admin-connections.ts';
import type { BackendsReport } from './backends-report.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

/** What the admin endpoint reads from the running proxy. */
export interface AdminView {
  /** `/readyz`: listening, not shutting down, and (optionally) backends usable. */
  readiness(): { ready: boolean; reason?: string };
  /** `GET /backends` (asynchronous with worker threads, whose figures are collected first). */
  backends(): BackendsReport | Promise<BackendsReport>;
  /** `GET /pods`: each per-pod listener's pod → port map. */
  pods(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Maintenance drain of a backend id (in one listener, or all that have it); returns how many matched. */
  setDrain(id: string, listener: string | undefined, drained: boolean): number;
}

/** The token and which paths need it (see admin-auth.ts). */
export type AdminServerOptions = AdminAuthOptions;

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
  const auth = new AdminAuth(opts);
  const server = createServer(
    {
      headersTimeout: ADMIN_TIMEOUTS.headersMs,
      requestTimeout: ADMIN_TIMEOUTS.requestMs,
      keepAliveTimeout: ADMIN_TIMEOUTS.keepAliveMs,
      connectionsCheckingInterval: ADMIN_TIMEOUTS.checkIntervalMs,
    },
    (req, res) => {
      handle(req, res, view, auth, logger).catch((err: unknown) => {
        logger.error('admin request failed', { url: req.url, error: String(err) });
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    },
  );
  capConnections(server);
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
  // Never the token itself: only whether one is set.
  logger.info('admin listening', {
    address: bound,
    auth: auth.mode,
    token: auth.hasToken ? 'set' : 'none',
  });
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

/** Which kind of path `path` is (see admin-auth.ts), for the checks before it is answered. */
function kindOf(path: string): PathKind {
  if (path === '/healthz' || path === '/readyz' || path === '/' || path === '/status')
    return 'open';
  return 'read';
}

/** The request's path; undefined for a target that is not a path (answered 400). */
function pathOf(target: string | undefined): URL | undefined {
  if (target === undefined || !target.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    return new URL(`http://admin${target}`);
  } catch {
    return undefined;
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  view: AdminView,
  auth: AdminAuth,
  logger: Logger,
): Promise<void> {
  const url = pathOf(req.url);
  if (url === undefined) {
    send(res, 400, 'text/plain', 'bad request target\n');
    return;
  }
  const path = url.pathname;
  const control = /^\/backends\/([^/]+)\/(drain|undrain)$/.exec(path);
  if (control !== null) {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    const verdict = auth.check(req, 'control');
    if (!verdict.ok) {
      refuse(res, verdict.status, verdict.reason);
      return;
    }
    const id = decodePathSegment(control[1] ?? '');
    if (id === undefined) {
      send(res, 400, 'text/plain', 'bad percent-escape in the backend id\n');
      return;
    }
    const drained = control[2] === 'drain';
    const matched = view.setDrain(id, url.searchParams.get('listener') ?? undefined, drained);
    if (matched === 0) {
      send(res, 404, 'text/plain', `no backend ${JSON.stringify(id)}\n`);
      return;
    }
    logger.info(drained ? 'backend drained by admin' : 'backend undrained by admin', {
      backend: id,
      peer: req.socket.remoteAddress,
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
  const verdict = auth.check(req, kindOf(path));
  if (!verdict.ok) {
    refuse(res, verdict.status, verdict.reason);
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
      send(res, 200, 'application/json', JSON.stringify(await view.backends(), null, 2) + '\n');
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

/** `decodeURIComponent`, or undefined for a malformed escape (a client error, not ours). */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function refuse(res: ServerResponse, status: 401 | 403, reason: string): void {
  if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="headway-admin"');
  send(res, status, 'text/plain', `${status === 401 ? 'unauthorized' : 'forbidden'}: ${reason}\n`);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
