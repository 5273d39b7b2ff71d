/**
 * The plan job: takes the cluster-wide lock, reads the ImagePruner CR and the mode, checks the registry
 * (confirmed full runs), snapshots, plans, stores the plan and adds the run's flow. Nothing in the cluster
 * changes here, so any failure leaves everything as it was. A retried plan job (its worker died) reuses a
 * stored plan instead of planning again.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import {
  planPrune,
  resolvePrunePolicy,
  snapshotSourcesOf,
  takeSnapshot,
  formatPlan,
  type PrunePlan,
} from '@registry-push/core';
import {
  currentMode,
  preflightRegistry,
  readPrunerConfig,
  registryTarget,
  tokenOf,
  type PrunerConfig,
} from '../cluster.js';
import type { PrunerContext } from '../context.js';
import { describeError, isTransient } from '../errors.js';
import {
  JobNames,
  finalizeJobOptions,
  jobIds,
  runIdOf,
  unitJobOptions,
  type PlanJobData,
  type PlanJobResult,
} from '../jobs.js';
import { imageBatches } from '../batches.js';
import { collectGarbage, collectWhileReading, releaseMemory } from '../memory.js';
import { runIsOver, type PlanHead, type RunRecord, type StoredPlan } from '../store/run-store.js';
import { approvedChanges, restrictToApproved } from '../web/approve.js';
import { buildExplorerIndex } from '../web/explorer.js';
import { failRun, rejectTrigger } from './run-end.js';

/** Whether the run stores the dashboard's plan explorer index: dry runs, unless PRUNER_PLAN_EXPLORER=false. */
function explored(ctx: PrunerContext, record: RunRecord): boolean {
  return record.dryRun && ctx.settings.planExplorer && ctx.explorer !== undefined;
}

async function makePlan(
  ctx: PrunerContext,
  record: RunRecord,
): Promise<{ plan: PrunePlan; config: PrunerConfig }> {
  const config = await readPrunerConfig(ctx.client);
  const mode = await currentMode(ctx.client, ctx.settings.mode);
  const { policy, warnings } = resolvePrunePolicy({ ...ctx.settings.policy, pruner: config.spec });
  for (const warning of warnings) ctx.logger.warn({ runId: record.runId }, warning);
  if (!record.dryRun && mode === 'full') {
    // A registry that cannot be reached stops the run before any history is trimmed.
    await preflightRegistry(
      await registryTarget(ctx.client, ctx.settings.registry),
      await tokenOf(ctx.client),
    );
  }
  const snapshot = await takeSnapshot(ctx.snapshotSource, {
    protectAnnotation: policy.protectAnnotation,
    ignoreInvalidImageReferences: policy.ignoreInvalidImageReferences,
    // Custom resources that use images, and namespaces' own retention rules, when the policy has them.
    ...snapshotSourcesOf(policy),
    onProgress: collectWhileReading(),
  });
  // The last pages' garbage goes before the plan adds its own.
  collectGarbage();
  // The run is stored and carried out by its units; the counts are in the summary, so no item is listed —
  // except for a dry run, whose every decision goes to the dashboard's plan explorer.
  const plan = planPrune(snapshot, policy, {
    mode,
    now: new Date(),
    detail: explored(ctx, record) ? 'all' : 'summary',
  });
  if (record.approvedFrom === undefined) return { plan, config };
  const approved = await ctx.store.getRun(record.approvedFrom);
  const changes = await approvedChanges(ctx.store, record.approvedFrom);
  return { plan: restrictToApproved(plan, changes, approved?.planId ?? plan.id).plan, config };
}

function storedPlanOf(plan: PrunePlan): StoredPlan {
  const { items: _items, ...rest } = plan;
  return rest;
}

/**
 * Adds the run's jobs: finalize, and the images step as its child. The images step adds the stream units
 * itself, a page at a time (see images.ts): as children of this flow, the 16k stream jobs of a 100k-Image
 * plan took one Redis transaction built in memory at once, 220 MiB for two seconds (the planning worker's
 * peak).
 */
async function addFlow(ctx: PrunerContext, runId: string): Promise<void> {
  if ((await ctx.queue.getJob(jobIds.finalize(runId))) !== undefined) return;
  const queueName = ctx.queue.name;
  await ctx.flows.add({
    name: JobNames.finalize,
    queueName,
    data: { runId },
    opts: { ...finalizeJobOptions(ctx.settings), jobId: jobIds.finalize(runId) },
    children: [
      {
        name: JobNames.images,
        queueName,
        data: { runId },
        opts: { ...unitJobOptions(ctx.settings), jobId: jobIds.images(runId) },
      },
    ],
  });
}

/**
 * Starts the undo record of a confirmed run that keeps one: metadata mode (its window never closes), and full
 * mode with an undo window. Returns the run's window, undefined when it keeps no record (a dry run, or full
 * mode with a window of 0: today's one-phase run).
 */
async function beginUndoRecord(
  ctx: PrunerContext,
  record: RunRecord,
  plan: PrunePlan,
): Promise<number | undefined> {
  if (record.dryRun) return undefined;
  const windowMs = plan.mode === 'metadata' ? 0 : ctx.settings.undoWindowMs;
  if (plan.mode === 'full' && windowMs === 0) return undefined;
  const { runTimeoutMs, undoRetentionMs } = ctx.settings;
  await ctx.undo.begin(
    {
      runId: record.runId,
      mode: plan.mode,
      windowMs,
      protectAnnotation: plan.policy.protectAnnotation,
      createdAt: record.createdAt,
    },
    runTimeoutMs + windowMs + undoRetentionMs,
  );
  return windowMs;
}

/**
 * Plans the run and stores the plan; returns only its head, so that nothing of the snapshot or the whole
 * plan stays reachable once it returns.
 */
async function planAndStore(ctx: PrunerContext, record: RunRecord): Promise<PlanHead> {
  const runId = record.runId;
  const { plan, config } = await makePlan(ctx, record);
  // The snapshot the plan was made from is garbage now, and its pages would stay in V8's pool while the plan
  // is written out and the live view built on top of them: hand them back first.
  releaseMemory();
  const stored = storedPlanOf(plan);
  await ctx.store.putPlan(runId, stored);
  // Phase 2's batches need every image unit (units sharing a blob go together): made now, while the plan
  // is in memory anyway, so the images step need not read the units back.
  const images = plan.units.filter((unit) => unit.type === 'image');
  await ctx.store.putBatches(runId, imageBatches(images, ctx.settings.batchSize));
  const undoWindowMs = await beginUndoRecord(ctx, record, plan);
  if (explored(ctx, record)) await ctx.explorer?.put(buildExplorerIndex(runId, plan));
  await ctx.store.updateRun(runId, {
    ...(undoWindowMs !== undefined ? { undoWindowMs } : {}),
    status: 'running',
    mode: plan.mode,
    planId: plan.id,
    units: plan.units.length,
    planCounts: plan.summary.counts,
    historyLimits: { successful: config.successfulHistoryLimit, failed: config.failedHistoryLimit },
    notes: plan.notes,
  });
  ctx.logger.info(
    {
      runId,
      planId: plan.id,
      mode: plan.mode,
      units: plan.units.length,
      dryRun: record.dryRun,
      plan: formatPlan(plan).split('\n'),
    },
    'plan stored',
  );
  await ctx.failpoints.hit('plan-stored');
  const { units: _units, ...rest } = stored;
  return { ...rest, unitCount: plan.units.length };
}

async function startRun(ctx: PrunerContext, record: RunRecord): Promise<PlanJobResult> {
  const runId = record.runId;
  let head = await ctx.store.getPlanHead(runId);
  if (head === undefined) {
    head = await planAndStore(ctx, record);
    releaseMemory();
  }
  await addFlow(ctx, runId);
  await ctx.events.record({
    type: 'Normal',
    reason: 'PruneRunStarted',
    message: `Prune run ${runId} started (${head.mode}${record.dryRun ? ', dry run' : ''}): ${head.unitCount} work units.`,
  });
  return { status: 'started', runId, planId: head.id, units: head.unitCount };
}

function finishedAlready(record: RunRecord): PlanJobResult {
  return record.status === 'rejected'
    ? { status: 'rejected', runId: record.runId, activeRun: record.activeRun ?? '' }
    : { status: 'started', runId: record.runId, planId: record.planId ?? '', units: record.units ?? 0 };
}

/**
 * Processes a trigger.
 *
 * @returns The run started, or the run that was already in progress.
 * @throws UnrecoverableError when the run cannot start for a reason another attempt will not fix.
 */
export async function processPlan(job: Job<PlanJobData>, ctx: PrunerContext): Promise<PlanJobResult> {
  const runId = runIdOf(job);
  const fresh: RunRecord = {
    runId,
    trigger: job.data.trigger,
    status: 'planning',
    dryRun: job.data.confirm !== true,
    createdAt: new Date(job.timestamp).toISOString(),
    plannedBy: ctx.settings.workerName,
    ...(job.data.approve !== undefined ? { approvedFrom: job.data.approve } : {}),
  };
  // A late copy of a trigger whose run is over (its worker stalled after adding the flow) does nothing.
  const known = await ctx.store.getRun(runId);
  if (known !== undefined && runIsOver(known.status)) return finishedAlready(known);
  const holder = await ctx.store.acquireLock(runId, ctx.settings.runTimeoutMs);
  if (holder !== runId) {
    await rejectTrigger(ctx, fresh, holder);
    return { status: 'rejected', runId, activeRun: holder };
  }
  const record = (await ctx.store.getRun(runId)) ?? fresh;
  if (runIsOver(record.status)) {
    await ctx.store.releaseLock(runId);
    return finishedAlready(record);
  }
  if (record === fresh) await ctx.store.putRun(fresh);
  try {
    return await startRun(ctx, record);
  } catch (error) {
    const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    if (isTransient(error) && attemptsLeft) {
      ctx.logger.warn(
        { runId, error: describeError(error), attempt: job.attemptsMade + 1 },
        'planning failed; will retry',
      );
      throw error;
    }
    await failRun(ctx, runId, error);
    throw new UnrecoverableError(
      `Prune run ${runId} did not start, nothing was changed: ${describeError(error)}`,
    );
  }
}
