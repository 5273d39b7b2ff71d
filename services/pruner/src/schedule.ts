/**
 * Keeps the BullMQ job scheduler in step with the ImagePruner CR. The core's client has no watch, so the
 * CR is read every `configPollMs` and compared by resourceVersion; a change upserts the scheduler (a new
 * cron pattern takes effect without a restart) or removes it while `suspend` is true. Every replica does
 * this; the generation stored in Redis keeps a replica that read an older CR from undoing a newer one.
 */
import type { Queue } from 'bullmq';
import { type ClusterClient } from '@registry-push/core';
import { readPrunerConfig, type PrunerConfig } from './cluster.js';
import { describeError, isTransient } from './errors.js';
import { JobNames, SCHEDULER_ID, planJobOptions, type PlanJobData } from './jobs.js';
import type { Logger } from './logger.js';
import type { Settings } from './settings.js';
import type { RunStore } from './store.js';

/** What the keeper last saw. */
export interface ScheduleState {
  config?: PrunerConfig;
  /** The last read or apply failed with this. */
  error?: string;
  /** The last read and apply succeeded. */
  healthy: boolean;
}

/** The scheduler side of the worker. */
export class ScheduleKeeper {
  #timer: NodeJS.Timeout | undefined;
  #appliedVersion: string | undefined;
  #state: ScheduleState = { healthy: false };
  #running: Promise<void> | undefined;

  constructor(
    private readonly client: ClusterClient,
    private readonly queue: Queue<PlanJobData>,
    private readonly store: RunStore,
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  get state(): ScheduleState {
    return this.#state;
  }

  /**
   * Reads the CR once and applies it.
   *
   * @throws The read's error when it is not transient (bad credentials, forbidden), so startup can fail.
   */
  async syncOnce(): Promise<void> {
    let config: PrunerConfig;
    try {
      config = await readPrunerConfig(this.client);
    } catch (error) {
      this.#state = { ...this.#state, healthy: false, error: describeError(error) };
      this.logger.error({ error: describeError(error) }, 'cannot read the ImagePruner CR');
      if (!isTransient(error)) throw error;
      return;
    }
    this.#state = { config, healthy: true };
    const version = config.found ? config.resourceVersion : 'absent';
    if (version === this.#appliedVersion) return;
    try {
      await this.#apply(config);
      this.#appliedVersion = version;
    } catch (error) {
      this.#state = { config, healthy: false, error: describeError(error) };
      this.logger.error(
        { schedule: config.schedule, error: describeError(error) },
        'cannot apply the ImagePruner schedule; the previous one stays',
      );
    }
  }

  async #apply(config: PrunerConfig): Promise<void> {
    const applied = await this.store.getAppliedConfig();
    if (applied !== undefined && config.generation < applied.generation) {
      this.logger.debug(
        { generation: config.generation, applied: applied.generation },
        'an older ImagePruner was read; the newer schedule stays',
      );
      return;
    }
    if (config.suspend) {
      await this.queue.removeJobScheduler(SCHEDULER_ID);
    } else {
      await this.queue.upsertJobScheduler(
        SCHEDULER_ID,
        { pattern: config.schedule, tz: 'UTC' },
        {
          name: JobNames.plan,
          data: { trigger: 'schedule', confirm: this.settings.confirm },
          opts: planJobOptions(this.settings),
        },
      );
    }
    await this.store.putAppliedConfig({
      generation: config.generation,
      resourceVersion: config.resourceVersion,
      schedule: config.schedule,
      suspend: config.suspend,
      historyLimits: { successful: config.successfulHistoryLimit, failed: config.failedHistoryLimit },
      appliedAt: new Date().toISOString(),
      appliedBy: this.settings.workerName,
    });
    if (applied?.schedule !== config.schedule || applied.suspend !== config.suspend) {
      this.logger.info(
        { schedule: config.schedule, suspend: config.suspend, found: config.found },
        config.suspend ? 'schedule suspended' : 'schedule applied',
      );
    }
  }

  /** Polls until {@link stop}. */
  start(): void {
    const tick = (): void => {
      this.#running = this.syncOnce()
        .catch(() => undefined)
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.settings.configPollMs);
        });
    };
    this.#timer = setTimeout(tick, this.settings.configPollMs);
  }

  /** Stops polling (waits for a poll in progress). */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
