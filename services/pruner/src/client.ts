/**
 * The producer side, for `enqueue` and `status`: add a trigger, follow a run to its end, read the history
 * and the schedule. These connect to Redis only (no cluster access needed).
 */
import { Queue } from 'bullmq';
import type { PruneRunResult } from '@registry-push/core';
import { PrunerError } from './errors.js';
import { JobNames, SCHEDULER_ID, newManualRunId, planJobOptions, type PlanJobData } from './jobs.js';
import { connectRedis, pingRedis, type RedisConnection } from './redis.js';
import type { Settings } from './settings.js';
import { RunStore, type AppliedConfig, type RunRecord } from './store.js';

/** A connection to the pruner's queue and store. */
export class PrunerClient {
  readonly queue: Queue<PlanJobData>;
  readonly store: RunStore;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly settings: Settings,
  ) {
    this.queue = new Queue<PlanJobData>(settings.queue, { connection: redis, prefix: settings.prefix });
    this.store = new RunStore(redis, settings.prefix, settings.queue);
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

  /** Adds a manual trigger; a worker starts the run unless another one is in progress. */
  async enqueue(confirm: boolean): Promise<string> {
    const runId = newManualRunId();
    await this.queue.add(
      JobNames.plan,
      { trigger: 'manual', confirm },
      { ...planJobOptions(this.settings), jobId: runId },
    );
    return runId;
  }

  /**
   * Waits until the run is over (or was rejected).
   *
   * @throws PrunerError `PRUNER_TIMEOUT` when it is not over within `timeoutMs`.
   */
  async waitForRun(
    runId: string,
    timeoutMs: number,
    pollMs = 250,
  ): Promise<{ record: RunRecord; result?: PruneRunResult }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.store.getRun(runId);
      if (record !== undefined && ['succeeded', 'failed', 'rejected'].includes(record.status)) {
        const result = await this.store.getResult(runId);
        return result === undefined ? { record } : { record, result };
      }
      if (Date.now() > deadline) {
        throw new PrunerError(
          'PRUNER_TIMEOUT',
          `Run ${runId} is not over after ${Math.round(timeoutMs / 1000)} s (${record === undefined ? 'no worker has taken the trigger yet' : record.status}).`,
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
    const [scheduler, applied, activeRun, runs, queue, lastSuccess] = await Promise.all([
      this.queue.getJobScheduler(SCHEDULER_ID),
      this.store.getAppliedConfig(),
      this.store.lockHolder(),
      this.store.listRuns(limit),
      this.queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'waiting-children',
        'prioritized',
        'failed',
        'completed',
      ),
      this.store.lastSuccess(),
    ]);
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
      ...(lastSuccess !== undefined ? { lastSuccess: new Date(lastSuccess).toISOString() } : {}),
      queue,
      runs,
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** The schedule, the run in progress, the last runs and the queue. */
export interface StatusReport {
  schedule: { active: boolean; suspended?: boolean; pattern?: string; next?: string; tz?: string };
  appliedConfig?: AppliedConfig;
  activeRun?: string;
  lastSuccess?: string;
  queue: Record<string, number>;
  runs: RunRecord[];
}
