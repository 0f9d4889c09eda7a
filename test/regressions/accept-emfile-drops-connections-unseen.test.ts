/**
 * Regression (issue 15, item 7): at the open-files limit, accept(2) fails
 * with EMFILE and libuv closes the pending connections itself (its reserve
 * fd trick) without telling Node: clients were dropped with no log line and
 * no metric. Now the proxy refuses new clients itself before the table is
 * full (so accept(2) never meets EMFILE), resets them, counts them in
 * headway_accept_errors_total{kind="fd_limit"} and logs, rate-limited;
 * accept errors that do reach it are counted by errno.
 */
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { eventually, metricValue, startEcho } from '../helpers/sockets.ts';

describe('clients lost at accept for lack of file descriptors', () => {
  it('are counted (headway_accept_errors_total) and logged, rate-limited', async () => {
    requireProgram('prlimit');
    const echo = await startEcho();
    const proxy = await startProxy(['--backends', `static://${echo.address}`], {}, (argv) => [
      'prlimit',
      '--nofile=128:128',
      '--',
      ...argv,
    ]);
    const sockets: Socket[] = [];
    try {
      let resets = 0;
      for (let i = 0; i < 200; i++) {
        const s = connect({ port: proxy.port, host: '127.0.0.1' });
        s.on('error', () => resets++);
        sockets.push(s);
      }
      const text = await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_accept_errors_total', { kind: 'fd_limit' }) > 0
          ? t
          : undefined;
      }, 15_000);
      const refused = metricValue(text, 'headway_accept_errors_total', { kind: 'fd_limit' });
      await eventually(() => (resets > 0 ? true : undefined));
      const warnings = proxy.logs.filter(
        (l) => l.msg === 'client connections refused or lost at accept',
      );
      expect(warnings.length).toBeGreaterThan(0);
      // Rate-limited: far fewer lines than refusals.
      expect(warnings.length).toBeLessThan(Math.max(2, refused));
    } finally {
      for (const s of sockets) s.destroy();
      await proxy.stop();
      await echo.close();
    }
  });
});
