#!/usr/bin/env node
// The entry point. Only the version check is imported statically: the rest loads after it, so an
// old Node.js never evaluates code it cannot run.
import { nodeVersionProblem } from './node-version.ts';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`headway: ${problem}\n`);
  process.exit(2);
}
const { runCli } = await import('./cli.ts');
runCli();
