import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCENARIO = fileURLToPath(new URL('../fixtures/ipv6-dns-scenario.ts', import.meta.url));
const NS = `headway-v6-${process.pid}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

// Several IPv6 backends need several IPv6 addresses; ::1 is the only one on the
// host's loopback, so the test makes its own network namespace and adds them there.
describe('dns:// with AAAA records (own network namespace)', () => {
  beforeAll(() => {
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'addr', 'add', 'fd00::11/128', 'dev', 'lo');
    ip('-n', NS, 'addr', 'add', 'fd00::12/128', 'dev', 'lo');
  });

  afterAll(() => {
    ip('netns', 'del', NS);
  });

  it('turns every AAAA record into a backend and reaches each over IPv6', async () => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, SCENARIO], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, err).toBe(0);
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      ids: string[];
      answered: string[];
    };
    expect(result.ids).toHaveLength(2);
    expect(result.ids[0]).toMatch(/^\[fd00::11\]:\d+$/);
    expect(result.ids[1]).toMatch(/^\[fd00::12\]:\d+$/);
    expect(new Set(result.answered)).toEqual(new Set(['fd00::11', 'fd00::12']));
  });
});
