/**
 * Read buffers for sockets created with `onread` (bytes land in a buffer we
 * supply instead of a fresh allocation per read, so bulk transfers make no
 * garbage). Two sizes: a socket starts with a small buffer of its own, moves
 * to a large pooled one once a read fills it (bulk), and back to small after a
 * short read, so an idle connection holds 2 KiB rather than 64 KiB.
 */
export const SMALL_READ = 2048;
export const LARGE_READ = 65_536;
/** Free large buffers kept for reuse (4 MiB); beyond that they are left to GC. */
const POOL_LIMIT = 64;

const pool: Buffer[] = [];

export function acquireLarge(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(LARGE_READ);
}

export function newSmall(): Buffer {
  return Buffer.allocUnsafeSlow(SMALL_READ);
}

/** Return a buffer no write references any more. Small buffers are simply dropped. */
export function releaseBuffer(buf: Buffer): void {
  if (buf.length === LARGE_READ && pool.length < POOL_LIMIT) pool.push(buf);
}

/** The buffer size to read into next, given how full the last read was. */
export function nextSizeAfter(nread: number, current: Buffer): number {
  if (nread === current.length) return LARGE_READ;
  return nread <= SMALL_READ ? SMALL_READ : current.length;
}
