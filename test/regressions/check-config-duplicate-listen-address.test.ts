/**
 * Defect (issue 15, item 3): `check-config` accepted two listeners on the
 * same or overlapping addresses (0.0.0.0:P and 127.0.0.1:P; a dual-stack
 * [::]:P and 0.0.0.0:P), and start-up then failed saying "another process is
 * listening there" about its own socket. Overlaps are now a validation
 * error (exit 2) naming both listeners, at check-config and at start.
 */
import { expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';
import { tempConfig } from '../helpers/reload.ts';

const twoListeners = (first: string, second: string, extra: string[] = []): string[] => [
  'admin: off',
  'listeners:',
  '  - name: primary',
  `    listen: "${first}"`,
  '    backends: static://127.0.0.1:1',
  '  - name: replica',
  `    listen: "${second}"`,
  '    backends: static://127.0.0.1:2',
  ...extra,
];

it('check-config and start-up refuse overlapping listen addresses, naming both listeners', async () => {
  const cases: [string[], RegExp][] = [
    [
      twoListeners('0.0.0.0:17010', '127.0.0.1:17010'),
      /listeners\[1\]\.listen: 127\.0\.0\.1:17010 of listener "replica" overlaps 0\.0\.0\.0:17010 of listener "primary"/,
    ],
    [
      twoListeners('127.0.0.1:17011', '127.0.0.1:17011'),
      /127\.0\.0\.1:17011 of listener "replica" overlaps 127\.0\.0\.1:17011 of listener "primary"/,
    ],
    [
      twoListeners('0.0.0.0:17012', '[::]:17012', ['    v6only: off']),
      /\[::\]:17012 \(dual-stack\) of listener "replica" overlaps 0\.0\.0\.0:17012 of listener "primary"/,
    ],
  ];
  for (const [lines, message] of cases) {
    const { path } = tempConfig(lines);
    const checked = await runHeadway(['check-config', path]);
    expect(checked.code, lines.join('\n')).toBe(2);
    expect(checked.stderr).toMatch(message);
    const started = await runHeadway(['--config', path, '--health-check', 'none']);
    expect(started.code).toBe(2);
    expect(started.stderr).toMatch(message);
  }
  // The NGINX form is fine: [::]:P beside 0.0.0.0:P is IPv6-only.
  const ok = await runHeadway([
    'check-config',
    tempConfig(twoListeners('0.0.0.0:17013', '[::]:17013')).path,
  ]);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
});
