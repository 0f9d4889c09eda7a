import { describe, expect, it } from 'vitest';
import { parseCheckExpect } from '../config/check-string.ts';
import { ReplyMatcher } from './reply-matcher.ts';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('ReplyMatcher', () => {
  it('passes on the expectation, reads on before it', () => {
    const m = new ReplyMatcher(parseCheckExpect('role:master'), [parseCheckExpect('role:slave')]);
    expect(m.feed(b('$90\r\n# Replication\r\nrole:'))).toEqual({ kind: 'pending' });
    expect(m.feed(b('master\r\n'))).toEqual({ kind: 'pass', reason: 'matched' });
  });

  it('fails the moment a reject pattern is read, even split across chunks', () => {
    const m = new ReplyMatcher(parseCheckExpect('role:master'), [parseCheckExpect('role:slave')]);
    expect(m.feed(b('# Replication\r\nrole:sl'))).toEqual({ kind: 'pending' });
    expect(m.feed(b('ave\r\nmaster_host:x\r\n'))).toEqual({
      kind: 'fail',
      reason: 'rejected role:slave',
    });
  });

  it('a reject wins over an expectation read in the same chunk', () => {
    const m = new ReplyMatcher(parseCheckExpect('OK'), [parseCheckExpect('/ERR|LOADING/')]);
    expect(m.feed(b('OK ... -LOADING\r\n'))).toEqual({
      kind: 'fail',
      reason: 'rejected /ERR|LOADING/',
    });
  });

  it('checks every reject pattern, substring and regex, and regex expectations', () => {
    const m = new ReplyMatcher(parseCheckExpect('/role:(master|primary)/'), [
      parseCheckExpect('role:slave'),
      parseCheckExpect('/master_link_status:down/i'),
    ]);
    expect(m.feed(b('Master_Link_Status:DOWN'))).toEqual({
      kind: 'fail',
      reason: 'rejected /master_link_status:down/i',
    });
    const n = new ReplyMatcher(parseCheckExpect('/role:(master|primary)/'), [
      parseCheckExpect('role:slave'),
    ]);
    expect(n.feed(b('role:prim'))).toEqual({ kind: 'pending' });
    expect(n.feed(b('ary'))).toEqual({ kind: 'pass', reason: 'matched' });
  });

  it('finds a substring that straddles many one-byte chunks', () => {
    const m = new ReplyMatcher(parseCheckExpect('+PONG'), [parseCheckExpect('-ERR')]);
    const verdicts = ['x', 'x', '-', 'E', 'R'].map((c) => m.feed(b(c)).kind);
    expect(verdicts).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    expect(m.feed(b('R'))).toEqual({ kind: 'fail', reason: 'rejected -ERR' });
  });
});
