/**
 * `registry-pruner run`: one prune in this process, no Redis. Reads the ImagePruner CR for the policy (the
 * flags win over it), decides the mode, plans, and carries the plan out only with `confirm`.
 */
import {
  executePlan,
  LinkRestorer,
  LiveView,
  planPrune,
  pruneClusterOf,
  resolvePrunePolicy,
  takeSnapshot,
  snapshotSourcesOf,
  type ClientPruneRegistry,
  type ClusterAccessOptions,
  type PrunePlan,
  type PrunePolicyInput,
  type PruneRunResult,
} from '@registry-push/core';
import { connectCluster, currentMode, openRegistry, readPrunerConfig } from './cluster.js';
import { ModeWatch } from './mode-watch.js';
import {
  createRateLimiters,
  observedRegistry,
  pacedSnapshotSource,
  throttledCluster,
  type RateSettings,
} from './limiter.js';
import type { ModeSetting, RegistrySettings } from './settings.js';

/** Options of {@link runOnce}. */
export interface RunOnceOptions {
  access: ClusterAccessOptions;
  confirm: boolean;
  mode: ModeSetting;
  /** Policy additions (the CR is read first, these win). */
  policy: PrunePolicyInput;
  registry: RegistrySettings;
  /** Calls per second to the API server and to the registry (each adapts down on its own 429/5xx). */
  rates: RateSettings;
  /** Units at the same time. Default 5. */
  concurrency?: number;
  /** Told about progress (phases and units, and layer links a concurrent push needed again). */
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
  const limiters = createRateLimiters(options.rates);
  const config = await readPrunerConfig(client);
  const mode = await currentMode(client, options.mode);
  const { policy } = resolvePrunePolicy({ ...options.policy, pruner: config.spec });
  let registry: ClientPruneRegistry | undefined;
  if (options.confirm && mode === 'full') registry = await openRegistry(client, options.registry);
  try {
    // The snapshot is let go once planned: a large cluster's would otherwise stay in memory for the whole run.
    const plan = planPrune(
      await takeSnapshot(pacedSnapshotSource(client, limiters.api), {
        protectAnnotation: policy.protectAnnotation,
        ignoreInvalidImageReferences: policy.ignoreInvalidImageReferences,
        // Custom resources that use images, and namespaces' own retention rules, when the policy has them.
        ...snapshotSourcesOf(policy),
      }),
      policy,
      { mode, now: new Date(), detail: options.detail ?? 'changes' },
    );
    // A confirmed run decides every delete on a live view of Images and streams, and puts back layer links
    // that a push made during the run needs (until the run ends: this process does not outlive it).
    const view = options.confirm
      ? new LiveView(client, {
          protectAnnotation: policy.protectAnnotation,
          pace: () => limiters.api.acquire(),
        })
      : undefined;
    await view?.start();
    const restorer =
      view !== undefined && registry !== undefined
        ? new LinkRestorer({
            view,
            registry,
            onRestore: (r) =>
              options.onProgress?.(
                `layer link ${r.repository}@${r.digest} needed again by a push: ${r.outcome}${r.from === undefined ? '' : ` (from ${r.from})`}`,
              ),
          })
        : undefined;
    const modeWatch = new ModeWatch(client, options.mode);
    let result: PruneRunResult;
    try {
      modeWatch.start();
      result = await executePlan(plan, {
        cluster: throttledCluster(pruneClusterOf(client), limiters.api),
        confirm: options.confirm,
        concurrency: options.concurrency ?? 5,
        checkMode: () => modeWatch.current(),
        ...(view !== undefined ? { view } : {}),
        // Each delete takes its registry slot before it is decided; the call itself only reports back.
        ...(registry !== undefined
          ? {
              registry: observedRegistry(registry, limiters.registry),
              registrySlot: () => limiters.registry.acquire(),
            }
          : {}),
        ...(restorer !== undefined
          ? {
              onLayerLinkDeleted: (repository: string, digest: string) =>
                void restorer.removed(repository, digest),
            }
          : {}),
        onProgress: (event) => {
          if (event.type === 'phase') options.onProgress?.(`${event.phase}: ${event.units} unit(s)`);
          if (event.type === 'unit')
            options.onProgress?.(`[${event.done}/${event.total}] ${event.unit}: ${event.status}`);
        },
      });
    } finally {
      await modeWatch.stop();
      await restorer?.stop();
      await view?.stop();
    }
    return { plan, result };
  } finally {
    await registry?.close();
  }
}
