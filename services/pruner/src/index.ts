/**
 * `@registry-push/pruner`: the queue-driven pruning worker for the OpenShift integrated image registry.
 * The `registry-pruner` binary is the main interface; this module exposes the same parts for embedding
 * and tests. Anything not exported here is internal.
 *
 * @packageDocumentation
 */
export { main, type Io } from './main.js';
export { startWorker, type RunningWorker, type StartWorkerOptions } from './worker.js';
export { runOnce, type RunOnceOptions, type RunOnceOutcome } from './oneshot.js';
export { PrunerClient, type StatusReport } from './client.js';
export {
  loadSettings,
  type ModeSetting,
  type RedisSettings,
  type RegistrySettings,
  type Settings,
} from './settings.js';
export { PrunerError, PRUNER_ERROR_CODES, type PrunerErrorCode } from './errors.js';
export { AdaptiveRateLimiter, type RateLimiterOptions } from './limiter.js';
export { imageBatches } from './batches.js';
export { prunerConfigOf, DEFAULT_SCHEDULE, SUSPEND_ANNOTATION, type PrunerConfig } from './cluster.js';
export { JobNames, SCHEDULER_ID, runIdOf, type PlanJobResult } from './jobs.js';
export type { RunRecord, RunStatus, RunTrigger } from './store/run-store.js';
export { FAILPOINTS, type FailpointName } from './failpoints.js';
