import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

// The integration files each start a simulator, a registry and worker processes: on two cores they run
// one file at a time, so timings (lock expiry, stalled checks) stay predictable (vitest's default on two
// cores is one worker anyway; this keeps it so on bigger machines). A test of several workers, runs and CLI
// calls takes more than the shared minute when other work has the cores (up to 89 s seen), so three.
export default mergeConfig(
  sharedTestConfig,
  defineConfig({ test: { fileParallelism: false, testTimeout: 180_000 } }),
);
