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
    reporters: ['default'],
  },
});
