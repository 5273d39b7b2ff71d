/**
 * What the job processors of one worker process share: settings, the paced cluster and registry ports,
 * the queue and the store, logging, metrics and events, and a small cache of the runs it works on.
 */
import {
  ExecutionState,
  pruneClusterOf,
  type ClientPruneRegistry,
  type ClusterClient,
  type ExecuteOptions,
  type PruneCluster,
  type PruneRegistry,
  type UnitPlanContext,
  type WorkUnit,
} from '@registry-push/core';
import type { FlowProducer, Queue } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { currentMode, openRegistry, type EventRecorder } from './cluster.js';
import type { Failpoints } from './failpoints.js';
import {
  createRateLimiters,
  throttledClient,
  throttledCluster,
  throttledRegistry,
  type RateLimiters,
} from './limiter.js';
import type { Logger } from './logger.js';
import type { PrunerMetrics } from './metrics.js';
import type { Settings } from './settings.js';
import type { RunRecord, RunStore, StoredPlan } from './store.js';

/** A run as a unit job needs it. */
export interface LoadedRun {
  record: RunRecord;
  plan: StoredPlan;
  units: Map<string, WorkUnit>;
  context: UnitPlanContext;
}

/** What a {@link PrunerContext} is made of. */
export interface PrunerContextParts {
  settings: Settings;
  client: ClusterClient;
  store: RunStore;
  queue: Queue;
  flows: FlowProducer;
  logger: Logger;
  metrics: PrunerMetrics | undefined;
  events: EventRecorder;
  failpoints: Failpoints;
  shutdown: AbortSignal;
}

/** How long one registry client (and the token in it) is used before a new one is made. */
const REGISTRY_MAX_AGE_MS = 5 * 60_000;

/** Everything the processors share in one worker process. */
export class PrunerContext {
  /** The pace of API server calls and, separately, of registry calls. */
  readonly limiters: RateLimiters;
  /** The client with its calls paced (for the snapshot). */
  readonly pacedClient: ClusterClient;
  /** The executor's cluster port, paced. */
  readonly cluster: PruneCluster;
  readonly settings: Settings;
  /** The client as configured (unpaced), for the mode checks and events. */
  readonly client: ClusterClient;
  readonly store: RunStore;
  readonly queue: Queue;
  readonly flows: FlowProducer;
  readonly logger: Logger;
  readonly metrics: PrunerMetrics | undefined;
  readonly events: EventRecorder;
  readonly failpoints: Failpoints;
  /** Aborted when the process is asked to stop. */
  readonly shutdown: AbortSignal;
  readonly #runs = new Map<string, LoadedRun>();
  #registry: { client: ClientPruneRegistry; port: PruneRegistry; at: number } | undefined;

  constructor(parts: PrunerContextParts) {
    this.settings = parts.settings;
    this.client = parts.client;
    this.store = parts.store;
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
    this.pacedClient = throttledClient(parts.client, this.limiters.api);
    this.cluster = throttledCluster(pruneClusterOf(parts.client), this.limiters.api);
  }

  /** The registry port (paced, with a token at most five minutes old), for confirmed full runs. */
  async registry(): Promise<PruneRegistry> {
    const now = Date.now();
    if (this.#registry !== undefined && now - this.#registry.at < REGISTRY_MAX_AGE_MS)
      return this.#registry.port;
    const old = this.#registry;
    const client = await openRegistry(this.client, this.settings.registry);
    const paced = throttledRegistry(client, this.limiters.registry);
    const port: PruneRegistry = {
      deleteManifest: async (repository, digest) => (
        await this.#beforeDelete(),
        paced.deleteManifest(repository, digest)
      ),
      deleteLayerLink: async (repository, digest) => (
        await this.#beforeDelete(),
        paced.deleteLayerLink(repository, digest)
      ),
      deleteBlob: async (digest) => (await this.#beforeDelete(), paced.deleteBlob(digest)),
    };
    this.#registry = { client, port, at: now };
    // Calls in flight on the old client finish first.
    if (old !== undefined) setTimeout(() => void old.client.close(), 60_000).unref();
    return port;
  }

  async #beforeDelete(): Promise<void> {
    await this.failpoints.hit('registry-delete');
  }

  /** The stored run (cached; the plan of a run never changes). */
  async loadRun(runId: string): Promise<LoadedRun> {
    const cached = this.#runs.get(runId);
    if (cached !== undefined) return cached;
    const [record, plan] = await Promise.all([this.store.getRun(runId), this.store.getPlan(runId)]);
    if (record === undefined || plan === undefined) {
      throw new UnrecoverableError(
        `Run ${runId} has no stored plan (it was trimmed from the history, or Redis lost it); its remaining jobs do nothing.`,
      );
    }
    const loaded: LoadedRun = {
      record,
      plan,
      units: new Map(plan.units.map((unit) => [unit.id, unit])),
      context: { mode: plan.mode, protectAnnotation: plan.policy.protectAnnotation },
    };
    this.#runs.clear();
    this.#runs.set(runId, loaded);
    return loaded;
  }

  /** How units of `run` are executed in this process. */
  async executeOptions(run: LoadedRun): Promise<ExecuteOptions> {
    const confirm = !run.record.dryRun;
    return {
      cluster: this.cluster,
      confirm,
      freshnessMs: this.settings.freshnessMs,
      ...(confirm && run.plan.mode === 'full' ? { registry: await this.registry() } : {}),
      // Asked before each unit's registry deletes: a registry that left Managed is no longer touched.
      checkMode: () => currentMode(this.client, this.settings.mode),
    };
  }

  /** Fresh per job: the state of one batch. */
  newState(unsettled: readonly string[] = []): ExecutionState {
    const state = new ExecutionState();
    for (const id of unsettled) state.unsettledStreams.add(id);
    return state;
  }

  /** Closes the registry client. */
  async close(): Promise<void> {
    await this.#registry?.client.close();
    this.#registry = undefined;
  }
}
