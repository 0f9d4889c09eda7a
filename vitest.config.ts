import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The heavy fault suite runs on its own: `npm run test:fault` (vitest.fault.config.ts).
    exclude: ['test/fault/**', 'node_modules/**'],
    // Real sockets and child processes: give the two shared cores generous bounds.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most of the suite waits on sockets, timers and child processes rather than the CPU: three
    // files at a time on the two cores (vitest's default here would be one) keeps \`npm test\` well
    // inside its 10-minute budget. The fault suite stays one file at a time.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
