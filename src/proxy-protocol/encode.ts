/**
 * PROXY protocol encoders for the connecting side: the bytes Headway writes
 * to a backend before relaying the client's data.
 */
import { formatIPv4, formatIPv6, parseIp } from '../core/cidr.ts';
import { V2_FIXED_BYTES, V2_SIGNATURE, type ProxyAddressInfo } from './header.ts';
import { ProxyHeaderError } from '../core/errors.ts';

/**
 * `PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n` (or TCP6). Throws if an address
 * is not an IP literal, a port is not 0-65535, or `family` is `tcp4` with a
 * real IPv6 address.
 */
export function encodeV1(info: ProxyAddressInfo): Buffer {
  const wire = resolve(info);
  const source = wire.tcp4 ? formatIPv4(wire.src[3] ?? 0) : formatWords(wire.src);
  const dest = wire.tcp4 ? formatIPv4(wire.dst[3] ?? 0) : formatWords(wire.dst);
  const line = `PROXY ${wire.tcp4 ? 'TCP4' : 'TCP6'} ${source} ${dest} ${info.sourcePort} ${info.destPort}\r\n`;
  return Buffer.from(line, 'latin1');
}

/** `PROXY UNKNOWN\r\n`: the v1 header for a connection whose addresses are unknown. */
export function encodeV1Unknown(): Buffer {
  return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
}

/**
 * The v2 binary header with command PROXY, TCP over IPv4 (`0x11`, 28 bytes)
 * or IPv6 (`0x21`, 52 bytes), and no TLVs. Throws like {@link encodeV1}.
 */
export function encodeV2(info: ProxyAddressInfo): Buffer {
  const wire = resolve(info);
  const addressBytes = wire.tcp4 ? 12 : 36;
  const out = Buffer.allocUnsafe(V2_FIXED_BYTES + addressBytes);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x21;
  out[13] = wire.tcp4 ? 0x11 : 0x21;
  out.writeUInt16BE(addressBytes, 14);
  let at = V2_FIXED_BYTES;
  if (wire.tcp4) {
    out.writeInt32BE(wire.src[3] ?? 0, at);
    out.writeInt32BE(wire.dst[3] ?? 0, at + 4);
    at += 8;
  } else {
    for (const words of [wire.src, wire.dst]) {
      for (let i = 0; i < 4; i++, at += 4) out.writeInt32BE(words[i] ?? 0, at);
    }
  }
  out.writeUInt16BE(info.sourcePort, at);
  out.writeUInt16BE(info.destPort, at + 2);
  return out;
}

/**
 * The 16-byte v2 header with command LOCAL and family UNSPEC: "use the real
 * connection's addresses". For health checks, and for connections whose
 * client address is unknown.
 */
export function encodeV2Local(): Buffer {
  const out = Buffer.alloc(V2_FIXED_BYTES);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x20;
  return out;
}

/**
 * The header to send for `info` in the given version; `undefined` (the
 * client's addresses are gone, e.g. the socket was destroyed) gives v1
 * `UNKNOWN` or v2 LOCAL.
 */
export function encodeProxyHeader(version: 1 | 2, info: ProxyAddressInfo | undefined): Buffer {
  if (version === 1) return info ? encodeV1(info) : encodeV1Unknown();
  return info ? encodeV2(info) : encodeV2Local();
}

/** The parts of a `net.Socket` that {@link proxyAddressInfo} reads. */
export interface SocketAddresses {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

/**
 * The address info of an accepted client socket (client = source, listener
 * address = destination), or `undefined` if Node no longer knows them.
 */
export function proxyAddressInfo(socket: SocketAddresses): ProxyAddressInfo | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (
    remoteAddress === undefined ||
    remotePort === undefined ||
    localAddress === undefined ||
    localPort === undefined
  ) {
    return undefined;
  }
  const v4 = isIPv4Like(remoteAddress) && isIPv4Like(localAddress);
  return {
    family: v4 ? 'tcp4' : 'tcp6',
    sourceAddress: remoteAddress,
    sourcePort: remotePort,
    destAddress: localAddress,
    destPort: localPort,
  };
}

interface Wire {
  readonly tcp4: boolean;
  readonly src: Int32Array;
  readonly dst: Int32Array;
}

function resolve(info: ProxyAddressInfo): Wire {
  const src = new Int32Array(4);
  const dst = new Int32Array(4);
  parseAddress(info.sourceAddress, src, 'source');
  parseAddress(info.destAddress, dst, 'destination');
  checkPort(info.sourcePort, 'source');
  checkPort(info.destPort, 'destination');
  const tcp4 = isMapped(src) && isMapped(dst);
  if (!tcp4 && info.family === 'tcp4') {
    throw new ProxyHeaderError(
      `PROXY header: family tcp4 with IPv6 addresses ${info.sourceAddress} and ${info.destAddress}`,
    );
  }
  return { tcp4, src, dst };
}

function parseAddress(address: string, out: Int32Array, which: string): void {
  // Node may report a link-local peer with its zone (`fe80::1%eth0`); the wire has no room for it.
  const zone = address.indexOf('%');
  const end = zone < 0 ? address.length : zone;
  if (parseIp(address, out, 0, end) === 0) {
    throw new ProxyHeaderError(`PROXY header: ${which} address "${address}" is not an IP address`);
  }
}

function checkPort(port: number, which: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ProxyHeaderError(`PROXY header: ${which} port ${port} is not 0-65535`);
  }
}

function isMapped(words: Int32Array): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

const scratch = new Int32Array(4);

function isIPv4Like(address: string): boolean {
  const zone = address.indexOf('%');
  const end = zone < 0 ? address.length : zone;
  return parseIp(address, scratch, 0, end) !== 0 && isMapped(scratch);
}

function formatWords(words: Int32Array): string {
  return formatIPv6(words[0], words[1], words[2], words[3]);
}
