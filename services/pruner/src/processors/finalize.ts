/**
 * The end of a run: the result log put together from the stored unit results, the run record and history
 * updated, the lock released, metrics and an Event. Repeatable: a second pass writes the same record.
 */
import type { Job } from 'bullmq';
import { formatRunResult, type RunSummary } from '@registry-push/core';
import type { PrunerContext } from '../context.js';
import type { FinalizeJobData } from '../jobs.js';
import { assembleResult } from '../results.js';

/** What the finalize job returns. */
export interface FinalizeJobResult {
  runId: string;
  status: 'succeeded' | 'failed';
  summary: RunSummary;
}

/** Finishes a run. */
export async function processFinalize(
  job: Job<FinalizeJobData>,
  ctx: PrunerContext,
): Promise<FinalizeJobResult> {
  const runId = job.data.runId;
  await ctx.failpoints.hit('finalize');
  const run = await ctx.loadRun(runId);
  const record = run.record;
  const finishedAt = new Date();
  const stored = await ctx.store.getUnitResults(runId);
  const result = assembleResult(run.plan, stored, {
    dryRun: record.dryRun,
    startedAt: record.createdAt,
    finishedAt: finishedAt.toISOString(),
  });
  const failed = Object.keys(result.summary.errors).length > 0;
  const status = failed ? 'failed' : 'succeeded';
  const lost = result.units.filter((unit) => !stored.has(unit.unit)).length;
  await ctx.store.putResult(result, runId);
  await ctx.store.updateRun(runId, {
    status,
    finishedAt: result.finishedAt,
    summary: result.summary,
    ...(failed
      ? {
          error: {
            code: 'PRUNER_RUN_FAILED',
            message: `${Object.entries(result.summary.errors)
              .map(([code, n]) => `${n}× ${code}`)
              .join(', ')}`,
          },
        }
      : {}),
  });
  if (!failed) await ctx.store.setLastSuccess(finishedAt);
  await ctx.store.releaseLock(runId);
  await ctx.store.expireWorkingData(runId);
  if (record.historyLimits !== undefined) await ctx.store.trimHistory(record.historyLimits);
  const seconds = (finishedAt.getTime() - Date.parse(record.createdAt)) / 1000;
  ctx.metrics?.runs.inc({ result: status, dry_run: String(record.dryRun) });
  ctx.metrics?.runDuration.observe({ result: status }, seconds);
  if (lost > 0) ctx.metrics?.errors.inc({ code: 'PRUNER_UNIT_LOST' }, lost);
  ctx.logger.info(
    { runId, status, seconds, lostUnits: lost, result: formatRunResult(result).split('\n') },
    'prune run finished',
  );
  await ctx.events.record({
    type: failed ? 'Warning' : 'Normal',
    reason: failed ? 'PruneRunFailed' : 'PruneRunSucceeded',
    message: `Prune run ${runId} ${status}${record.dryRun ? ' (dry run)' : ''}: ${formatRunResult(result).split('\n').slice(0, 2).join(' ')}`,
  });
  return { runId, status, summary: result.summary };
}
