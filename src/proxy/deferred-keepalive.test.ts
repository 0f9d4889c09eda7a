import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeNet, type FakeStream } from '../../test/kit/fake-stream.ts';
import { DeferredKeepalive, deferKeepalive } from './deferred-keepalive.ts';
import type { StreamOptions } from './tcp-stream.ts';

const opts: StreamOptions = {
  onRead: (_s, _n, buf) => buf,
  buffer: Buffer.alloc(16),
  keepAliveMs: 60_000,
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setUp() {
  const net = new FakeNet();
  const deferred = new DeferredKeepalive(60_000, 1000);
  const connect = deferKeepalive(net.connect, deferred);
  const open = (): FakeStream => {
    connect('127.0.0.1', 9, opts);
    const stream = net.lastDial;
    stream.connecting = false;
    return stream;
  };
  return { deferred, open };
}

const armed = (s: FakeStream): boolean => s.calls.includes('keepalive 60000');

describe('DeferredKeepalive', () => {
  it('arms keepalive only after a socket has run a whole interval without it', () => {
    const { open } = setUp();
    vi.advanceTimersByTime(0);
    const first = open();
    vi.advanceTimersByTime(900);
    const second = open();
    vi.advanceTimersByTime(100); // first tick: neither has had a whole interval yet
    expect(armed(first)).toBe(false);
    expect(armed(second)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(armed(first)).toBe(true);
    expect(armed(second)).toBe(true);
  });

  it('never touches a socket that closed before its turn (a short connection pays nothing)', () => {
    const { deferred, open } = setUp();
    const short = open();
    short.destroy();
    vi.advanceTimersByTime(2500);
    expect(short.calls).not.toContain('keepalive 60000');
    expect(deferred.waiting).toBe(0);
  });

  it('forgets a socket as soon as it closes, so no closed session waits for the tick', () => {
    const { deferred, open } = setUp();
    const young = open();
    vi.advanceTimersByTime(1000);
    const other = open();
    expect(deferred.waiting).toBe(2);
    deferred.forget(young); // in the list that is due next
    deferred.forget(other); // in the list of the newest
    expect(deferred.waiting).toBe(0);
    deferred.forget(other); // a second report is harmless
    vi.advanceTimersByTime(2000);
    expect(armed(young) || armed(other)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for a socket that is still connecting', () => {
    const { open } = setUp();
    const slow = open();
    slow.connecting = true;
    vi.advanceTimersByTime(2000);
    expect(armed(slow)).toBe(false);
    slow.connecting = false;
    vi.advanceTimersByTime(1000);
    expect(armed(slow)).toBe(true);
  });

  it('stops its timer once nothing waits, and starts it again for the next socket', () => {
    const { deferred, open } = setUp();
    open();
    vi.advanceTimersByTime(2000);
    expect(deferred.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    const later = open();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2000);
    expect(armed(later)).toBe(true);
  });

  it('opens sockets without keepalive and leaves a connector alone when keepalive is off', () => {
    const net = new FakeNet();
    deferKeepalive(net.connect, new DeferredKeepalive(60_000))('127.0.0.1', 9, opts);
    expect(net.dials.map((d) => d.keepAliveMs)).toEqual([0]);
    expect(deferKeepalive(net.connect, null)).toBe(net.connect);
  });

  it('stop() forgets the waiting sockets', () => {
    const { deferred, open } = setUp();
    const s = open();
    deferred.stop();
    vi.advanceTimersByTime(3000);
    expect(armed(s)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
