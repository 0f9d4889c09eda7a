/**
 * Defect: `node dist/cli/main.js` on a Node.js older than `engines` ran with no warning, on
 * internals it was not built for. It must exit 2 with one line naming the required version.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REQUIRED_NODE, nodeVersionProblem } from '../../src/cli/node-version.ts';
import { MAIN } from '../helpers/headway-process.ts';

/** Runs the CLI with `process.versions.node` made to read `version` before main.ts loads. */
async function runAs(version: string, args: readonly string[]): Promise<[number | null, string]> {
  const preload = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`;
  const proc = spawn(process.execPath, ['--import', preload, MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return [code, out];
}

describe('a Node.js older than engines', () => {
  it('exits 2 with one line naming the required version', async () => {
    const [code, out] = await runAs('20.20.2', ['--version']);
    expect(code).toBe(2);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toContain(`Node.js ${REQUIRED_NODE} is required; this is 20.20.2`);
  });

  it('refuses Node 22, once allowed but never run by the data-path suites', async () => {
    const [code, out] = await runAs('22.19.0', ['--version']);
    expect(code).toBe(2);
    expect(out).toContain(`Node.js >=24.0 is required; this is 22.19.0`);
  });

  it('lets a supported version through', async () => {
    const [code, out] = await runAs('24.1.0', ['--version']);
    expect(code).toBe(0);
    expect(out.trim()).toMatch(/^headway \d+\.\d+\.\d+/);
  });

  it('draws the line where package.json engines does', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      engines: { node: string };
    };
    expect(REQUIRED_NODE).toBe(pkg.engines.node);
    // Node 24 and later only: the data-path suites run on no other major (issue 18).
    expect(nodeVersionProblem('22.19.0')).toBeDefined();
    expect(nodeVersionProblem('23.11.0')).toBeDefined();
    expect(nodeVersionProblem('24.0.0')).toBeUndefined();
    expect(nodeVersionProblem('25.1.0')).toBeUndefined();
    expect(nodeVersionProblem('18.20.0')).toBeDefined();
  });
});
