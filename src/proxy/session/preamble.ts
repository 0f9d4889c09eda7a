import { unmapIPv4 } from '../../core/address.ts';
import type { Outcome } from '../../core/outcome.ts';
import { ProxyHeaderReader } from '../../proxy-protocol/index.ts';
import { ClientHelloReader, matchSniPattern } from '../../sni/index.ts';

/** A PROXY protocol header must be complete within this long (the spec asks for at least 3 s). */
export const PROXY_HEADER_TIMEOUT_MS = 3000;

/** A TLS ClientHello must be complete within this long (`--route-by sni`). */
export const SNI_TIMEOUT_MS = 5000;

/**
 * What a client must send before its connection can go anywhere: a PROXY
 * protocol header (who the client really is), or a TLS ClientHello (which
 * backend it names). The session feeds it client bytes until it is settled,
 * under one deadline, and treats both the same way; only what a settled
 * preamble yields differs (see the `kind` of each).
 */
export interface Preamble {
  /** How long the client gets to send it. */
  readonly timeoutMs: number;
  /** How the connection ends when it does not come in time or the client sends FIN first. */
  readonly missing: Outcome;
  /**
   * Client bytes (the read buffer: copied if kept). False while more are
   * needed; true once settled, `refusal` and `early` then say how it went.
   */
  push(chunk: Buffer): boolean;
  /** Once settled: the outcome to close the connection with, or null to go on. */
  readonly refusal: Outcome | null;
  /** Once settled: client bytes read that are for the backend (none: undefined). */
  readonly early: Buffer | undefined;
}

/** The addresses a PROXY protocol header gave. */
export interface ProxiedAddresses {
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly destAddress: string;
  readonly destPort: number;
}

/** Reads a PROXY protocol header (`--accept-proxy-protocol`). */
export class ProxyHeaderPreamble implements Preamble {
  readonly kind = 'proxy-header';
  readonly timeoutMs = PROXY_HEADER_TIMEOUT_MS;
  readonly missing = 'proxy_protocol_error';
  refusal: Outcome | null = null;
  early: Buffer | undefined;
  /** The client and destination the header named; undefined for a `LOCAL` header (health checks). */
  proxied: ProxiedAddresses | undefined;
  readonly #reader = new ProxyHeaderReader();

  push(chunk: Buffer): boolean {
    // The reader may keep what it is given until the header is complete; our read buffer is reused.
    const result = this.#reader.push(Buffer.from(chunk));
    if (result.kind === 'need-more') return false;
    if (result.kind === 'error') {
      this.refusal = 'proxy_protocol_error';
      return true;
    }
    const h = result.header;
    if (h.command === 'proxy') {
      this.proxied = {
        clientAddress: unmapIPv4(h.sourceAddress),
        clientPort: h.sourcePort,
        destAddress: h.destAddress,
        destPort: h.destPort,
      };
    }
    if (result.rest.length > 0) this.early = Buffer.from(result.rest);
    return true;
  }
}

/** Reads a TLS ClientHello (without terminating TLS) for its server name (`--route-by sni`). */
export class ServerNamePreamble implements Preamble {
  readonly kind = 'server-name';
  readonly timeoutMs = SNI_TIMEOUT_MS;
  readonly missing = 'rejected';
  refusal: Outcome | null = null;
  early: Buffer | undefined;
  /** The backend the server name designates (see BackendPool.pickByName), if it fits the pattern. */
  target: string | undefined;
  /** The server name the client sent, if any (a listener with several routes chooses by it). */
  serverName: string | undefined;
  readonly #reader = new ClientHelloReader();
  readonly #pattern: string | null;
  readonly #strict: boolean;

  /**
   * @param pattern `--sni-pattern`, e.g. `{hostname}.db.example.com`; null when the name only
   *   chooses a route (Gateway TLSRoutes), not a pod
   * @param strict `--sni-strict`: refuse a name that does not fit the pattern
   */
  constructor(pattern: string | null, strict: boolean) {
    this.#pattern = pattern;
    this.#strict = strict;
  }

  push(chunk: Buffer): boolean {
    // The reader keeps what it is given; our read buffer is reused.
    const result = this.#reader.push(Buffer.from(chunk));
    if (result.kind === 'need-more') return false;
    if (result.kind === 'error') {
      this.refusal = 'rejected';
      return true;
    }
    // Every byte read so far goes to the backend: TLS continues end to end.
    this.early = this.#reader.buffered();
    this.serverName = result.serverName;
    const name =
      result.serverName === undefined || this.#pattern === null
        ? undefined
        : matchSniPattern(this.#pattern, result.serverName);
    if (name === undefined && this.#strict) this.refusal = 'no_backend';
    this.target = name;
    return true;
  }
}

export type AnyPreamble = ProxyHeaderPreamble | ServerNamePreamble;
