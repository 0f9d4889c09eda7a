import { once } from 'node:events';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  runHeadway,
  spawnHeadway,
  type HeadwayProcess,
  type LogLine,
} from '../helpers/headway-process.ts';
import { closed, connectTo, eventually, startWhoami, whoAnswers } from '../helpers/sockets.ts';

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'headway-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function portOf(line: LogLine): number {
  const addr = (line.addresses as string[])[0] ?? '';
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

async function listenerPort(p: HeadwayProcess, name: string, after = 0): Promise<number> {
  const line = await p.waitForLog(
    (l) =>
      (l.msg === 'listener started' || l.msg === 'listener reconfigured') &&
      l.listener === name &&
      p.logs.indexOf(l) >= after,
  );
  return portOf(line);
}

describe('config file', () => {
  it('check-config validates and names the path of a bad value', async () => {
    const good = tempFile(
      'ok.yaml',
      [
        'log: { format: text }',
        'listeners:',
        '  - name: a',
        '    listen: 127.0.0.1:0',
        '    backends: static://127.0.0.1:1',
        '  - name: b',
        '    listen: [127.0.0.1:0]',
        '    backends: dns://db.example:6379',
        '    strategy: round-robin',
      ].join('\n'),
    );
    const ok = await runHeadway(['check-config', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok (2 listeners: a, b)');

    const cases: [string, RegExp][] = [
      [
        [
          'listeners:',
          '  - name: a',
          '    backends: static://127.0.0.1:1',
          '  - name: b',
          '    backends: dsn://x:1',
          // Its own port: two listeners on the default address would be an error of their own.
          '    listen: 127.0.0.1:0',
        ].join('\n'),
        /^headway: \S+:5:15 listeners\[1\]\.backends: unknown scheme "dsn"/,
      ],
      [
        ['listeners:', '  - backends: static://127.0.0.1:1', '    strategyy: round-robin'].join(
          '\n',
        ),
        /^headway: \S+:3:5 listeners\[0\]\.strategyy: unknown option/,
      ],
      [
        ['listeners:', '  - backends: static://127.0.0.1:1', '    admin: off'].join('\n'),
        /^headway: \S+:3:5 listeners\[0\]\.admin: is a process option/,
      ],
      [
        ['listeners:', '  - backends: static://127.0.0.1:1', '    connect-timeout: 5'].join('\n'),
        /^headway: \S+:3:22 listeners\[0\]\.connect-timeout: "5" is not a duration/,
      ],
      ['listeners: [', /not valid YAML/],
      [
        [
          'listeners:',
          '  - name: a',
          '    backends: static://127.0.0.1:1',
          '  - name: a',
          '    backends: static://127.0.0.1:2',
          '    listen: 127.0.0.1:0',
        ].join('\n'),
        /listeners\[1\]\.name: "a" is used by another listener/,
      ],
    ];
    for (const [text, message] of cases) {
      const r = await runHeadway(['check-config', tempFile('bad.yaml', text)]);
      expect(r.code, text).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const missing = await runHeadway(['check-config', '/nonexistent/headway.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it('serves several listeners from one file, and flags override the file for one listener', async () => {
    const a = await startWhoami('127.0.0.71');
    const b = await startWhoami('127.0.0.72');
    const path = tempFile(
      'two.yaml',
      [
        'admin: off',
        'listeners:',
        `  - name: a`,
        `    listen: 127.0.0.1:0`,
        `    backends: static://${a.address}`,
        `  - name: b`,
        `    listen: 127.0.0.1:0`,
        `    backends: static://${b.address}`,
      ].join('\n'),
    );
    const p = spawnHeadway(['--config', path, '--health-check', 'none']);
    try {
      const pa = await listenerPort(p, 'a');
      const pb = await listenerPort(p, 'b');
      const ra = await whoAnswers(pa);
      const rb = await whoAnswers(pb);
      expect([ra.who, rb.who]).toEqual(['127.0.0.71', '127.0.0.72']);
      ra.socket.destroy();
      rb.socket.destroy();
    } finally {
      await p.stop();
    }
    // With several listeners, a flag naming one is refused.
    const r = await runHeadway(['--config', path, '--backends', 'static://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--backends: cannot be given for 2 listeners/);
    await Promise.all([a.close(), b.close()]);
  });

  it('reloads on SIGHUP without dropping a streaming session: changed, removed and added listeners', async () => {
    const old1 = await startWhoami('127.0.0.81');
    const new1 = await startWhoami('127.0.0.82');
    const other = await startWhoami('127.0.0.83');
    const write = (lines: string[]): void => writeFileSync(path, lines.join('\n') + '\n');
    const path = tempFile('live.yaml', '');
    write([
      'admin: off',
      'drain-timeout: 30s',
      'listeners:',
      '  - name: main',
      '    listen: 127.0.0.1:0',
      `    backends: static://${old1.address}`,
      '  - name: gone',
      '    listen: 127.0.0.1:0',
      `    backends: static://${other.address}`,
    ]);
    const p = spawnHeadway(['--config', path, '--health-check', 'none', '--log-level', 'debug']);
    try {
      const mainPort = await listenerPort(p, 'main');
      const gonePort = await listenerPort(p, 'gone');
      const streaming = await whoAnswers(mainPort);
      expect(streaming.who).toBe('127.0.0.81');
      const onGone = await whoAnswers(gonePort);
      let echoed = 0;
      streaming.socket.on('data', (c: Buffer) => (echoed += c.length));
      const ticker = setInterval(() => streaming.socket.write('tick'), 20);

      const mark = p.logs.length;
      write([
        'admin: off',
        'drain-timeout: 30s',
        'listeners:',
        '  - name: main',
        '    listen: 127.0.0.1:0',
        `    backends: static://${new1.address}`,
        '    strategy: round-robin',
        '  - name: added',
        '    listen: 127.0.0.1:0',
        `    backends: static://${other.address}`,
      ]);
      p.proc.kill('SIGHUP');
      await p.waitForLog((l) => l.msg === 'config reloaded' && p.logs.indexOf(l) >= mark);
      // The changed listener keeps its port; new connections go to the new backend.
      const fresh = await whoAnswers(mainPort);
      expect(fresh.who).toBe('127.0.0.82');
      fresh.socket.destroy();
      // The added listener serves.
      const addedPort = await listenerPort(p, 'added', mark);
      const viaAdded = await whoAnswers(addedPort);
      expect(viaAdded.who).toBe('127.0.0.83');
      viaAdded.socket.destroy();
      // The removed listener accepts no more, but its open connection still works.
      await expect(connectTo(gonePort)).rejects.toThrow();
      onGone.socket.write('still');
      await once(onGone.socket, 'data');
      // The streaming session never noticed.
      const before = echoed;
      await new Promise((r) => setTimeout(r, 200));
      clearInterval(ticker);
      expect(echoed).toBeGreaterThan(before);
      expect(streaming.socket.destroyed).toBe(false);
      streaming.socket.end();
      await closed(streaming.socket);
      onGone.socket.end();
      await closed(onGone.socket);

      // A bad file is rejected and the running configuration kept.
      const mark2 = p.logs.length;
      write(['listeners:', '  - name: main', '    backends: dsn://nope:1']);
      p.proc.kill('SIGHUP');
      await p.waitForLog(
        (l) =>
          l.msg === 'config reload rejected; keeping the running configuration' &&
          p.logs.indexOf(l) >= mark2,
      );
      const still = await whoAnswers(mainPort);
      expect(still.who).toBe('127.0.0.82');
      still.socket.destroy();
    } finally {
      await p.stop();
      await Promise.all([old1.close(), new1.close(), other.close()]);
    }
  });

  it('--watch-config reloads when the file is swapped like a ConfigMap', async () => {
    const first = await startWhoami('127.0.0.91');
    const second = await startWhoami('127.0.0.92');
    const path = tempFile(
      'watched.yaml',
      [
        'admin: off',
        'listeners:',
        '  - name: w',
        '    listen: 127.0.0.1:0',
        `    backends: static://${first.address}`,
      ].join('\n'),
    );
    const p = spawnHeadway(['--config', path, '--watch-config', '--health-check', 'none']);
    try {
      const port = await listenerPort(p, 'w');
      const a = await whoAnswers(port);
      expect(a.who).toBe('127.0.0.91');
      a.socket.destroy();
      // Write the new version beside it and rename over: an atomic swap, as the kubelet does.
      const next = `${path}.new`;
      writeFileSync(
        next,
        [
          'admin: off',
          'listeners:',
          '  - name: w',
          '    listen: 127.0.0.1:0',
          `    backends: static://${second.address}`,
        ].join('\n'),
      );
      renameSync(next, path);
      await eventually(
        async () => {
          const b = await whoAnswers(port);
          b.socket.destroy();
          return b.who === '127.0.0.92' ? true : undefined;
        },
        10_000,
        100,
      );
    } finally {
      await p.stop();
      await Promise.all([first.close(), second.close()]);
    }
  });
});
