/**
 * Defect (issue 15 item 11): with --accept-proxy-protocol and no --proxy-protocol-from, every peer
 * was trusted to send a PROXY header, so any client could name another address in it and slip past
 * --deny, --allow and --max-connections-per-client (a denied peer got through with
 * `PROXY TCP4 1.2.3.4 …`). That combination is now refused at start (exit 2, saying why and how to
 * fix it), and the start-up log says which peers are trusted to send PROXY headers.
 */
import { describe, expect, it } from 'vitest';
import { runHeadway, startProxy } from '../helpers/headway-process.ts';

const BASE = ['--listen', '127.0.0.1:0', '--admin', 'off', '--backends', 'static://127.0.0.1:9'];

describe('PROXY protocol trust', () => {
  it.each([
    ['--deny', '127.0.0.1/32'],
    ['--allow', '10.0.0.0/8'],
    ['--max-connections-per-client', '10'],
  ])(
    'refuses --accept-proxy-protocol with %s and no --proxy-protocol-from',
    async (flag, value) => {
      const r = await runHeadway([...BASE, '--accept-proxy-protocol', flag, value]);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^headway: --accept-proxy-protocol: /);
      // Says why (a forged address) and how to fix it (the flag to add).
      expect(lines[0]).toContain(flag);
      expect(lines[0]).toMatch(/forge/);
      expect(lines[0]).toContain('--proxy-protocol-from');
    },
  );

  it('refuses the same combination in the environment', async () => {
    const r = await runHeadway([...BASE], {
      HEADWAY_ACCEPT_PROXY_PROTOCOL: 'true',
      HEADWAY_DENY: '192.0.2.0/24',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--proxy-protocol-from/);
  });

  it('starts with --proxy-protocol-from and logs the trusted peers', async () => {
    const p = await startProxy([
      '--accept-proxy-protocol',
      '--proxy-protocol-from',
      '127.0.0.2/32',
      '--deny',
      '192.0.2.0/24',
      '--backends',
      'static://127.0.0.1:9',
    ]);
    try {
      const line = await p.waitForLog((l) => l.msg === 'listener started');
      expect(line.proxyProtocolFrom).toEqual(['127.0.0.2/32']);
    } finally {
      await p.stop();
    }
  });

  it('without access rules every peer may send a header, and the log says so', async () => {
    const p = await startProxy(['--accept-proxy-protocol', '--backends', 'static://127.0.0.1:9']);
    try {
      const line = await p.waitForLog((l) => l.msg === 'listener started');
      expect(line.proxyProtocolFrom).toBe('every peer');
    } finally {
      await p.stop();
    }
  });
});
