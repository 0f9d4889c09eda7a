import { describe, expect, it } from 'vitest';
import { groupForServerName } from './server-name-routes.ts';

const g = (...serverNames: string[]) => ({ serverNames, rejectShare: 0 });

describe('groupForServerName', () => {
  const groups = [g('*.example.com'), g('a.example.com'), g('*.b.example.com'), g()];
  it.each([
    ['a.example.com', 1],
    ['A.Example.COM', 1],
    ['x.b.example.com', 2],
    ['z.example.com', 0],
    ['other.org', 3],
    [undefined, 3],
  ])('%s goes to route %s (exact, then the longest wildcard, then the catch-all)', (name, want) => {
    expect(groupForServerName(groups, name)).toBe(want);
  });

  it('finds no route for a name none takes when there is no catch-all', () => {
    expect(groupForServerName([g('a.example.com')], 'b.example.com')).toBeUndefined();
    expect(groupForServerName([g('a.example.com')], undefined)).toBeUndefined();
    expect(groupForServerName([g('*.example.com')], 'example.com')).toBeUndefined();
  });
});
