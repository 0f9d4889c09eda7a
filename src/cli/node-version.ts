/**
 * The Node.js versions Headway runs on, checked before anything else loads: the data path uses
 * libuv handles and stream internals that older majors lay out differently, so an old Node must
 * stop with one clear line instead of running on internals it was not built for.
 * Kept equal to package.json's `engines.node` by a test. Node 24 only: the data-path suites run
 * on the one major the `node` dev dependency provides, so no other major is claimed (issue 18).
 */
export const REQUIRED_NODE = '>=24.0';

const [MIN_MAJOR, MIN_MINOR] = [24, 0];

/** Why `version` (e.g. `20.20.2`) cannot run Headway, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > MIN_MAJOR || (major === MIN_MAJOR && minor >= MIN_MINOR)) return undefined;
  return `Node.js ${REQUIRED_NODE} is required; this is ${version} (use node_modules/.bin/node, or bin/headway from a clone)`;
}
