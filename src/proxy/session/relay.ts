import { LARGE_READ, acquireLarge, copyOfScratch, releaseLarge, scratch } from '../read-buffers.ts';
import type { TcpStream } from '../tcp-stream.ts';

/**
 * The relay: what one read becomes. Module-level functions over the
 * session's two streams and its pinned buffers, so that a read costs no
 * allocation beyond what read-buffers.ts describes (a copy of a small read).
 */

/** Which way bytes go: index into PinnedBuffers. */
export type Direction = typeof CLIENT_TO_BACKEND | typeof BACKEND_TO_CLIENT;
export const CLIENT_TO_BACKEND = 0;
export const BACKEND_TO_CLIENT = 1;

/**
 * Per direction, the large read buffers that writes not yet flushed still
 * reference (null: none). One pair per session, allocated with it.
 */
export type PinnedBuffers = [Buffer[] | null, Buffer[] | null];

/**
 * Write what `from` read into `to`, pausing `from` when `to` is backed up,
 * and return the buffer for the next read (see read-buffers.ts). Bytes in
 * the shared scratch are written as a copy. A large buffer of this
 * connection's that the write still references (not flushed synchronously)
 * is pinned until `to` drains; otherwise it is reused or returned.
 */
export function relay(
  from: TcpStream,
  to: TcpStream,
  nread: number,
  buf: Buffer,
  pinned: PinnedBuffers,
  dir: Direction,
): Buffer {
  if (pinned[dir] !== null && to.writableLength === 0) releasePinned(pinned, dir);
  if (buf === scratch) {
    if (nread < LARGE_READ) {
      if (!to.write(copyOfScratch(nread))) from.pause();
      return scratch;
    }
    // A full read: a bulk transfer starts; carry on in a large buffer of our own.
    const own = acquireLarge();
    scratch.copy(own);
    return writeOwn(from, to, own, nread, pinned, dir);
  }
  return writeOwn(from, to, buf, nread, pinned, dir);
}

function writeOwn(
  from: TcpStream,
  to: TcpStream,
  own: Buffer,
  nread: number,
  pinned: PinnedBuffers,
  dir: Direction,
): Buffer {
  if (!to.write(nread === own.length ? own : own.subarray(0, nread))) from.pause();
  const flushed = to.writableLength === 0;
  if (!flushed) (pinned[dir] ??= []).push(own);
  if (nread < own.length) {
    // A short read: the transfer paused; back to the shared scratch.
    if (flushed) releaseLarge(own);
    return scratch;
  }
  return flushed ? own : acquireLarge();
}

/** No write references the pinned buffers of `dir` any more (its stream drained or closed). */
export function releasePinned(pinned: PinnedBuffers, dir: Direction): void {
  const list = pinned[dir];
  if (list === null) return;
  pinned[dir] = null;
  for (const b of list) releaseLarge(b);
}
