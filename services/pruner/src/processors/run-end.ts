/**
 * How a run ends when it cannot go on (its plan or finalize job failed for good), and how a rejected
 * trigger is recorded: the record says why, the lock is released, metrics and an Event tell the admin.
 */
import { errorBody } from '../errors.js';
import type { PrunerContext } from '../context.js';
import type { RunRecord } from '../store/run-store.js';

/** Marks a run failed (once), releases its lock and reports it. Nothing the run did is undone: units are safe on their own. */
export async function failRun(ctx: PrunerContext, runId: string, error: unknown): Promise<void> {
  const body = errorBody(error);
  const record = await ctx.store.getRun(runId);
  const released = await ctx.store.releaseLock(runId);
  if (record !== undefined && (record.status === 'failed' || record.status === 'succeeded')) return;
  const finishedAt = new Date();
  await ctx.store.updateRun(runId, { status: 'failed', finishedAt: finishedAt.toISOString(), error: body });
  ctx.metrics?.runs.inc({ result: 'failed', dry_run: String(record?.dryRun ?? true) });
  ctx.metrics?.errors.inc({ code: body.code });
  if (record !== undefined) {
    ctx.metrics?.runDuration.observe(
      { result: 'failed' },
      (finishedAt.getTime() - Date.parse(record.createdAt)) / 1000,
    );
  }
  ctx.logger.error({ runId, error: body, lockReleased: released }, 'prune run failed');
  await ctx.events.record({
    type: 'Warning',
    reason: 'PruneRunFailed',
    message: `Prune run ${runId} failed: ${body.message}`,
  });
  await trim(ctx, record);
}

/** Trims the history with the limits the run read, else the ones the schedule keeper last applied. */
async function trim(ctx: PrunerContext, record: RunRecord | undefined): Promise<void> {
  const limits = record?.historyLimits ?? (await ctx.store.getAppliedConfig())?.historyLimits;
  if (limits !== undefined) await ctx.store.trimHistory(limits);
}

/** Records a trigger that came while another run held the lock. */
export async function rejectTrigger(ctx: PrunerContext, record: RunRecord, activeRun: string): Promise<void> {
  const rejected: RunRecord = {
    ...record,
    status: 'rejected',
    activeRun,
    finishedAt: new Date().toISOString(),
    error: {
      code: 'PRUNER_RUN_IN_PROGRESS',
      message: `Run ${activeRun} is in progress; this trigger was not started.`,
    },
  };
  await ctx.store.putRun(rejected);
  ctx.metrics?.runs.inc({ result: 'rejected', dry_run: String(record.dryRun) });
  ctx.logger.warn({ runId: record.runId, activeRun }, 'trigger rejected: another run is in progress');
  await ctx.events.record({
    type: 'Warning',
    reason: 'PruneRunRejected',
    message: `A ${record.trigger} trigger was not started: run ${activeRun} is still in progress.`,
  });
  await trim(ctx, undefined);
}
