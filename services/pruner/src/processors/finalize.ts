/**
 * The end of a run: the result log put together from the stored unit results, the run record and history
 * updated, the lock released, metrics and an Event. Repeatable: a second pass writes the same record. The
 * log is read and written a page of units at a time, so finishing a run of any size takes little memory.
 */
import type { Job } from 'bullmq';
import { formatRunResult, type PruneRunResult, type RunSummary, type UnitResult } from '@registry-push/core';
import type { LoadedRun, PrunerContext } from '../context.js';
import type { FinalizeJobData } from '../jobs.js';
import { releaseMemory } from '../memory.js';
import { ResultAssembler, type ResultHead } from '../results.js';
import { runIsOver, type RunRecord } from '../store/run-store.js';
import { openUndoWindow } from './undo.js';

/** What the finalize job returns. */
export interface FinalizeJobResult {
  runId: string;
  status: 'succeeded' | 'failed';
  summary: RunSummary;
}

function errorOf(summary: RunSummary): RunRecord['error'] {
  const codes = Object.entries(summary.errors);
  if (codes.length === 0) return undefined;
  return { code: 'PRUNER_RUN_FAILED', message: codes.map(([code, n]) => `${n}× ${code}`).join(', ') };
}

/** Units of the plan whose stored results are read at a time. */
const PAGE = 500;

/** Writes the result log page by page from the stored unit results; returns its head and the assembler. */
async function writeResult(
  ctx: PrunerContext,
  run: LoadedRun,
  finishedAt: Date,
): Promise<{ head: ResultHead; assembler: ResultAssembler }> {
  const runId = run.record.runId;
  const assembler = new ResultAssembler();
  await ctx.store.startResult(runId);
  for await (const units of ctx.store.unitPages(runId, PAGE)) {
    const stored = await ctx.store.getUnitResults(
      runId,
      units.map((unit) => unit.id),
    );
    const page: UnitResult[] = units.map((unit) => assembler.add(unit, stored.get(unit.id)));
    await ctx.store.appendResult(runId, page);
  }
  const head = assembler.head(run.plan, {
    dryRun: run.record.dryRun,
    startedAt: run.record.createdAt,
    finishedAt: finishedAt.toISOString(),
  });
  await ctx.store.putResultHead(runId, head);
  return { head, assembler };
}

/** Writes the record, releases the lock, trims the history. */
async function save(
  ctx: PrunerContext,
  record: RunRecord,
  result: ResultHead,
  finishedAt: Date,
): Promise<void> {
  const error = errorOf(result.summary);
  await ctx.store.updateRun(record.runId, {
    status: error === undefined ? 'succeeded' : 'failed',
    finishedAt: result.finishedAt,
    summary: result.summary,
    ...(error !== undefined ? { error } : {}),
  });
  if (error === undefined) await ctx.store.setLastSuccess(finishedAt);
  await ctx.store.releaseLock(record.runId);
  await ctx.store.expireWorkingData(record.runId);
  if (record.historyLimits !== undefined) await ctx.store.trimHistory(record.historyLimits);
}

/** Metrics, a log line with the result table, and an Event. */
async function report(
  ctx: PrunerContext,
  record: RunRecord,
  result: PruneRunResult,
  lost: number,
): Promise<void> {
  const status = errorOf(result.summary) === undefined ? 'succeeded' : 'failed';
  const seconds = (Date.parse(result.finishedAt) - Date.parse(record.createdAt)) / 1000;
  ctx.metrics?.runs.inc({ result: status, dry_run: String(record.dryRun) });
  ctx.metrics?.runDuration.observe({ result: status }, seconds);
  if (lost > 0) ctx.metrics?.errors.inc({ code: 'PRUNER_UNIT_LOST' }, lost);
  const table = formatRunResult(result).split('\n');
  ctx.logger.info(
    { runId: record.runId, status, seconds, lostUnits: lost, result: table, view: ctx.viewStats() },
    'prune run finished',
  );
  await ctx.events.record({
    type: status === 'failed' ? 'Warning' : 'Normal',
    reason: status === 'failed' ? 'PruneRunFailed' : 'PruneRunSucceeded',
    message: `Prune run ${record.runId} ${status}${record.dryRun ? ' (dry run)' : ''}: ${table.slice(0, 2).join(' ')}`,
  });
}

/** Finishes a run. */
export async function processFinalize(
  job: Job<FinalizeJobData>,
  ctx: PrunerContext,
): Promise<FinalizeJobResult> {
  const runId = job.data.runId;
  await ctx.failpoints.hit('finalize');
  const known = await ctx.store.getRun(runId);
  if (known?.summary !== undefined && runIsOver(known.status)) {
    // A late copy (its worker stalled after finishing): the run is recorded already; its undo window may
    // not be open yet (opening it again adds nothing).
    await openUndoWindow(ctx, known, new Date(known.finishedAt ?? Date.now()));
    return { runId, status: known.status === 'succeeded' ? 'succeeded' : 'failed', summary: known.summary };
  }
  const run = await ctx.loadRun(runId);
  const finishedAt = new Date();
  const { head, assembler } = await writeResult(ctx, run, finishedAt);
  await save(ctx, run.record, head, finishedAt);
  await openUndoWindow(ctx, run.record, finishedAt);
  await report(ctx, run.record, assembler.brief(head), assembler.lost);
  // The run's pages of results and the jobs' garbage go back to the system between runs.
  releaseMemory();
  return {
    runId,
    status: errorOf(head.summary) === undefined ? 'succeeded' : 'failed',
    summary: head.summary,
  };
}
