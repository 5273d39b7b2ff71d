/**
 * What the job processors of one worker process share: settings, the paced cluster and registry ports,
 * the queue and the store, logging, metrics and events, and a small cache of the runs it works on.
 */
import {
  ExecutionState,
  LinkRestorer,
  LiveView,
  pruneClusterOf,
  type ClientPruneRegistry,
  type ClusterApi,
  type ExecuteOptions,
  type LinkRestoreResult,
  type PruneCluster,
  type PruneRegistry,
  type SnapshotSource,
  type UnitPlanContext,
  type WorkUnit,
} from '@registry-push/core';
import type { FlowProducer, Queue } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { openRegistry, type EventRecorder } from './cluster.js';
import type { Failpoints } from './failpoints.js';
import {
  createRateLimiters,
  observedRegistry,
  pacedSnapshotSource,
  throttledCluster,
  type RateLimiters,
} from './limiter.js';
import type { Logger } from './logger.js';
import { collectWhileReading, releaseMemory } from './memory.js';
import { ModeWatch } from './mode-watch.js';
import type { PrunerMetrics } from './metrics.js';
import type { Settings } from './settings.js';
import type { PlanHead, RunRecord, RunStore } from './store/run-store.js';
import type { UndoStore } from './store/undo-store.js';
import type { ExplorerStore } from './web/explorer.js';

/**
 * A run as a unit job needs it: its record and its plan's head. The units stay in Redis; each job reads its
 * own ({@link PrunerContext.unitsOf}).
 */
export interface LoadedRun {
  record: RunRecord;
  plan: PlanHead;
  context: UnitPlanContext;
}

function noPlan(runId: string): UnrecoverableError {
  return new UnrecoverableError(
    `Run ${runId} has no stored plan (it was trimmed from the history, or Redis lost it); its remaining jobs do nothing.`,
  );
}

/** What a {@link PrunerContext} is made of. */
export interface PrunerContextParts {
  settings: Settings;
  client: ClusterApi;
  store: RunStore;
  /** The undo records of confirmed runs. */
  undo: UndoStore;
  queue: Queue;
  flows: FlowProducer;
  logger: Logger;
  metrics: PrunerMetrics | undefined;
  events: EventRecorder;
  failpoints: Failpoints;
  shutdown: AbortSignal;
  /** Where dry runs store their plan explorer index (the dashboard); none: dry runs store no index. */
  explorer?: ExplorerStore;
}

/** How long one registry client (and the token in it) is used before a new one is made. */
const REGISTRY_MAX_AGE_MS = 5 * 60_000;
/** How long the live view is kept after its last use (it holds every Image's digests). */
const VIEW_IDLE_MS = 10 * 60_000;
/**
 * Objects of the live view's first lists read between two memory-reducing collections (about 0.2 s each at
 * 100k Images: 5 while that view is built).
 */
const VIEW_RELEASE_EVERY = 25_000;

/** The live view of one protect annotation, and the restorer of the links its runs removed. */
interface ViewHolder {
  annotation: string;
  started: Promise<LiveView>;
  restorer: Promise<LinkRestorer>;
  idle: NodeJS.Timeout | undefined;
  /** The view, once started. */
  view?: LiveView;
}

/** Everything the processors share in one worker process. */
export class PrunerContext {
  /** The pace of API server calls and, separately, of registry calls. */
  readonly limiters: RateLimiters;
  /** The snapshot's source, every page of its lists paced. */
  readonly snapshotSource: SnapshotSource;
  /** The executor's cluster port, paced. */
  readonly cluster: PruneCluster;
  readonly settings: Settings;
  /** The client as configured (unpaced), for the mode checks and events. */
  readonly client: ClusterApi;
  readonly store: RunStore;
  readonly undo: UndoStore;
  readonly explorer: ExplorerStore | undefined;
  readonly queue: Queue;
  readonly flows: FlowProducer;
  readonly logger: Logger;
  readonly metrics: PrunerMetrics | undefined;
  readonly events: EventRecorder;
  readonly failpoints: Failpoints;
  /** Aborted when the process is asked to stop. */
  readonly shutdown: AbortSignal;
  /** The mode each unit's registry deletes may use, from a watch of the registry operator's config. */
  readonly mode: ModeWatch;
  /** The run being worked on, loaded or loading. */
  readonly #runs = new Map<string, Promise<LoadedRun>>();
  #registry: { client: ClientPruneRegistry; port: PruneRegistry; at: number } | undefined;
  #view: ViewHolder | undefined;

  constructor(parts: PrunerContextParts) {
    this.settings = parts.settings;
    this.client = parts.client;
    this.store = parts.store;
    this.undo = parts.undo;
    this.explorer = parts.explorer;
    this.queue = parts.queue;
    this.flows = parts.flows;
    this.logger = parts.logger;
    this.metrics = parts.metrics;
    this.events = parts.events;
    this.failpoints = parts.failpoints;
    this.shutdown = parts.shutdown;
    this.limiters = createRateLimiters(
      parts.settings,
      (side, rate, reason) => parts.logger.info({ side, rate, reason }, 'call rate changed'),
      (side, ms) => parts.logger.warn({ side, ms }, 'calls paused (Retry-After)'),
    );
    this.snapshotSource = pacedSnapshotSource(parts.client, this.limiters.api);
    this.cluster = throttledCluster(pruneClusterOf(parts.client), this.limiters.api);
    this.mode = new ModeWatch(parts.client, parts.settings.mode, (error) =>
      parts.logger.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'cannot watch the registry operator config (the role needs list and watch on configs); reading it before each unit instead',
      ),
    );
  }

  /** The registry port (paced, with a token at most five minutes old), for confirmed full runs. */
  async registry(): Promise<PruneRegistry> {
    const now = Date.now();
    if (this.#registry !== undefined && now - this.#registry.at < REGISTRY_MAX_AGE_MS)
      return this.#registry.port;
    const old = this.#registry;
    const client = await openRegistry(this.client, this.settings.registry);
    // The executor takes each delete's slot (and passes the failpoint) before it decides the delete, so
    // the calls here only report back to the limiter: no wait between a decision and its call.
    const port = observedRegistry(
      {
        ...client,
        deleteLayerLink: async (repository, digest) => {
          await this.failpoints.hit('layer-link-delete');
          return client.deleteLayerLink(repository, digest);
        },
      },
      this.limiters.registry,
    );
    this.#registry = { client, port, at: now };
    // Calls in flight on the old client finish first.
    if (old !== undefined) setTimeout(() => void old.client.close(), 60_000).unref();
    return port;
  }

  /** Before each registry delete is decided: the failpoint, then the limiter's slot. */
  async #registrySlot(): Promise<void> {
    await this.failpoints.hit('registry-delete');
    await this.limiters.registry.acquire();
  }

  /**
   * The stored run (cached; the plan of a run never changes). The jobs of a worker that start together share
   * one load.
   */
  loadRun(runId: string): Promise<LoadedRun> {
    const cached = this.#runs.get(runId);
    if (cached !== undefined) return cached;
    const loading = this.#loadRun(runId);
    this.#runs.clear();
    this.#runs.set(runId, loading);
    // A failed load is not kept: the next job tries again.
    loading.catch(() => {
      if (this.#runs.get(runId) === loading) this.#runs.delete(runId);
    });
    return loading;
  }

  async #loadRun(runId: string): Promise<LoadedRun> {
    const [record, plan] = await Promise.all([this.store.getRun(runId), this.store.getPlanHead(runId)]);
    if (record === undefined || plan === undefined) throw noPlan(runId);
    return { record, plan, context: { mode: plan.mode, protectAnnotation: plan.policy.protectAnnotation } };
  }

  /**
   * The units of `run` a job works on, read from Redis (a worker never holds the whole plan: at 100k
   * Images its units are 60 MB of JSON).
   *
   * @throws UnrecoverableError when one is not a unit of that type in the run's plan.
   */
  async unitsOf<T extends WorkUnit['type']>(
    run: LoadedRun,
    ids: readonly string[],
    type: T,
  ): Promise<Extract<WorkUnit, { type: T }>[]> {
    const runId = run.record.runId;
    const found = await this.store.getUnits(runId, ids);
    return ids.map((id) => {
      const unit = found.get(id);
      if (found.size === 0) throw noPlan(runId);
      if (unit?.type !== type)
        throw new UnrecoverableError(`Unit ${id} is not among the ${type} units of run ${runId}.`);
      return unit as Extract<WorkUnit, { type: T }>;
    });
  }

  /**
   * How units of `run` are executed in this process. A run with an undo window (`record.undoWindowMs`)
   * records every removal first; in full mode with a window its registry deletes wait for the registry
   * phase.
   */
  async executeOptions(run: LoadedRun): Promise<ExecuteOptions> {
    const options = await this.#optionsFor({
      runId: run.record.runId,
      dryRun: run.record.dryRun,
      mode: run.plan.mode,
      protectAnnotation: run.plan.policy.protectAnnotation,
    });
    const window = run.record.undoWindowMs;
    if (options.confirm !== true || window === undefined) return options;
    const runId = run.record.runId;
    return {
      ...options,
      recordRemoval: (record) => this.undo.append(runId, record),
      ...(run.plan.mode === 'full' && window > 0 ? { phase: 'metadata' as const } : {}),
    };
  }

  /** The options of a run's delayed registry phase (its plan may have expired: the record says enough). */
  registryPhaseOptions(runId: string, protectAnnotation: string): Promise<ExecuteOptions> {
    return this.#optionsFor({ runId, dryRun: false, mode: 'full', protectAnnotation }).then((options) => ({
      ...options,
      phase: 'registry' as const,
    }));
  }

  async #optionsFor(run: {
    runId: string;
    dryRun: boolean;
    mode: UnitPlanContext['mode'];
    protectAnnotation: string;
  }): Promise<ExecuteOptions> {
    const confirm = !run.dryRun;
    if (!confirm) return { cluster: this.cluster, confirm };
    const full = run.mode === 'full';
    const holder = this.#liveView(run.protectAnnotation);
    const [view, restorer] = await Promise.all([holder.started, holder.restorer]);
    return {
      cluster: this.cluster,
      confirm,
      view,
      ...(full
        ? {
            registry: await this.registry(),
            registrySlot: () => this.#registrySlot(),
            registryConcurrency: this.settings.registryConcurrency,
          }
        : {}),
      onLayerLinkDeleted: (repository, digest) => void restorer.removed(repository, digest, run.runId),
      // Asked before each unit's registry deletes: a registry that left Managed is no longer touched.
      checkMode: () => {
        this.mode.start();
        return this.mode.current();
      },
    };
  }

  /**
   * The worker's live view of Images and streams (started on first use, shared by every job of this
   * process, stopped after ten idle minutes), and the restorer of the layer links its runs remove.
   */
  #liveView(annotation: string): ViewHolder {
    let holder = this.#view;
    if (holder?.annotation !== annotation) {
      if (holder !== undefined) void this.#stopView(holder);
      const started = (async () => {
        const view = new LiveView(this.client, {
          protectAnnotation: annotation,
          pace: () => this.limiters.api.acquire(),
          onError: (error) =>
            this.logger.warn({ code: error.code, error: error.message }, 'watch interrupted; resuming'),
          // As while a snapshot is read, the list pages' garbage is collected as it goes, and here the
          // emptied pages go back to the system too: with ordinary collections every 10k objects the view of
          // 100k Images took the worker to 480 MiB, 176 of them pooled pages given back only at the end.
          onProgress: collectWhileReading({ collect: releaseMemory, every: VIEW_RELEASE_EVERY }),
        });
        const started = Date.now();
        await view.start();
        // The pages the lists went through stay in V8's page pool, resident, for the rest of the run
        // (measured at 100k Images: 950 pages of 256 KiB where the heap used 550): hand them back.
        releaseMemory();
        this.logger.info({ ...view.size, ms: Date.now() - started }, 'live view of Images and streams ready');
        return view;
      })();
      const restorer = started.then(
        (view) =>
          new LinkRestorer({
            view,
            // The registry client is renewed now and then; restores use the current one.
            registry: {
              restoreLayerLink: async (repository, digest, from) =>
                (await this.registry()).restoreLayerLink?.(repository, digest, from) ?? false,
            },
            onRestore: (result) => this.#restored(result),
          }),
      );
      const created: ViewHolder = { annotation, started, restorer, idle: undefined };
      holder = created;
      started.then(
        (view) => {
          created.view = view;
        },
        () => undefined,
      );
      this.#view = holder;
      // A view that failed to start is dropped, so the next job tries again.
      started.catch(() => {
        if (this.#view === holder) this.#view = undefined;
      });
    }
    if (holder.idle !== undefined) clearTimeout(holder.idle);
    const current = holder;
    holder.idle = setTimeout(() => {
      if (this.#view === current) this.#view = undefined;
      void this.#stopView(current);
    }, VIEW_IDLE_MS).unref();
    return holder;
  }

  /**
   * How many catch-ups the live view served and how many of them needed a short watch (for the log lines
   * at the phase change and the run's end); undefined while no view runs.
   */
  viewStats(): { catchUps: number; probes: number } | undefined {
    return this.#view?.view?.stats;
  }

  /** A link a run removed and a push needed again: logged, counted, and added to the run's progress. */
  #restored(result: LinkRestoreResult): void {
    const level = result.outcome === 'restored' ? 'info' : 'warn';
    this.logger[level](result, 'a push needed a removed layer link again');
    this.metrics?.recordRestore(result.outcome);
    if (result.origin === undefined) return;
    this.store
      .countRestore(result.origin, result.outcome === 'restored')
      .catch((error: unknown) =>
        this.logger.warn({ error: String(error) }, 'cannot count a link restore in the run'),
      );
  }

  async #stopView(holder: ViewHolder): Promise<void> {
    if (holder.idle !== undefined) clearTimeout(holder.idle);
    const [view, restorer] = await Promise.allSettled([holder.started, holder.restorer]);
    if (restorer.status === 'fulfilled') await restorer.value.stop();
    if (view.status === 'fulfilled') await view.value.stop();
    // Every Image's digests were in the view: give its memory back while the worker waits for work.
    releaseMemory();
  }

  /** Fresh per job: the state of one batch. */
  newState(unsettled: readonly string[] = []): ExecutionState {
    const state = new ExecutionState();
    for (const id of unsettled) state.unsettledStreams.add(id);
    return state;
  }

  /** Stops the live view and closes the registry client. */
  async close(): Promise<void> {
    await this.mode.stop();
    if (this.#view !== undefined) await this.#stopView(this.#view);
    this.#view = undefined;
    await this.#registry?.client.close();
    this.#registry = undefined;
  }
}
