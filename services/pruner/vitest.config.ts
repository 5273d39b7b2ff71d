import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

// The integration files each start a simulator, a registry and worker processes: on two cores they run
// one file at a time, so timings (lock expiry, stalled checks) stay predictable.
export default mergeConfig(sharedTestConfig, defineConfig({ test: { fileParallelism: false } }));
