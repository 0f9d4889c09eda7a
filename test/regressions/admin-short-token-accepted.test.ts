import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';

/**
 * Defect: any admin token was accepted, even one byte long, which a client
 * can guess. Tokens shorter than 16 bytes are refused at start with exit 2
 * naming where the token came from, and the message never repeats it.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'headway-token-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BACKENDS = ['--backends', 'static://127.0.0.1:1', '--listen', '127.0.0.1:0'];

it('refuses a short --admin-token (exit 2, naming the flag, not the token)', async () => {
  const r = await runHeadway([...BACKENDS, '--admin-token', 'short-secret']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--admin-token');
  expect(r.stderr).toContain('16 bytes');
  expect(r.stderr).not.toContain('short-secret');
});

it('refuses a short HEADWAY_ADMIN_TOKEN', async () => {
  const r = await runHeadway(BACKENDS, { HEADWAY_ADMIN_TOKEN: 'pw' });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('HEADWAY_ADMIN_TOKEN');
});

it('refuses a short token file, and a missing one', async () => {
  const file = join(dir, 'short');
  await writeFile(file, 'tiny-secret\n');
  const r = await runHeadway([...BACKENDS, '--admin-token-file', file]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--admin-token-file');
  expect(r.stderr).not.toContain('tiny-secret');
  const missing = await runHeadway([...BACKENDS, '--admin-token-file', join(dir, 'nope')]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('--admin-token-file');
});
