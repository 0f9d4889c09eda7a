import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchSniPattern } from './match-sni-pattern.ts';

const SEED = 20_250_611;
const PATTERN = '{hostname}.db.example.com';

describe('matchSniPattern', () => {
  it.each<[pattern: string, serverName: string, expected: string | undefined]>([
    [PATTERN, 'db-1.db.example.com', 'db-1'],
    [PATTERN, 'DB-1.DB.Example.COM', 'db-1'],
    ['{HostName}.DB.example.com', 'db-1.db.example.com', 'db-1'],
    [PATTERN, 'x.db.example.com', 'x'],
    [PATTERN, 'my_pod.db.example.com', 'my_pod'],
    [PATTERN, `${'a'.repeat(63)}.db.example.com`, 'a'.repeat(63)],
    ['pg-{hostname}.example.com', 'pg-db-1.example.com', 'db-1'],
    ['{hostname}-pg.example.com', 'db-1-pg.example.com', 'db-1'],
    ['db.{hostname}', 'db.primary', 'primary'],
    ['{hostname}', 'primary', 'primary'],
    // The name does not fit.
    [PATTERN, 'db.example.com', undefined],
    [PATTERN, '.db.example.com', undefined],
    [PATTERN, 'a.b.db.example.com', undefined],
    [PATTERN, 'db-1.db.example.com.', undefined],
    [PATTERN, 'db-1.db.example.org', undefined],
    [PATTERN, 'db-1.xdb.example.com', undefined],
    [PATTERN, 'db-1db.example.com', undefined],
    [PATTERN, '', undefined],
    [PATTERN, `${'a'.repeat(64)}.db.example.com`, undefined],
    [PATTERN, 'db 1.db.example.com', undefined],
    [PATTERN, 'db/1.db.example.com', undefined],
    ['pg-{hostname}.example.com', 'pg-.example.com', undefined],
    ['{hostname}', 'a.b', undefined],
    // Non-ASCII: no Unicode case folding (U+212A KELVIN SIGN lowercases to "k").
    [PATTERN, '\u212a.db.example.com', undefined],
    [PATTERN, 'caf\u00e9.db.example.com', undefined],
    ['{hostname}.\u212a.com', 'a.k.com', undefined],
    // The pattern does not hold exactly one placeholder.
    ['db.example.com', 'db.example.com', undefined],
    ['{hostname}.{hostname}.com', 'a.b.com', undefined],
    ['{host}.db.example.com', 'a.db.example.com', undefined],
    ['', '', undefined],
  ])('%s with %s is %s', (pattern, serverName, expected) => {
    expect(matchSniPattern(pattern, serverName)).toBe(expected);
  });

  const label = fc.stringMatching(/^[a-z0-9_-]{1,63}$/);
  const upperAnywhere = (s: string, flips: boolean[]): string =>
    Array.from(s, (c, i) => (flips[i % Math.max(flips.length, 1)] ? c.toUpperCase() : c)).join('');

  it('returns the label, lowercased, for any label and any casing', () => {
    fc.assert(
      fc.property(label, fc.array(fc.boolean(), { maxLength: 40 }), (name, flips) => {
        const serverName = upperAnywhere(`${name}.db.example.com`, flips);
        expect(matchSniPattern(PATTERN, serverName)).toBe(name);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('never returns a dotted or empty label, and never throws', () => {
    const text = fc.string({ maxLength: 40 });
    const pattern = fc.oneof(
      text,
      fc.tuple(text, text).map(([a, b]) => `${a}{hostname}${b}`),
      fc.constant(PATTERN),
    );
    fc.assert(
      fc.property(
        pattern,
        fc.oneof(
          text,
          text.map((t) => `${t}.db.example.com`),
        ),
        (p, name) => {
          const result = matchSniPattern(p, name);
          if (result !== undefined) {
            expect(result).toMatch(/^[a-z0-9_-]{1,63}$/);
            expect(name.toLowerCase()).toContain(result);
          }
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
