import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { readTokenFile, type AdminAuthMode } from '../config/admin-token.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';

/**
 * Who may do what on the admin endpoint. Three kinds of path:
 * - `probe` (`/healthz`, `/readyz`) and the status page's HTML (no data in it):
 *   always open, so the kubelet reaches them on the pod IP;
 * - `read` (`/backends`, `/pods`, `/metrics`): open with `--admin-auth control`
 *   (the default), token required with `--admin-auth all`;
 * - `control` (`POST /backends/{id}/drain|undrain`): never cross-site, and
 *   the token from every peer when one is set (loopback only when none is).
 */
export type PathKind = 'open' | 'read' | 'control';

export interface AdminAuthOptions {
  /** The bearer token, or undefined when none is set. */
  readonly token?: string | undefined;
  readonly mode?: AdminAuthMode;
}

/** The settings an admin token may come from (process options). */
export interface AdminTokenSettings {
  readonly adminToken: string | null;
  readonly adminTokenFile: string | null;
  readonly adminAuth: AdminAuthMode;
}

export type Verdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

const OK: Verdict = { ok: true };

/**
 * The admin options in force: the token from `--admin-token` (or
 * HEADWAY_ADMIN_TOKEN) or `--admin-token-file`, never both, and a token
 * whenever `--admin-auth all` asks for one. Throws ConfigError (exit 2).
 */
export function adminAuthFrom(settings: AdminTokenSettings): AdminAuthOptions {
  if (settings.adminToken !== null && settings.adminTokenFile !== null) {
    throw new ConfigError(
      '--admin-token-file',
      'cannot be combined with --admin-token (HEADWAY_ADMIN_TOKEN); give the token one way',
    );
  }
  let token: string | undefined;
  if (settings.adminTokenFile !== null) {
    try {
      token = readTokenFile(settings.adminTokenFile);
    } catch (err) {
      throw new ConfigError('--admin-token-file', errorMessage(err), { cause: err });
    }
  } else if (settings.adminToken !== null) {
    token = settings.adminToken;
  }
  if (settings.adminAuth === 'all' && token === undefined) {
    throw new ConfigError(
      '--admin-auth',
      'all needs a token (HEADWAY_ADMIN_TOKEN or --admin-token-file)',
    );
  }
  return { token, mode: settings.adminAuth };
}

/**
 * Decides each admin request. Tokens are compared as HMAC-SHA-256 digests
 * under a key drawn at start with `timingSafeEqual`, so neither the time
 * taken nor an early length check tells a caller how much of a guess was
 * right or how long the token is.
 */
export class AdminAuth {
  readonly mode: AdminAuthMode;
  readonly #key = randomBytes(32);
  readonly #wanted: Buffer | undefined;

  constructor(opts: AdminAuthOptions) {
    this.mode = opts.mode ?? 'control';
    this.#wanted = opts.token === undefined ? undefined : this.#digest(opts.token);
  }

  get hasToken(): boolean {
    return this.#wanted !== undefined;
  }

  #digest(text: string): Buffer {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest();
  }

  /** Whether the request carries `Authorization: Bearer <the token>` (scheme case-insensitive, RFC 9110 §11.1). */
  hasValidToken(req: IncomingMessage): boolean {
    if (this.#wanted === undefined) return false;
    const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
    const given = this.#digest(m?.[1] ?? '');
    // Always compare (even without a header), so a missing header costs the same time.
    return timingSafeEqual(given, this.#wanted) && m !== null;
  }

  check(req: IncomingMessage, kind: PathKind): Verdict {
    if (kind === 'open') return OK;
    if (kind === 'read') {
      if (this.mode === 'control' || this.hasValidToken(req)) return OK;
      return unauthorized('this path needs the admin token (--admin-auth all)');
    }
    const site = crossSite(req);
    if (site !== undefined) return { ok: false, status: 403, reason: site };
    if (this.#wanted !== undefined) {
      // Set, the token is required from every peer: a mesh sidecar or
      // `kubectl port-forward` makes every peer look like loopback.
      return this.hasValidToken(req) ? OK : unauthorized('runtime control needs the admin token');
    }
    if (!isLoopback(req.socket.remoteAddress ?? '')) {
      return {
        ok: false,
        status: 403,
        reason: 'runtime control needs a loopback peer, or set an admin token',
      };
    }
    // No token: the peer's address is the only credential, so the request
    // must also be one a browser page on another site cannot make or aim here.
    const host = hostProblem(req);
    if (host !== undefined) return { ok: false, status: 403, reason: host };
    // A non-simple header works as well as JSON: a page on another site needs a preflight for it.
    if (!isJson(req) && req.headers.authorization === undefined)
      return {
        ok: false,
        status: 403,
        reason:
          'runtime control needs Content-Type: application/json (or an Authorization header), which a cross-site form cannot send',
      };
    return OK;
  }
}

function unauthorized(reason: string): Verdict {
  return { ok: false, status: 401, reason };
}

export function isLoopback(peer: string): boolean {
  return peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
}

function isJson(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * A browser tells where a request comes from: `Sec-Fetch-Site` (every
 * current browser) and `Origin` (on every POST). A request made by a page
 * of another origin is refused; tools like curl send neither.
 */
function crossSite(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return 'cross-site request refused (Origin is not a URL)';
  }
  if (originHost === '' || originHost.toLowerCase() !== (req.headers.host ?? '').toLowerCase()) {
    return 'cross-site request refused (Origin does not match Host)';
  }
  return undefined;
}

/**
 * Without a token, only an IP literal or `localhost` may be named in `Host`:
 * a DNS name could be an attacker's that resolves to 127.0.0.1 (DNS
 * rebinding), making its page "same-origin" with this endpoint.
 */
function hostProblem(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (host === undefined) return undefined; // HTTP/1.0 tools; browsers always send Host.
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return 'bad Host header';
  }
  const bare = name.replace(/^\[|\]$/g, '');
  if (name === 'localhost' || isIP(bare) !== 0) return undefined;
  return `Host "${name}" refused for runtime control without a token: use an IP address or localhost`;
}
