/**
 * Defect (issue 16 item 5): `check-config` rejected every flag although its help said flags and
 * environment are applied (`--idle-timeout 5s` → "unknown flag", leaking the internal name
 * `idleTimeout`), and it stopped at the first error without saying where in the file it was. Now it
 * takes the same flags as `proxy`, reports every error as `FILE:LINE:COLUMN PATH: problem` (like
 * `haproxy -c` and `nginx -t`), and `--print` dumps the effective configuration with secrets masked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';

function tempFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'headway-check-')), 'headway.yaml');
  writeFileSync(path, text);
  return path;
}

const GOOD = [
  'admin: 127.0.0.1:9901',
  'listeners:',
  '  - name: redis',
  '    listen: 127.0.0.1:6379',
  '    backends: static://127.0.0.1:7000,127.0.0.1:7001',
  '',
].join('\n');

describe('check-config', () => {
  it('accepts the flags of proxy and applies them', async () => {
    const path = tempFile(GOOD);
    const r = await runHeadway([
      'check-config',
      path,
      '--idle-timeout',
      '5s',
      '--strategy',
      'random',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok (1 listener: redis)');
  });

  it('a mistyped flag does not leak the internal camelCase name', async () => {
    const r = await runHeadway(['check-config', tempFile(GOOD), '--idle-timeot', '5s']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/idleTimeot/);
    expect(r.stderr).toMatch(/unknown flag --idle-timeot/);
  });

  it('reports every error with file:line:column and the path', async () => {
    const path = tempFile(
      [
        'listeners:', // 1
        '  - name: a', // 2
        '    backends: static://127.0.0.1:1', // 3
        '    strategy: fastest', // 4
        '  - name: b', // 5
        '    backends: dsn://x:1', // 6
        '    strategyy: round-robin', // 7
        '    connect-timeout: 5', // 8
        '',
      ].join('\n'),
    );
    const r = await runHeadway(['check-config', path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^headway: ${path}:4:15 listeners\\[0\\]\\.strategy: unknown value "fastest"`),
      ),
      expect.stringMatching(
        new RegExp(`^headway: ${path}:6:15 listeners\\[1\\]\\.backends: unknown scheme "dsn"`),
      ),
      expect.stringMatching(
        new RegExp(`^headway: ${path}:7:5 listeners\\[1\\]\\.strategyy: unknown option`),
      ),
      expect.stringMatching(
        new RegExp(
          `^headway: ${path}:8:22 listeners\\[1\\]\\.connect-timeout: "5" is not a duration`,
        ),
      ),
    ]);
    expect(r.stdout).toBe('');
  });

  it('reports every YAML syntax error with its position', async () => {
    const path = tempFile('admin: off\nadmin: off\nlisteners: [\n');
    const r = await runHeadway(['check-config', path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(new RegExp(`^headway: ${path}:\\d+:\\d+ `));
  });

  it('--print dumps the effective configuration with secrets masked', async () => {
    const path = tempFile(`admin-token: s3cret-token-0123456789\n${GOOD}`);
    const r = await runHeadway(['check-config', path, '--print', '--idle-timeout', '5s'], {
      HEADWAY_CONNECT_TIMEOUT: '2s',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('s3cret');
    const doc = parseYaml(r.stdout) as {
      'admin-token': string;
      admin: string;
      listeners: Record<string, unknown>[];
    };
    expect(doc['admin-token']).toMatch(/\*\*\*/);
    expect(doc.admin).toBe('127.0.0.1:9901');
    expect(doc.listeners).toHaveLength(1);
    expect(doc.listeners[0]).toMatchObject({
      name: 'redis',
      listen: ['127.0.0.1:6379'],
      backends: 'static://127.0.0.1:7000,127.0.0.1:7001',
      'idle-timeout': '5s',
      'connect-timeout': '2s',
      strategy: 'least-conn',
    });
  });
});
