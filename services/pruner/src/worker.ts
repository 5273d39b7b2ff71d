/**
 * The worker process: consumes the pruner queue (any replica takes any job), keeps the schedule in step
 * with the ImagePruner CR, serves health and metrics, and stops cleanly: on SIGTERM it stops taking jobs,
 * lets the job in hand finish (a batch hands its remaining units back), and closes.
 */
import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { ClusterAccessOptions } from '@registry-push/core';
import { EventRecorder, connectCluster } from './cluster.js';
import { PrunerContext } from './context.js';
import { describeError } from './errors.js';
import { Failpoints } from './failpoints.js';
import { startHealthServer, type HealthServer } from './http.js';
import {
  JobNames,
  runIdOf,
  type BatchJobData,
  type FinalizeJobData,
  type ImagesJobData,
  type PlanJobData,
  type PrunerJobData,
  type RegistryJobData,
  type StreamJobData,
} from './jobs.js';
import { createLogger, type Logger } from './logger.js';
import { PrunerMetrics, type RateBySide } from './metrics.js';
import { processFinalize } from './processors/finalize.js';
import { processImages } from './processors/images.js';
import { processPlan } from './processors/plan.js';
import { failRun } from './processors/run-end.js';
import { processBatch, processStream } from './processors/units.js';
import { processRegistryPhase } from './processors/undo.js';
import { connectRedis, describeRedis, pingRedis, type RedisConnection } from './redis.js';
import { ScheduleKeeper } from './schedule.js';
import type { Settings } from './settings.js';
import { RedisRunStore } from './store/redis-run-store.js';
import { RedisUndoStore } from './store/redis-undo-store.js';
import { ExplorerStore } from './web/explorer.js';
import { Dashboard } from './web/server.js';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  settings: Settings;
  access: ClusterAccessOptions;
  logger?: Logger;
  /** How long a stop waits for the job in hand before handing it back by force. Default 20 s. */
  shutdownGraceMs?: number;
}

/** A running worker. */
export interface RunningWorker {
  /** Address and port of the HTTP endpoints. */
  host: string;
  port: number;
  /** Stops taking jobs, lets the job in hand finish or hands it back, and closes everything. */
  stop(reason?: string): Promise<void>;
}

async function dispatch(job: Job<PrunerJobData>, ctx: PrunerContext, token?: string): Promise<unknown> {
  switch (job.name) {
    case JobNames.plan:
      return processPlan(job as Job<PlanJobData>, ctx);
    case JobNames.stream:
      return processStream(job as Job<StreamJobData>, ctx);
    case JobNames.images:
      return processImages(job as Job<ImagesJobData>, ctx, token);
    case JobNames.batch:
      return processBatch(job as Job<BatchJobData>, ctx, token);
    case JobNames.finalize:
      return processFinalize(job as Job<FinalizeJobData>, ctx);
    case JobNames.registry:
      return processRegistryPhase(job as Job<RegistryJobData>, ctx, token);
    default:
      throw new Error(`Unknown job "${job.name}".`);
  }
}

/** How long closing the connections may take once the job in hand is done or given up. */
const CLOSE_MS = 5_000;

/** `work`, or 'timeout' when it takes longer than `ms` (it goes on in the background). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A plan or finalize job that failed for good (also by stalling too often) ends its run. */
async function onFailed(
  job: Job<PrunerJobData> | undefined,
  error: Error,
  ctx: PrunerContext,
): Promise<void> {
  if (job === undefined) return;
  const final = (await job.getState()) === 'failed';
  ctx.logger[final ? 'error' : 'warn'](
    { job: job.id, name: job.name, attempt: job.attemptsMade, error: error.message },
    final ? 'job failed for good' : 'job failed; it will be retried',
  );
  if (!final || (job.name !== JobNames.plan && job.name !== JobNames.finalize)) return;
  const runId = job.name === JobNames.plan ? runIdOf(job) : (job.data as FinalizeJobData).runId;
  const record = await ctx.store.getRun(runId);
  if (record === undefined || (record.status !== 'planning' && record.status !== 'running')) return;
  // A plan job that died after adding the flow has a run that goes on without it.
  if (job.name === JobNames.plan && (await ctx.queue.getJob(`${runId}.finalize`)) !== undefined) return;
  await failRun(ctx, runId, error);
}

function readiness(
  redis: RedisConnection,
  settings: Settings,
  keeper: ScheduleKeeper,
  current: () => Worker | undefined,
): () => Promise<string | undefined> {
  return async () => {
    const worker = current();
    if (worker === undefined) return 'starting';
    try {
      await pingRedis(redis, settings.redis, 2_000);
    } catch (error) {
      return describeError(error);
    }
    if (!worker.isRunning()) return 'the worker is not running';
    if (!keeper.state.healthy) return keeper.state.error ?? 'the ImagePruner CR has not been read yet';
    return undefined;
  };
}

/**
 * Starts a worker. Fails at once, with the reason, when the cluster credentials are unusable or may not
 * read the ImagePruner CR; waits for Redis when it is away.
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const { settings } = options;
  const logger = options.logger ?? createLogger(settings.logLevel, { worker: settings.workerName });
  const client = connectCluster(options.access);
  const redis = connectRedis(settings.redis, 'worker');
  redis.on('error', (error: Error) => logger.warn({ error: error.message }, 'redis connection error'));
  const connection = { connection: redis, prefix: settings.prefix };
  const queue = new Queue<PlanJobData>(settings.queue, connection);
  const flows = new FlowProducer(connection);
  // BullMQ re-emits the connection's errors on these; without a listener it prints each one with its stack
  // to stderr (console.error). The connection's own listener above already logs them, once, as JSON.
  queue.on('error', () => undefined);
  flows.on('error', () => undefined);
  const store = new RedisRunStore(redis, settings.prefix, settings.queue);
  const undo = new RedisUndoStore(redis, settings.prefix, settings.queue);
  const explorer = new ExplorerStore(redis, settings.prefix, settings.queue);
  const abort = new AbortController();
  const events = new EventRecorder(client, settings.eventsNamespace, 'registry-pruner', (reason) =>
    logger.warn(
      { reason },
      'Kubernetes Events cannot be recorded; runs are reported in logs and metrics only',
    ),
  );
  let rate = (): RateBySide => ({ api: settings.apiRate, registry: settings.registryRate });
  const metrics = new PrunerMetrics({
    lastSuccess: () => store.lastSuccess(),
    queueDepth: () =>
      queue.getJobCounts('waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'failed'),
    rate: () => rate(),
    progress: () => store.currentProgress(),
    undo: () => undo.totals(),
  });
  const ctx = new PrunerContext({
    settings,
    client,
    store,
    undo,
    queue: queue as Queue,
    flows,
    logger,
    metrics,
    events,
    failpoints: new Failpoints(settings.failpoint, logger),
    shutdown: abort.signal,
    explorer,
  });
  const dashboard = new Dashboard({
    settings,
    client,
    store,
    undo,
    explorer,
    queue: queue as Queue,
    logger,
    events,
  });
  rate = () => ({ api: ctx.limiters.api.rate, registry: ctx.limiters.registry.rate });
  const keeper = new ScheduleKeeper(client, queue, store, settings, logger);
  const running: { worker?: Worker } = {};
  // Serving first: while Redis is away at start-up, the probes answer (alive, not ready).
  let http: HealthServer;
  try {
    http = await startHealthServer(settings.httpHost, settings.httpPort, {
      notReady: readiness(redis, settings, keeper, () => running.worker),
      metrics: metrics.registry,
      web: (request, response) => dashboard.handle(request, response),
    });
  } catch (error) {
    await Promise.allSettled([queue.close(), flows.close()]);
    redis.disconnect();
    throw error;
  }
  try {
    await keeper.syncOnce();
  } catch (error) {
    await Promise.allSettled([queue.close(), flows.close(), http.close()]);
    redis.disconnect();
    throw error;
  }
  const worker = new Worker<PrunerJobData>(settings.queue, (job, token) => dispatch(job, ctx, token), {
    ...connection,
    name: settings.workerName,
    autorun: false,
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
    limiter: { max: settings.jobsPerSecond, duration: 1000 },
  });
  worker.on('error', (error) => logger.error({ error: error.message }, 'worker error'));
  worker.on(
    'failed',
    (job, error) =>
      void onFailed(job, error, ctx).catch((e: unknown) =>
        logger.error({ error: describeError(e) }, 'cannot record a failed job'),
      ),
  );
  worker.on('stalled', (jobId) =>
    logger.warn({ job: jobId }, 'job stalled (its worker stopped); it goes back to the queue'),
  );
  void worker
    .run()
    .catch((error: unknown) => logger.error({ error: describeError(error) }, 'worker stopped'));
  running.worker = worker;
  keeper.start();
  if (settings.obsolete.length > 0) {
    logger.warn(
      { settings: settings.obsolete },
      'these settings no longer do anything (every registry delete is decided on a live view); remove them',
    );
  }
  logger.info(
    {
      host: http.host,
      port: http.port,
      queue: settings.queue,
      redis: describeRedis(settings.redis),
      confirm: settings.confirm,
      mode: settings.mode,
      cluster: client.server,
      concurrency: settings.concurrency,
    },
    'worker started',
  );
  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop'): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'stopping: no new jobs; the job in hand finishes or is handed back');
      abort.abort();
      await within(keeper.stop(), CLOSE_MS);
      if ((await within(worker.close(), options.shutdownGraceMs ?? 20_000)) === 'timeout') {
        logger.warn(
          'the job in hand did not finish in time; its lock expires and another worker takes it over',
        );
        await within(worker.close(true), CLOSE_MS);
      }
      // With Redis or the API server away, closing waits on connections that never answer: give them a
      // moment, then drop them (nothing is left to write; a job in hand is taken over when its lock expires).
      const closing = (async () => {
        await Promise.allSettled([queue.close(), flows.close(), ctx.close(), http.close()]);
        await redis.quit().catch(() => redis.disconnect());
      })();
      if ((await within(closing, CLOSE_MS)) === 'timeout') {
        logger.warn('Redis or the API server did not answer while closing; connections dropped');
        redis.disconnect();
      }
      logger.info('stopped');
    })());
  return { host: http.host, port: http.port, stop };
}
