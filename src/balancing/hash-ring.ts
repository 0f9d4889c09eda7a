import { murmur3, murmur3Int } from './hash.ts';

/**
 * Points on the ring of the heaviest backend; lighter ones get points in
 * proportion to weight (at least one). A backend's share of the ring varies
 * by about 1/√points: with 1024, ten equal backends spread 100,000 keys
 * within about 5 % of the mean. A backend's points are a fixed sequence of
 * hashes of its id, of which it uses a prefix, so a weight change adds or
 * removes only its own points.
 */
export const RING_POINTS = 1024;

/** Seed of the per-id hash that the point hashes derive from; part of the sticky contract. */
const RING_SEED = 0x6865_6164; // "head"

export interface RingMember {
  readonly id: string;
  readonly weight: number;
}

/**
 * A consistent-hashing ring (Karger et al.; Ketama, Envoy `RING_HASH`) over
 * backend ids. Removing a member moves exactly the keys on its points, each
 * to the next point clockwise (its next choice); adding one moves exactly
 * the keys on the new points. Built from ids and weights only, in id order,
 * so every replica that sees the same set builds the same ring.
 */
export class HashRing {
  /** Members sorted by id; owners index into it. */
  readonly members: readonly RingMember[];
  /** Point positions, ascending. */
  readonly positions: Uint32Array;
  /** Owner (index into `members`) of each point. */
  readonly owners: Int32Array;

  constructor(members: readonly RingMember[]) {
    const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let maxWeight = 0;
    for (const m of sorted) maxWeight = Math.max(maxWeight, m.weight);
    const counts = sorted.map((m) => Math.max(1, Math.round((RING_POINTS * m.weight) / maxWeight)));
    const total = counts.reduce((s, c) => s + c, 0);
    const positions = new Uint32Array(total);
    const owners = new Int32Array(total);
    let p = 0;
    sorted.forEach((m, owner) => {
      const base = murmur3(m.id, RING_SEED);
      const count = counts[owner] as number;
      for (let j = 0; j < count; j++) {
        positions[p] = murmur3Int(j, base);
        owners[p] = owner;
        p++;
      }
    });
    sortByPosition(positions, owners);
    this.members = sorted;
    this.positions = positions;
    this.owners = owners;
  }

  /** Index of the first point at or after `hash`, wrapping around (O(log points)). */
  find(hash: number): number {
    const pos = this.positions;
    let lo = 0;
    let hi = pos.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((pos[mid] as number) < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === pos.length ? 0 : lo;
  }
}

/**
 * Stable LSD radix sort of the points by position (two 16-bit passes): a
 * thousand backends make a million points, which this sorts in milliseconds.
 * Stability keeps equal positions in id order, so collisions resolve the
 * same way everywhere.
 */
function sortByPosition(positions: Uint32Array, owners: Int32Array): void {
  const n = positions.length;
  let srcPos: Uint32Array = positions;
  let srcOwn: Int32Array = owners;
  let dstPos: Uint32Array = new Uint32Array(n);
  let dstOwn: Int32Array = new Int32Array(n);
  const counts = new Uint32Array(65_537);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const d = ((srcPos[i] as number) >>> shift) & 0xffff;
      counts[d + 1] = (counts[d + 1] as number) + 1;
    }
    for (let d = 0; d < 65_536; d++)
      counts[d + 1] = (counts[d + 1] as number) + (counts[d] as number);
    for (let i = 0; i < n; i++) {
      const v = srcPos[i] as number;
      const d = (v >>> shift) & 0xffff;
      const at = counts[d] as number;
      counts[d] = at + 1;
      dstPos[at] = v;
      dstOwn[at] = srcOwn[i] as number;
    }
    [srcPos, dstPos] = [dstPos, srcPos];
    [srcOwn, dstOwn] = [dstOwn, srcOwn];
  }
  // After two passes the sorted data is back in the original arrays.
}
