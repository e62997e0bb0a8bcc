// The cluster test tier: `npm run test:cluster` (= vitest run --config test/cluster/vitest.config.ts).
// Tests here talk to a real Kubernetes API server from global-setup.ts; `npm test` excludes them.
// PADDOCK_CLUSTER=external uses KUBECONFIG's cluster instead; PADDOCK_CLUSTER=off skips the tier.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/temp-root.ts', 'test/cluster/global-setup.ts'],
    // Real API server, kubectl and paddock synth as child processes: generous, never relied on for timing.
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
