import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:fault`): heavy tests with real child
 * processes, thousands of sockets and kill -9, one file at a time.
 */
export default defineConfig({
  test: {
    include: ['test/fault/**/*.test.ts'],
    globalSetup: ['test/fault/helpers/global-setup.ts'],
    env: { FAULT_TESTS: '1' },
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
