import { defineConfig } from 'vitest/config';

/**
 * The vitest settings every workspace extends (each package's vitest.config.ts merges this).
 *
 * Tests start real services (redis-server, docker-registry, skopeo), so timeouts are generous and a JSON
 * report is written next to the package for scripts/test to add up into one closing line.
 */
export const sharedTestConfig = defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    restoreMocks: true,
  },
});
