import { describe, expect, it } from 'vitest';
import { murmur3, murmur3Int } from './hash.ts';

describe('murmur3', () => {
  // Values from the reference MurmurHash3_x86_32 (C, smhasher) on the UTF-8 bytes.
  it.each([
    ['', 0, 0],
    ['', 42, 142_593_372],
    ['hello', 0, 613_153_351],
    ['hello', 42, 3_806_057_185],
    ['The quick brown fox jumps over the lazy dog', 0, 776_992_547],
    ['The quick brown fox jumps over the lazy dog', 42, 880_582_914],
    ['10.0.0.1', 0, 3_963_167_075],
    ['redis-0', 42, 4_257_488_925],
    ['pod-é', 0, 1_542_407_566],
    ['pod-é', 42, 2_914_033_051],
  ])('murmur3(%j, %d) = %d, as the reference implementation', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
  });

  it.each([
    [7, 1, 3_588_111_237],
    [40_000, 123, 2_276_225_215],
  ])('murmur3Int(%d, %d) = %d (4 little-endian bytes)', (value, seed, expected) => {
    expect(murmur3Int(value, seed)).toBe(expected);
  });
});
