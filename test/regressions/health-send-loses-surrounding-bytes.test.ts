/**
 * Defect (found beside issue 16 item 5): `--health-send` and `--health-expect` are bytes, but
 * their values were trimmed like any other option, so `health-send: "PING\r\n"` in YAML (where
 * the double quotes already turn \r\n into CR LF) or `--health-send ' PING'` silently lost
 * their leading and trailing bytes: the check sent `PING` without its line end, and a Redis
 * backend never answers that. Bytes given are now bytes sent.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';

describe('health-send and health-expect keep every byte', () => {
  it('a double-quoted YAML line end survives', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'headway-hs-')), 'h.yaml');
    writeFileSync(
      path,
      [
        'listeners:',
        '  - backends: static://127.0.0.1:9',
        '    health-send: "PING\\r\\n"',
        '    health-expect: " PONG\\r\\n"',
        '',
      ].join('\n'),
    );
    const r = await runHeadway(['check-config', path, '--print']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('health-send: PING\\r\\n');
    expect(r.stdout).toMatch(/health-expect: " PONG\\\\r\\\\n"|health-expect: ' PONG\\r\\n'/);
  });
});
