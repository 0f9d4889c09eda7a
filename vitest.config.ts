import { defineConfig } from 'vitest/config';

/**
 * Three projects:
 * - unit: in-process tests beside the code (src/) and the test kit's own;
 * - e2e: everything else under test/ (real sockets, child processes, docs, deploy, regressions);
 * - fault: the heavy fault suite (thousands of sockets, kill -9), one file at a time.
 * `npm test` runs unit and e2e; `npm run test:fault` runs fault.
 */
export default defineConfig({
  test: {
    // Real sockets and child processes: give the two shared cores generous bounds.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most of the suite waits on sockets, timers and child processes rather than the CPU: three
    // files at a time on the two cores (vitest's default here would be one) keeps `npm test` well
    // inside its 10-minute budget. The fault suite stays one file at a time.
    maxWorkers: 3,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // test/architecture: static checks of src/ (errors, layering), no sockets or processes.
          include: ['src/**/*.test.ts', 'test/kit/**/*.test.ts', 'test/architecture/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: ['test/kit/**', 'test/architecture/**', 'test/fault/**', 'node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'fault',
          include: ['test/fault/**/*.test.ts'],
          globalSetup: ['test/fault/helpers/global-setup.ts'],
          env: { FAULT_TESTS: '1' },
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          // One worker where the others have three: vitest runs such a project in a group of its own,
          // after the others if all three are ever run together.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
