/**
 * The undo window of a confirmed run: finalize opens it (a full run's registry deletes become one delayed
 * job), and the registry phase carries those deletes out when it ends, each decided on the live view as in
 * a one-phase run, so what was restored or pushed again in the meantime stays. The phase reads its deletes
 * from the run's undo record and refuses to run without the whole record. It records how far it got after
 * every page of the record, so a phase taken over from a killed worker resumes there.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  executeUnit,
  summariseRun,
  type RemovalRecord,
  type RunSummary,
  type UnitResult,
  type WorkUnit,
} from '@registry-push/core';
import type { PrunerContext } from '../context.js';
import { PrunerError } from '../errors.js';
import { JobNames, jobIds, registryJobOptions, type RegistryJobData } from '../jobs.js';
import { failureKind, failureLines } from '../results.js';
import type { RunRecord } from '../store/run-store.js';

/** What the registry phase returns. */
export interface RegistryPhaseResult {
  runId: string;
  summary: RunSummary;
}

/**
 * Opens the undo window of a run that kept a record: a full run's registry phase is added as a job delayed
 * by the window (its id is fixed, so a repeated finalize adds nothing), a metadata run's window stays open
 * until its record expires. Repeatable.
 */
export async function openUndoWindow(ctx: PrunerContext, record: RunRecord, finishedAt: Date): Promise<void> {
  const windowMs = record.undoWindowMs;
  if (windowMs === undefined || record.dryRun) return;
  const runId = record.runId;
  const head = await ctx.undo.head(runId);
  if (head === undefined) {
    ctx.logger.error({ runId }, 'the undo record of this run is gone; its registry deletes will not run');
    return;
  }
  const { undoRetentionMs } = ctx.settings;
  if (head.mode === 'metadata') {
    if (head.state === 'recording') await ctx.undo.update(runId, { state: 'open' }, undoRetentionMs);
    return;
  }
  const registryAt = head.registryAt ?? new Date(finishedAt.getTime() + windowMs).toISOString();
  if (head.state === 'recording') {
    // The record outlives the window by the retention (and an hour for a late registry phase).
    await ctx.undo.update(runId, { state: 'open', registryAt }, windowMs + undoRetentionMs + 3_600_000);
  }
  await ctx.queue.add(
    JobNames.registry,
    { runId },
    {
      ...registryJobOptions(ctx.settings, Math.max(0, Date.parse(registryAt) - Date.now())),
      jobId: jobIds.registry(runId),
    },
  );
  await ctx.store.updateRun(runId, { registryAt });
  ctx.logger.info(
    { runId, registryAt, recorded: head.recorded, bytesPending: head.bytesPending },
    'undo window open: the registry deletes wait until it ends',
  );
  await ctx.events.record({
    type: 'Normal',
    reason: 'PruneUndoWindowOpen',
    message: `Prune run ${runId} removed metadata only; its registry deletes run at ${registryAt}. Until then \`registry-pruner restore ${runId}\` puts everything back.`,
  });
}

function addSummary(into: RunSummary, more: RunSummary): RunSummary {
  const counts = { ...into.counts };
  for (const [kind, byOutcome] of Object.entries(more.counts)) {
    const merged: Record<string, number> = { ...(counts[kind as keyof typeof counts] ?? {}) };
    for (const [outcome, n] of Object.entries(byOutcome)) merged[outcome] = (merged[outcome] ?? 0) + n;
    counts[kind as keyof typeof counts] = merged;
  }
  const errors = { ...into.errors };
  for (const [code, n] of Object.entries(more.errors)) errors[code] = (errors[code] ?? 0) + n;
  return { counts, bytesFreed: into.bytesFreed + more.bytesFreed, errors };
}

/** The units of a page, each once (a unit run again records again), streams before images. */
function unitsOf(records: readonly RemovalRecord[]): WorkUnit[] {
  const units = new Map<string, WorkUnit>();
  for (const record of records) units.set(record.unit.id, record.unit);
  return [...units.values()].sort((a, b) => (a.type === b.type ? 0 : a.type === 'stream' ? -1 : 1));
}

async function refuse(ctx: PrunerContext, runId: string): Promise<never> {
  const error = new PrunerError(
    'PRUNER_UNDO_RECORD_MISSING',
    `Run ${runId} has no complete undo record in Redis (it expired or Redis lost it): its registry deletes did not run, nothing was deleted.`,
    {
      hint: 'The next run plans what is still unused; give Redis a volume so records survive restarts.',
    },
  );
  if ((await ctx.undo.head(runId)) !== undefined)
    await ctx.undo.update(runId, { state: 'refused', error: error.code });
  ctx.metrics?.errors.inc({ code: error.code });
  ctx.logger.error({ runId, code: error.code, error: error.message }, 'registry phase refused');
  await ctx.events.record({
    type: 'Warning',
    reason: 'PruneRegistryPhaseRefused',
    message: `${error.message} [${error.code}]`,
  });
  throw new UnrecoverableError(`${error.message} [${error.code}]`);
}

/** Runs the units of one page side by side; throws to retry the job when a failure is transient. */
async function runPage(
  job: Job<RegistryJobData>,
  ctx: PrunerContext,
  units: readonly WorkUnit[],
  run: { runId: string; protectAnnotation: string },
): Promise<UnitResult[]> {
  const options = await ctx.registryPhaseOptions(run.runId, run.protectAnnotation);
  const context = { mode: 'full' as const, protectAnnotation: run.protectAnnotation };
  const state = ctx.newState();
  const results: UnitResult[] = [];
  for (const type of ['stream', 'image'] as const) {
    const list = units.filter((unit) => unit.type === type);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < list.length) results.push(await executeUnit(list[next++]!, context, options, state));
    };
    await Promise.all(Array.from({ length: Math.min(ctx.settings.unitConcurrency, list.length) }, lane));
  }
  const transient = results.filter((result) => failureKind(result) === 'transient');
  if (transient.length > 0 && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
    throw new Error(
      `Registry phase of ${run.runId}: ${transient.flatMap((r) => failureLines(r, 3)).join('; ')}`,
    );
  }
  return results;
}

/** The registry phase of a run whose undo window ended. */
export async function processRegistryPhase(
  job: Job<RegistryJobData>,
  ctx: PrunerContext,
  token?: string,
): Promise<RegistryPhaseResult> {
  const runId = job.data.runId;
  const head = await ctx.undo.head(runId);
  if (head === undefined || !(await ctx.undo.complete(runId))) return refuse(ctx, runId);
  const done = (summary: RunSummary): RegistryPhaseResult => ({ runId, summary });
  let summary: RunSummary =
    head.summary !== undefined
      ? (JSON.parse(head.summary) as RunSummary)
      : { counts: {}, bytesFreed: 0, errors: {} };
  if (head.state === 'closed') return done(summary);
  if (head.state !== 'registry-running') {
    // From here on a restore answers too-late: what it would put back may be deleted any moment.
    await ctx.undo.update(runId, { state: 'registry-running' });
    ctx.logger.info({ runId, recorded: head.recorded }, 'registry phase started');
  } else {
    ctx.logger.info({ runId, from: head.cursor }, 'registry phase resumed');
  }
  for await (const page of ctx.undo.pages(runId, head.cursor)) {
    if (ctx.shutdown.aborted) {
      ctx.logger.info({ runId }, 'stopping: handing the registry phase back');
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const results = await runPage(job, ctx, unitsOf(page.records), {
      runId,
      protectAnnotation: head.protectAnnotation,
    });
    for (const result of results) ctx.metrics?.recordItems(result.items, 'full');
    summary = addSummary(summary, summariseRun(results));
    await ctx.undo.update(runId, { cursor: String(page.end), summary: JSON.stringify(summary) });
  }
  await ctx.undo.update(
    runId,
    { state: 'closed', closedAt: new Date().toISOString() },
    ctx.settings.undoRetentionMs,
  );
  const failed = Object.keys(summary.errors).length > 0;
  ctx.logger[failed ? 'warn' : 'info']({ runId, summary }, 'registry phase done');
  await ctx.events.record({
    type: failed ? 'Warning' : 'Normal',
    reason: failed ? 'PruneRegistryPhaseFailed' : 'PruneRegistryPhaseDone',
    message: `Prune run ${runId}: registry deletes done after the undo window, ${summary.bytesFreed} bytes freed${
      failed
        ? `; errors: ${Object.entries(summary.errors)
            .map(([code, n]) => `${n}× ${code}`)
            .join(', ')}`
        : ''
    }.`,
  });
  return done(summary);
}
