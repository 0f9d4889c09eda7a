import { describe, expect, it } from 'vitest';
import { addressOf, chooseMaster, type MasterAnswer } from './choose-master.ts';

function answer(sentinel: string, master: string, epoch: number, changedAtMs = 0): MasterAnswer {
  const [host = '', port = '0'] = master.split(':');
  return { sentinel, host, port: Number(port), epoch, changedAtMs };
}

const pick = (answers: MasterAnswer[], current?: string): string | undefined => {
  const a = chooseMaster(answers, current);
  return a === undefined ? undefined : addressOf(a);
};

describe('chooseMaster (sentinels that disagree)', () => {
  it('nothing to choose from without answers', () => {
    expect(chooseMaster([], 'a:1')).toBeUndefined();
  });

  it('the highest config-epoch wins, even against a majority (the leader right after the promotion)', () => {
    expect(
      pick([answer('s1', 'new:1', 5), answer('s2', 'old:1', 4), answer('s3', 'old:1', 4)], 'old:1'),
    ).toBe('new:1');
  });

  it('an in-progress promotion (epoch + 0.5) beats the current configuration, not a later one', () => {
    expect(pick([answer('s1', 'new:1', 4.5), answer('s2', 'old:1', 4)])).toBe('new:1');
    expect(pick([answer('s1', 'stale:1', 4.5), answer('s2', 'newer:1', 5)])).toBe('newer:1');
  });

  it('same epoch: the address most sentinels report', () => {
    expect(
      pick([answer('s1', 'a:1', 3, 100), answer('s2', 'b:1', 3, 1), answer('s3', 'b:1', 3, 1)]),
    ).toBe('b:1');
  });

  it('a tie: the most recent change, then the current master, then the smallest address', () => {
    expect(pick([answer('s1', 'a:1', 3, 10), answer('s2', 'b:1', 3, 20)], 'a:1')).toBe('b:1');
    expect(pick([answer('s1', 'a:1', 3, 10), answer('s2', 'b:1', 3, 10)], 'b:1')).toBe('b:1');
    expect(pick([answer('s1', 'b:1', 3, 10), answer('s2', 'a:1', 3, 10)])).toBe('a:1');
  });

  it('names the sentinel with the newest answer of the winning group', () => {
    expect(
      chooseMaster([answer('s1', 'a:1', 3, 10), answer('s2', 'a:1', 3, 30)], undefined)?.sentinel,
    ).toBe('s2');
  });

  it('formats IPv6 masters with brackets', () => {
    expect(addressOf({ host: '::1', port: 6379 })).toBe('[::1]:6379');
  });
});
