/**
 * MurmurHash3 (x86, 32-bit), the stable hash behind sticky balancing: ring
 * points come from backend ids and lookups from client addresses, so every
 * Headway replica (and every version) must compute the same values. The test
 * pins them against the reference C implementation; changing this function
 * remaps every sticky client.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(h: number, tail: number): number {
  let k = Math.imul(tail, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function hashBytes(bytes: Uint8Array, seed: number): number {
  const len = bytes.length;
  const blocks = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    h = mixBlock(
      h,
      (bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24),
    );
  }
  const rest = len & 3;
  if (rest > 0) {
    let tail = bytes[i] as number;
    if (rest > 1) tail |= (bytes[i + 1] as number) << 8;
    if (rest > 2) tail |= (bytes[i + 2] as number) << 16;
    h = mixTail(h, tail);
  }
  return finish(h, len);
}

/** MurmurHash3_x86_32 of the UTF-8 bytes of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string, seed: number): number {
  // Ids and addresses are ASCII: hash their char codes as bytes without encoding.
  if (!isAscii(text)) return hashBytes(Buffer.from(text, 'utf8'), seed);
  const len = text.length;
  const blocks = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    h = mixBlock(
      h,
      text.charCodeAt(i) |
        (text.charCodeAt(i + 1) << 8) |
        (text.charCodeAt(i + 2) << 16) |
        (text.charCodeAt(i + 3) << 24),
    );
  }
  const rest = len & 3;
  if (rest > 0) {
    let tail = text.charCodeAt(i);
    if (rest > 1) tail |= text.charCodeAt(i + 1) << 8;
    if (rest > 2) tail |= text.charCodeAt(i + 2) << 16;
    h = mixTail(h, tail);
  }
  return finish(h, len);
}

/** MurmurHash3_x86_32 of `value` as 4 little-endian bytes. */
export function murmur3Int(value: number, seed: number): number {
  return finish(mixBlock(seed | 0, value | 0), 4);
}
