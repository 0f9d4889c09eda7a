#!/usr/bin/env node
/**
 * `node bench/headway-bench.ts MODE ...` runs exactly what `headway bench
 * MODE ...` runs. It exists so bench/compare works whether or not this
 * checkout's CLI (src/cli/main.ts) has the bench command wired in yet.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { registerBenchCommand } from '../src/cli/bench-command.ts';
import { ConfigError, errorMessage } from '../src/core/errors.ts';

function fail(message: string, code: number): never {
  process.stderr.write(`headway: ${message}\n`);
  process.exit(code);
}

const cli = registerBenchCommand(yargs(['bench', ...hideBin(process.argv)]).scriptName('headway'))
  .strict()
  .help()
  // yargs 18 passes `undefined`, not null, as `err` for its own usage errors.
  .fail((msg: string | null, err: Error | null | undefined) => {
    if (err instanceof ConfigError) fail(err.message, 2);
    if (err !== null && err !== undefined) fail(errorMessage(err), 1);
    fail(msg ?? 'invalid arguments', 2);
  });

cli.parseAsync().catch((err: unknown) => {
  fail(errorMessage(err), err instanceof ConfigError ? 2 : 1);
});
