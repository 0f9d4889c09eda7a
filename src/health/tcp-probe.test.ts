import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBlackhole } from '../../test/helpers/blackhole.ts';
import { refusedPort, startServer, type Backend } from '../../test/helpers/sockets.ts';
import { parseCheckExpect, parseCheckSend } from '../config/check-string.ts';
import { PROBE_READ_LIMIT_BYTES, probe } from './tcp-probe.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function server(onConnection: (s: Socket) => void): Promise<Backend> {
  const b = await startServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  cleanups.push(() => b.close());
  return b;
}

function at(b: Backend): { address: string; port: number } {
  return { address: '127.0.0.1', port: b.port };
}

/** A fake Redis: answers INFO replication with its role after `delayMs`. */
function redis(role: string, delayMs = 0): Promise<Backend> {
  return server((s) => {
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!text.includes('INFO replication\r\n')) return;
      const body = `# Replication\r\nrole:${role}\r\nconnected_slaves:0\r\n`;
      setTimeout(() => s.write(`$${body.length}\r\n${body}\r\n`), delayMs);
    });
  });
}

const INFO = parseCheckSend('INFO replication\\r\\n');
const MASTER = parseCheckExpect('role:master');

describe('probe', () => {
  it('succeeds on connect alone, and closes with a FIN by default', async () => {
    const ends: string[] = [];
    const b = await server((s) => {
      s.on('end', () => ends.push('fin'));
      s.on('error', (e: NodeJS.ErrnoException) => ends.push(e.code ?? 'error'));
    });
    const r = await probe(at(b), { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: true, reason: 'connected' });
    expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(r.ms).toBeLessThan(1000);
    await waitFor(() => ends.length > 0);
    expect(ends).toEqual(['fin']);
  });

  it('closes with a reset when asked', async () => {
    const ends: string[] = [];
    const b = await server((s) => {
      s.on('end', () => ends.push('fin'));
      s.on('error', (e: NodeJS.ErrnoException) => ends.push(e.code ?? 'error'));
    });
    const r = await probe(at(b), { timeoutMs: 1000, close: 'reset' });
    expect(r.ok).toBe(true);
    await waitFor(() => ends.length > 0);
    expect(ends).toEqual(['ECONNRESET']);
  });

  it('fails on a refused port', async () => {
    const r = await probe({ address: '127.0.0.1', port: await refusedPort() }, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, reason: 'connection refused' });
  });

  it('fails with a connect timeout when SYNs go unanswered', async () => {
    const hole = await startBlackhole();
    cleanups.push(() => hole.close());
    const r = await probe({ address: '127.0.0.1', port: hole.port }, { timeoutMs: 150 });
    expect(r).toMatchObject({ ok: false, reason: 'connect timeout' });
    expect(r.ms).toBeGreaterThanOrEqual(140);
  });

  it('fails without throwing on an invalid port', async () => {
    const r = await probe({ address: '127.0.0.1', port: 70_000 }, { timeoutMs: 100 });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^connect error /);
  });

  it('sends, then matches an answer that comes after a delay', async () => {
    const b = await redis('master', 80);
    const r = await probe(at(b), { timeoutMs: 2000, send: INFO, expect: MASTER });
    expect(r).toMatchObject({ ok: true, reason: 'matched' });
    expect(r.ms).toBeGreaterThanOrEqual(70);
  });

  it('matches a regex against the latin1 text of the answer', async () => {
    const b = await redis('master');
    const r = await probe(at(b), {
      timeoutMs: 1000,
      send: INFO,
      expect: parseCheckExpect('/^role:(master|primary)\\r$/m'),
    });
    expect(r).toMatchObject({ ok: true, reason: 'matched' });
  });

  it('times out when a replica never says role:master', async () => {
    const b = await redis('slave');
    const r = await probe(at(b), { timeoutMs: 150, send: INFO, expect: MASTER });
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('times out against a server that never answers', async () => {
    const b = await server(() => undefined);
    const r = await probe(at(b), { timeoutMs: 150, send: INFO, expect: MASTER });
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
    expect(r.ms).toBeGreaterThanOrEqual(140);
  });

  it('fails when the server closes before the match', async () => {
    const b = await server((s) => s.end('role:slave\r\n'));
    const r = await probe(at(b), { timeoutMs: 1000, expect: MASTER });
    expect(r).toMatchObject({ ok: false, reason: 'closed before match' });
  });

  it('fails when the server resets the connection', async () => {
    const b = await server((s) => s.resetAndDestroy());
    const r = await probe(at(b), { timeoutMs: 1000, expect: MASTER });
    expect(r.ok).toBe(false);
    // The reset can beat the connect callback, so either side of it may report it.
    expect(r.reason).toMatch(/^((connect )?error ECONNRESET|closed before match)$/);
  });

  it('finds a match split across chunks', async () => {
    const b = await server((s) => {
      s.write('xx role:ma');
      setTimeout(() => s.write('ster\r\n'), 30);
    });
    const r = await probe(at(b), { timeoutMs: 1000, expect: MASTER });
    expect(r).toMatchObject({ ok: true, reason: 'matched' });
  });

  it('gives up after 16 KiB without a match (20 KiB answer)', async () => {
    const b = await server((s) => s.write(Buffer.alloc(20 * 1024, 'a')));
    const r = await probe(at(b), { timeoutMs: 5000, expect: MASTER });
    expect(r).toMatchObject({ ok: false, reason: 'no match in first 16 KiB' });
    expect(r.ms).toBeLessThan(5000);
  });

  it('ignores a match that starts beyond the first 16 KiB', async () => {
    const b = await server((s) =>
      s.write(
        Buffer.concat([Buffer.alloc(PROBE_READ_LIMIT_BYTES - 4, 'a'), Buffer.from('role:master')]),
      ),
    );
    const r = await probe(at(b), { timeoutMs: 5000, expect: MASTER });
    expect(r).toMatchObject({ ok: false, reason: 'no match in first 16 KiB' });
  });

  it('succeeds with send and no expect once the bytes are written', async () => {
    const got: Buffer[] = [];
    const b = await server((s) => s.on('data', (c: Buffer) => got.push(c)));
    const r = await probe(at(b), { timeoutMs: 1000, send: parseCheckSend('PING\\r\\n') });
    expect(r).toMatchObject({ ok: true, reason: 'connected' });
    await waitFor(() => Buffer.concat(got).length >= 6);
    expect(Buffer.concat(got).toString()).toBe('PING\r\n');
  });

  it('ends at once when aborted, destroying its socket', async () => {
    let serverSide: Socket | undefined;
    const b = await server((s) => (serverSide = s));
    const ac = new AbortController();
    const pending = probe(at(b), { timeoutMs: 5000, expect: MASTER, signal: ac.signal });
    await waitFor(() => serverSide !== undefined);
    ac.abort();
    const r = await pending;
    expect(r).toMatchObject({ ok: false, reason: 'aborted' });
    expect(r.ms).toBeLessThan(5000);
    if (serverSide !== undefined) await once(serverSide, 'end');
  });

  it('returns aborted without connecting when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(
      await probe({ address: '127.0.0.1', port: 1 }, { timeoutMs: 100, signal: ac.signal }),
    ).toEqual({ ok: false, reason: 'aborted', ms: 0 });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
