/**
 * Types and wire constants of the HAProxy PROXY protocol, versions 1 (text)
 * and 2 (binary). Spec: https://github.com/haproxy/haproxy/blob/master/doc/proxy-protocol.txt
 */

/** The peer addresses a PROXY header carries, as the sending proxy saw them. */
export interface ProxyAddressInfo {
  /**
   * The family the addresses should be sent as. The addresses decide the
   * wire family: two IPv4 (or IPv4-mapped IPv6) addresses go out as TCP4,
   * anything else as TCP6 with IPv4 addresses in mapped form. `tcp4` with a
   * real IPv6 address is an error.
   */
  readonly family: 'tcp4' | 'tcp6';
  /** The client: `socket.remoteAddress` of the accepted connection. */
  readonly sourceAddress: string;
  readonly sourcePort: number;
  /** The address the client connected to: `socket.localAddress`. */
  readonly destAddress: string;
  readonly destPort: number;
}

/**
 * A header that names the original connection. Addresses are in Node's
 * canonical text form (`socket.remoteAddress` style, lowercase, IPv4-mapped
 * IPv6 as `::ffff:1.2.3.4`), whatever form the sender used.
 */
export interface ProxiedHeader extends ProxyAddressInfo {
  readonly command: 'proxy';
  readonly version: 1 | 2;
  /** v2 `PP2_TYPE_AUTHORITY` TLV: the host name the client asked for (TLS SNI), if sent. */
  readonly authority?: string;
}

/**
 * A header that says "use the real connection's addresses": v2 LOCAL (a
 * health check from the proxy itself), v1 `UNKNOWN`, and v2 PROXY with a
 * family Headway does not carry (UNSPEC, UDP, UNIX), which the spec says a
 * receiver treats as UNSPEC.
 */
export interface LocalHeader {
  readonly command: 'local';
  readonly version: 1 | 2;
  readonly family?: undefined;
  readonly sourceAddress?: undefined;
  readonly sourcePort?: undefined;
  readonly destAddress?: undefined;
  readonly destPort?: undefined;
  readonly authority?: undefined;
}

/** A decoded PROXY header; narrow on `command` to get the addresses. */
export type ProxyHeader = ProxiedHeader | LocalHeader;

/** What {@link ProxyHeaderReader.push} returns. */
export type ReadResult =
  /** The header is not complete yet: push the next chunk. */
  | { readonly kind: 'need-more' }
  /**
   * The header is complete. `rest` is what followed it in the last chunk
   * (possibly empty): forward it to the backend before any later chunk.
   */
  | { readonly kind: 'done'; readonly header: ProxyHeader; readonly rest: Buffer }
  /** Not a valid PROXY header: the spec says to close the connection. */
  | { readonly kind: 'error'; readonly reason: string };

/** The 12 bytes every v2 header starts with. */
export const V2_SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);

/** `PROXY `: how every v1 header starts. */
export const V1_PREFIX: Readonly<Uint8Array> = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20);

/** The longest v1 line, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses). */
export const V1_MAX_BYTES = 107;

/** Signature, version/command, family/protocol, 16-bit length. */
export const V2_FIXED_BYTES = 16;
