import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/cluster/**', 'node_modules/**'],
    // Real git, real servers and child processes: generous, never relied on for timing.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
