import { readFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { runHeadway, startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { startEcho, type Backend } from '../helpers/sockets.ts';

/**
 * Defect: nothing said which build was running: `--version` printed the
 * package version only, `-v` was an unknown flag, the start-up log named no
 * version and there was no `headway_build_info` metric. Now all four carry
 * the version and the revision (HEADWAY_REVISION, set in the image from its
 * REVISION build argument, else `git rev-parse` in a clone, else unknown).
 */

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

let proxy: RunningProxy | undefined;
let echo: Backend | undefined;

afterEach(async () => {
  await proxy?.stop();
  await echo?.close();
});

it('--version and -v print version, revision and Node.js version', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runHeadway([flag], { HEADWAY_REVISION: '0123abcd' });
    expect(r.code, flag).toBe(0);
    expect(r.stdout.trim()).toBe(`headway ${VERSION} (revision 0123abcd, node ${process.version})`);
  }
});

it('logs the build at start and exports headway_build_info', async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`], {
    HEADWAY_REVISION: 'feedc0de',
  });
  const line = await proxy.waitForLog((l) => l.msg === 'headway starting');
  expect(line).toMatchObject({ version: VERSION, revision: 'feedc0de', node: process.version });
  const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  expect(text).toContain(
    `headway_build_info{version="${VERSION}",revision="feedc0de",node="${process.version}"} 1`,
  );
});
