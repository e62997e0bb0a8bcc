import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/cluster/**', 'node_modules/**'],
    globalSetup: ['test/temp-root.ts', 'test/no-cluster.ts'],
    // Real git, real servers and child processes: generous, never relied on for timing.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most of a test's time is spent waiting on git, child processes and sockets, not on this
    // process: three files at once on a 2-core machine (vitest's default would be one).
    maxWorkers: 3,
  },
});
