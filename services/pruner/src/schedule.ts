/**
 * Keeps the BullMQ job scheduler in step with the ImagePruner CR. The CR is watched (the core's informer),
 * so a change applies within a second; when the watch cannot be established (a role without `watch` or
 * `list` on imagepruners) the keeper says so once and reads the CR every `configPollMs` instead. Either way
 * it is compared by resourceVersion; a change upserts the scheduler (a new cron pattern takes effect
 * without a restart) or removes it while `suspend` is true. Every replica does this; the generation stored
 * in Redis keeps a replica that read an older CR from undoing a newer one.
 */
import type { Queue } from 'bullmq';
import { RegistryNames, Resources, type ClusterApi, Informer, type ImagePruner } from '@registry-push/core';
import { prunerConfigOf, readPrunerConfig, type PrunerConfig } from './cluster.js';
import { describeError, isTransient } from './errors.js';
import { JobNames, SCHEDULER_ID, planJobOptions, type PlanJobData } from './jobs.js';
import type { Logger } from './logger.js';
import type { Settings } from './settings.js';
import type { RunStore } from './store/run-store.js';

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
  #informer: Informer | undefined;
  #stopped = false;
  /** Serializes applies: a watch event and a poll never apply at the same time. */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ClusterApi,
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
    await this.#consider(config);
  }

  /** Applies a config read or watched, unless its resourceVersion is the one applied last. */
  async #consider(config: PrunerConfig): Promise<void> {
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

  /** Watches the CR (polling as the fallback) until {@link stop}. */
  start(): void {
    const informer = new Informer<ImagePruner>(this.client, Resources.imagePruner, {
      fieldSelector: `metadata.name=${RegistryNames.operatorConfig}`,
      onEvent: (event) => {
        const object = event.type === 'DELETED' ? undefined : event.object;
        return this.#serial(() => this.#consider(prunerConfigOf(object)));
      },
      onError: (error) => {
        // GONE is routine (a re-list follows); other failures are retried by the informer and logged here.
        if (error.code !== 'GONE')
          this.logger.debug({ error: describeError(error) }, 'ImagePruner watch failed');
      },
    });
    this.#informer = informer;
    informer.start();
    informer.waitForSync().then(
      () => this.logger.debug({}, 'watching the ImagePruner CR'),
      (error: unknown) => this.#fallBack(error),
    );
  }

  /** The watch cannot go on (its informer stopped on a failure retrying cannot fix): poll instead, said once. */
  #fallBack(error: unknown): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.logger.warn(
      { error: describeError(error), pollMs: this.settings.configPollMs },
      'cannot watch the ImagePruner CR (the role needs list and watch on imagepruners); reading it every PRUNER_CONFIG_POLL_MS instead',
    );
    this.#poll();
  }

  #serial(step: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(step, step);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** The fallback: reads the CR every `configPollMs`. */
  #poll(): void {
    const tick = (): void => {
      this.#running = this.#serial(() => this.syncOnce())
        .catch(() => undefined)
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.settings.configPollMs);
        });
    };
    this.#timer = setTimeout(tick, this.settings.configPollMs);
  }

  /** Stops watching or polling (waits for an apply in progress). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#informer?.stop();
    await this.#running;
    await this.#queue;
  }
}
