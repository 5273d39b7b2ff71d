/**
 * The producer side, for `enqueue` and `status`: add a trigger, follow a run to its end, read the history
 * and the schedule. These connect to Redis only (no cluster access needed).
 */
import { Queue } from 'bullmq';
import type { PruneRunResult } from '@registry-push/core';
import { PrunerError } from './errors.js';
import { JobNames, SCHEDULER_ID, newManualRunId, planJobOptions, type PlanJobData } from './jobs.js';
import { connectRedis, describeRedis, pingRedis, redisReady, type RedisConnection } from './redis.js';
import type { Settings } from './settings.js';
import { RedisRunStore } from './store/redis-run-store.js';
import { RedisUndoStore } from './store/redis-undo-store.js';
import {
  runIsOver,
  type AppliedConfig,
  type RunProgress,
  type RunRecord,
  type RunStore,
} from './store/run-store.js';
import type { UndoHead, UndoStore } from './store/undo-store.js';
import { ExplorerStore } from './web/explorer.js';

/** How long one `enqueue` or `status` waits for Redis (it may be restarting). */
const COMMAND_DEADLINE_MS = 30_000;

/** Least time one read of `waitForRun` gets, so a read just before the deadline is not cut off at once. */
const READ_GRACE_MS = 5_000;

/** Marks a {@link PrunerClient} deadline that passed. */
class RedisLate extends Error {}

/** A connection to the pruner's queue and store. */
export class PrunerClient {
  readonly queue: Queue<PlanJobData>;
  readonly store: RunStore;
  readonly undo: UndoStore;
  /** The dry runs' plan explorer indexes (for `explain`). */
  readonly explorer: ExplorerStore;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly settings: Settings,
  ) {
    this.queue = new Queue<PlanJobData>(settings.queue, { connection: redis, prefix: settings.prefix });
    // BullMQ re-emits connection errors on the queue and, with no listener, prints each with its stack.
    // Redis being away is handled by the deadlines below; the messages say what it means.
    this.queue.on('error', () => undefined);
    this.store = new RedisRunStore(redis, settings.prefix, settings.queue);
    this.undo = new RedisUndoStore(redis, settings.prefix, settings.queue);
    this.explorer = new ExplorerStore(redis, settings.prefix, settings.queue);
  }

  /**
   * Connects and checks that Redis answers.
   *
   * @throws PrunerError `PRUNER_REDIS_UNREACHABLE`.
   */
  static async connect(settings: Settings): Promise<PrunerClient> {
    const redis = connectRedis(settings.redis, 'client');
    redis.on('error', () => undefined);
    try {
      await pingRedis(redis, settings.redis);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return new PrunerClient(redis, settings);
  }

  /**
   * `work`, unless Redis does not answer within `ms` (commands wait while it is away).
   *
   * @throws PrunerError `PRUNER_REDIS_UNREACHABLE` naming `doing`.
   */
  async #within<T>(ms: number, doing: string, work: () => Promise<T>, hint?: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisLate()), Math.max(ms, 0));
    });
    try {
      return await Promise.race([work(), late]);
    } catch (error) {
      if (!(error instanceof RedisLate) && error instanceof PrunerError) throw error;
      throw new PrunerError(
        'PRUNER_REDIS_UNREACHABLE',
        `Redis (${describeRedis(this.settings.redis)}) did not answer ${doing} within ${Math.round(ms / 1000)} s${error instanceof RedisLate ? '' : ` (${(error as Error).message})`}.`,
        {
          hint: hint ?? 'Check that Redis is running and reachable, then try again.',
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Adds a manual trigger; a worker starts the run unless another one is in progress. `approve` names the
   * dry run (run id) whose plan the confirmed run carries out.
   */
  async enqueue(confirm: boolean, approve?: string): Promise<string> {
    const runId = newManualRunId();
    await this.#within(COMMAND_DEADLINE_MS, 'to the trigger', () =>
      this.queue.add(
        JobNames.plan,
        { trigger: 'manual', confirm, ...(approve !== undefined ? { approve } : {}) },
        { ...planJobOptions(this.settings), jobId: runId },
      ),
    );
    return runId;
  }

  /**
   * Waits until the run is over (or was rejected). A Redis restart in the meantime is ridden out: reads wait
   * for the connection to come back, up to the deadline.
   *
   * @throws PrunerError `PRUNER_TIMEOUT` when it is not over within `timeoutMs`;
   *   `PRUNER_REDIS_UNREACHABLE` when Redis is away at the deadline; `PRUNER_RUN_NOT_FOUND` when Redis
   *   came back without the run (it lost its data), so waiting longer cannot help.
   */
  async waitForRun(
    runId: string,
    timeoutMs: number,
    pollMs = 250,
  ): Promise<{ record: RunRecord; result?: PruneRunResult }> {
    const deadline = Date.now() + timeoutMs;
    const total = `${Math.round(timeoutMs / 1000)} s`;
    const goesOn = `If Redis keeps its data, run ${runId} goes on in the workers: follow it with \`registry-pruner status\` once Redis is back.`;
    const read = <T>(doing: string, work: () => Promise<T>): Promise<T> =>
      this.#within(Math.max(deadline - Date.now(), READ_GRACE_MS), doing, work, goesOn).catch(
        (error: unknown) => {
          if (
            error instanceof PrunerError &&
            error.code === 'PRUNER_REDIS_UNREACHABLE' &&
            !redisReady(this.redis)
          )
            throw new PrunerError(
              'PRUNER_REDIS_UNREACHABLE',
              `Redis (${describeRedis(this.settings.redis)}) went away while waiting for run ${runId} and was not back within --timeout (${total}).`,
              { hint: goesOn, cause: error },
            );
          throw error;
        },
      );
    for (;;) {
      const record = await read('while waiting for the run', () => this.store.getRun(runId));
      if (record !== undefined && ['succeeded', 'failed', 'rejected'].includes(record.status)) {
        const result = await read('while reading the result', () => this.store.getResult(runId));
        return result === undefined ? { record } : { record, result };
      }
      // Neither the trigger nor a record: Redis restarted without its data (or someone deleted the run).
      // Read the record again after the job, as a worker may have just turned one into the other.
      if (
        record === undefined &&
        (await read('while waiting for the run', () => this.queue.getJob(runId))) === undefined &&
        (await read('while waiting for the run', () => this.store.getRun(runId))) === undefined
      ) {
        throw new PrunerError(
          'PRUNER_RUN_NOT_FOUND',
          `Run ${runId} is gone from Redis (neither its trigger nor its record is there): Redis lost its data, restarted without persistence, or the run was deleted; it will not finish.`,
          {
            hint: 'Give Redis persistent storage (appendonly), see the workers with `registry-pruner status`, and trigger a new run with `registry-pruner enqueue`.',
          },
        );
      }
      if (Date.now() > deadline) {
        throw new PrunerError(
          'PRUNER_TIMEOUT',
          `Run ${runId} is not over after ${total} (${record === undefined ? 'no worker has taken the trigger yet' : record.status}).`,
          {
            hint: 'It goes on in the background; follow it with `registry-pruner status`.',
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** What `status` shows. */
  async status(limit: number): Promise<StatusReport> {
    return this.#within(COMMAND_DEADLINE_MS, 'to the status reads', () => this.#status(limit));
  }

  #status(limit: number): Promise<StatusReport> {
    return readStatus(this.queue as Queue, this.store, this.undo, limit);
  }

  #closing: Promise<void> | undefined;

  /**
   * Closes the connection, within about 4 s; at once when Redis is away (a polite QUIT would wait for it to
   * come back). A second call (a signal while the command ends) waits for the first.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    if (!redisReady(this.redis)) this.redis.disconnect();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.queue.close().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, 2_000))),
    ]);
    clearTimeout(timer);
    if (!redisReady(this.redis)) {
      this.redis.disconnect();
      return;
    }
    // QUIT waits for the answer: a Redis that stopped answering would hold the exit.
    await Promise.race([
      this.redis.quit().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, 2_000))),
    ]);
    clearTimeout(timer);
    this.redis.disconnect();
  }
}

/** The schedule, the run in progress, the last runs and the queue. */
export interface StatusReport {
  schedule: { active: boolean; suspended?: boolean; pattern?: string; next?: string; tz?: string };
  appliedConfig?: AppliedConfig;
  activeRun?: string;
  /** Progress of the run in progress, once its plan is stored. */
  activeProgress?: RunProgress;
  lastSuccess?: string;
  queue: Record<string, number>;
  runs: RunRecord[];
  /** Runs whose removals can still be restored (`registry-pruner restore RUN`). */
  undoWindows: UndoHead[];
}

/**
 * What `status` shows, read from the queue and the store (the dashboard's overview reads the same).
 *
 * @param undo The undo records (the runs still in their window are listed).
 * @param limit How many runs to list, newest first.
 */
export async function readStatus(
  jobs: Queue,
  store: RunStore,
  undo: UndoStore,
  limit: number,
): Promise<StatusReport> {
  const [scheduler, applied, activeRun, runs, queue, lastSuccess, windows] = await Promise.all([
    jobs.getJobScheduler(SCHEDULER_ID),
    store.getAppliedConfig(),
    store.lockHolder(),
    store.listRuns(limit),
    jobs.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'waiting-children',
      'prioritized',
      'failed',
      'completed',
    ),
    store.lastSuccess(),
    undo.list(),
  ]);
  // Runs in progress show their live counters; ended ones keep theirs in the record.
  await Promise.all(
    runs
      .filter((run) => !runIsOver(run.status))
      .map(async (run) => {
        const progress = await store.getProgress(run.runId);
        if (progress !== undefined) run.progress = progress;
      }),
  );
  const activeProgress =
    activeRun === undefined
      ? undefined
      : (runs.find((run) => run.runId === activeRun)?.progress ?? (await store.getProgress(activeRun)));
  return {
    schedule:
      scheduler === undefined
        ? { active: false, ...(applied?.suspend === true ? { suspended: true } : {}) }
        : {
            active: true,
            ...(scheduler.pattern !== undefined ? { pattern: scheduler.pattern } : {}),
            ...(scheduler.next !== undefined ? { next: new Date(scheduler.next).toISOString() } : {}),
            ...(scheduler.tz !== undefined ? { tz: scheduler.tz } : {}),
          },
    ...(applied !== undefined ? { appliedConfig: applied } : {}),
    ...(activeRun !== undefined ? { activeRun } : {}),
    ...(activeProgress !== undefined ? { activeProgress } : {}),
    ...(lastSuccess !== undefined ? { lastSuccess: new Date(lastSuccess).toISOString() } : {}),
    queue,
    runs,
    undoWindows: windows.filter((head) => head.state === 'open' || head.state === 'recording'),
  };
}
