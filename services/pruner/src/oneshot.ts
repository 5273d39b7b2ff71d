/**
 * `registry-pruner run`: one prune in this process, no Redis. Reads the ImagePruner CR for the policy (the
 * flags win over it), decides the mode, plans, and carries the plan out only with `confirm`.
 */
import {
  executePlan,
  planPrune,
  pruneClusterOf,
  resolvePrunePolicy,
  takeSnapshot,
  type ClientPruneRegistry,
  type ClusterAccessOptions,
  type PrunePlan,
  type PrunePolicyInput,
  type PruneRunResult,
} from '@registry-push/core';
import { connectCluster, currentMode, openRegistry, readPrunerConfig } from './cluster.js';
import { AdaptiveRateLimiter, throttledClient, throttledCluster, throttledRegistry } from './limiter.js';
import type { ModeSetting, RegistrySettings } from './settings.js';

/** Options of {@link runOnce}. */
export interface RunOnceOptions {
  access: ClusterAccessOptions;
  confirm: boolean;
  mode: ModeSetting;
  /** Policy additions (the CR is read first, these win). */
  policy: PrunePolicyInput;
  registry: RegistrySettings;
  /** Calls per second (adapts down on 429/5xx). */
  rate: number;
  minRate: number;
  /** Units at the same time. Default 5. */
  concurrency?: number;
  /** Told about progress (phases and units). */
  onProgress?: (line: string) => void;
  /**
   * What the returned plan lists: `changes` (default) its deletes and updates, `summary` none (only the
   * counts), which spares a large cluster's run the memory of the list when nobody reads it.
   */
  detail?: 'changes' | 'summary';
}

/** What a one-shot run did. */
export interface RunOnceOutcome {
  plan: PrunePlan;
  result: PruneRunResult;
}

/**
 * Plans and (with `confirm`) carries out one prune.
 *
 * @throws RegistryPushError when something stops the run before any change (credentials, permissions, an
 *   unreadable reference, an unreachable registry in a confirmed full run).
 */
export async function runOnce(options: RunOnceOptions): Promise<RunOnceOutcome> {
  const client = connectCluster(options.access);
  const limiter = new AdaptiveRateLimiter({ ratePerSecond: options.rate, minRatePerSecond: options.minRate });
  const config = await readPrunerConfig(client);
  const mode = await currentMode(client, options.mode);
  const { policy } = resolvePrunePolicy({ ...options.policy, pruner: config.spec });
  let registry: ClientPruneRegistry | undefined;
  if (options.confirm && mode === 'full') registry = await openRegistry(client, options.registry);
  try {
    // The snapshot is let go once planned: a large cluster's would otherwise stay in memory for the whole run.
    const plan = planPrune(
      await takeSnapshot(throttledClient(client, limiter), {
        protectAnnotation: policy.protectAnnotation,
        ignoreInvalidImageReferences: policy.ignoreInvalidImageReferences,
      }),
      policy,
      { mode, now: new Date(), detail: options.detail ?? 'changes' },
    );
    const result = await executePlan(plan, {
      cluster: throttledCluster(pruneClusterOf(client), limiter),
      confirm: options.confirm,
      concurrency: options.concurrency ?? 5,
      checkMode: () => currentMode(client, options.mode),
      ...(registry !== undefined ? { registry: throttledRegistry(registry, limiter) } : {}),
      onProgress: (event) => {
        if (event.type === 'phase') options.onProgress?.(`${event.phase}: ${event.units} unit(s)`);
        if (event.type === 'unit')
          options.onProgress?.(`[${event.done}/${event.total}] ${event.unit}: ${event.status}`);
      },
    });
    return { plan, result };
  } finally {
    await registry?.close();
  }
}
