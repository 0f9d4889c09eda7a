/**
 * Read buffers for sockets created with `onread` (bytes land in a buffer we
 * supply instead of a fresh allocation per read).
 *
 * An idle connection must hold no buffer of its own (issue #11: ≤ 4 KiB per
 * idle proxied connection), so every socket that is not in a bulk transfer
 * reads into one shared scratch buffer. Reads are delivered one at a time on
 * this thread, so the scratch is free again once the read callback returns,
 * except that a write libuv could not finish at once keeps pointing at the
 * bytes it was given: so bytes read into the scratch are copied before they
 * are written (small reads: a slice of Node's allocation pool).
 *
 * A read that fills the scratch means a bulk transfer: that socket moves to a
 * large buffer of its own from a pool, written without a copy and reused only
 * once the write has flushed, and goes back to the scratch after a short read.
 */
/**
 * 60 KiB, not 64: a read of 64 KiB is written on as one 64 KiB write, which
 * TCP sends as a full segment (loopback MSS 65,483 B; GSO caps at 64 KiB)
 * plus a 53-byte runt, so every chunk costs two packets. Measured with iperf3
 * through the proxy on one core: 64 KiB reads cost 750–820 µs of proxy CPU
 * per MB (9.5–10 Gbit/s); 48–60 KiB reads 285–320 µs (18–20 Gbit/s); 16 KiB
 * 390–420 µs (more system calls).
 */
export const LARGE_READ = 61_440;
/** Free large buffers kept for reuse (4 MiB); beyond that they are left to GC. */
const POOL_LIMIT = 64;

const pool: Buffer[] = [];

/** The buffer every socket not in a bulk transfer reads into. */
export const scratch: Buffer = Buffer.allocUnsafeSlow(LARGE_READ);

export function acquireLarge(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(LARGE_READ);
}

/** Return a large buffer no write references any more. */
export function releaseLarge(buf: Buffer): void {
  if (pool.length < POOL_LIMIT) pool.push(buf);
}

/** A private copy of the first `nread` scratch bytes, safe to hand to a write. */
export function copyOfScratch(nread: number): Buffer {
  const copy = Buffer.allocUnsafe(nread);
  scratch.copy(copy, 0, 0, nread);
  return copy;
}
