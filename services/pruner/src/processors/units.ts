/**
 * Unit jobs: a stream unit (phase 1) or a batch of image units (phase 2), run through the core's
 * `executeUnit`. Each unit's result is stored the moment it is known, so a batch taken over from a killed
 * worker resumes after the last recorded unit, and a unit that is run again is harmless (404 is done).
 *
 * Failures: when all of a unit's failures are transient (timeouts, 429, 5xx, resets) and attempts are
 * left, the job is retried with exponential backoff (and, on 429/5xx, every worker pauses the queue for
 * a moment); otherwise the result is recorded and, for permanent failures, the job ends as unrecoverable
 * with the failures in its message — the other units of the run go on.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  executeUnit,
  linkedGroups,
  type ExecutionState,
  type ImageUnit,
  type StreamUnit,
  type UnitResult,
  type WorkUnit,
} from '@registry-push/core';
import type { LoadedRun, PrunerContext } from '../context.js';
import type { BatchJobData, StreamJobData } from '../jobs.js';
import { runIsOver } from '../store/run-store.js';
import { failureKind, failureLines, throttled } from '../results.js';

/** What a unit job returns. */
export interface UnitJobResult {
  units: number;
  failed: number;
  resumed: number;
}

/**
 * The run lock must still be this run's. It is renewed; when it expired while the run is still going
 * (a long stall) it is taken again if free. A run that is over, or whose lock another run holds, must not
 * act any more: a late copy of a job (its worker was slow, not dead) stops here instead of holding the
 * lock of a finished run.
 */
async function holdRunLock(ctx: PrunerContext, runId: string): Promise<void> {
  if (await ctx.store.renewLock(runId, ctx.settings.runTimeoutMs)) return;
  const record = await ctx.store.getRun(runId);
  if (record === undefined || runIsOver(record.status)) {
    throw new UnrecoverableError(`Run ${runId} is over; this late copy of one of its jobs does nothing.`);
  }
  const holder = await ctx.store.acquireLock(runId, ctx.settings.runTimeoutMs);
  if (holder !== runId) {
    throw new UnrecoverableError(
      `Run ${runId} no longer holds the run lock (run ${holder} does); its remaining units are left for the next run.`,
    );
  }
}

function noteDowngrade(ctx: PrunerContext, runId: string, result: UnitResult): void {
  if (
    result.items.some((item) => item.reason === 'registry-not-managed') &&
    !result.items.some(
      (item) => item.outcome === 'deleted' && (item.kind === 'blob' || item.kind.endsWith('-link')),
    )
  ) {
    ctx.logger.warn(
      { runId, unit: result.unit },
      'the registry is no longer Managed: this unit changed metadata only',
    );
  }
}

/**
 * Runs one unit and decides what to do with its result.
 *
 * @returns The result once it is stored.
 * @throws Error to retry the job (transient failures with attempts left).
 */
async function runUnit(
  job: Job,
  ctx: PrunerContext,
  run: LoadedRun,
  unit: WorkUnit,
  state: ExecutionState,
): Promise<UnitResult> {
  const runId = run.record.runId;
  await holdRunLock(ctx, runId);
  const result = await executeUnit(unit, run.context, await ctx.executeOptions(run), state);
  const kind = failureKind(result);
  if (kind === 'transient' && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
    if (throttled(result)) await ctx.queue.rateLimit(ctx.settings.backoffMs).catch(() => undefined);
    ctx.logger.warn(
      { runId, unit: unit.id, attempt: job.attemptsMade + 1, failures: failureLines(result) },
      'unit failed transiently; will retry',
    );
    throw new Error(`Unit ${unit.id} failed transiently: ${failureLines(result).join('; ')}`);
  }
  await ctx.store.putUnitResult(runId, {
    result,
    worker: ctx.settings.workerName,
    at: new Date().toISOString(),
  });
  ctx.metrics?.recordItems(result.items, run.plan.mode);
  ctx.metrics?.units.inc({ type: unit.type, status: result.status });
  noteDowngrade(ctx, runId, result);
  ctx.logger.info({ runId, unit: unit.id, status: result.status }, 'unit done');
  return result;
}

function permanentFailure(runId: string, results: readonly UnitResult[]): UnrecoverableError | undefined {
  const failed = results.filter((result) => failureKind(result) !== 'none');
  if (failed.length === 0) return undefined;
  const lines = failed.flatMap((result) => failureLines(result, 3));
  return new UnrecoverableError(
    `Run ${runId}: ${failed.length} unit(s) failed and were recorded: ${lines.join('; ')}`,
  );
}

/** Phase 1: one imagestream's history, then its repository links. */
export async function processStream(job: Job<StreamJobData>, ctx: PrunerContext): Promise<UnitJobResult> {
  const run = await ctx.loadRun(job.data.runId);
  const [unit] = (await ctx.unitsOf(run, [job.data.unit], 'stream')) as [StreamUnit];
  if ((await ctx.store.getUnitResults(run.record.runId, [unit.id])).has(unit.id))
    return { units: 1, failed: 0, resumed: 1 };
  await ctx.failpoints.hit('stream-unit');
  const result = await runUnit(job, ctx, run, unit, ctx.newState());
  const failure = permanentFailure(run.record.runId, [result]);
  if (failure !== undefined) throw failure;
  return { units: 1, failed: 0, resumed: 0 };
}

/** Hands the job back to the queue (no attempt used) when the process is stopping. */
async function handBack(job: Job, token: string | undefined): Promise<never> {
  await job.moveToDelayed(Date.now(), token);
  throw new DelayedError();
}

/**
 * Phase 2: the image units of a batch. Units linked by a shared blob or a list parent run one after the
 * other, in plan order; unlinked groups run side by side (`PRUNER_UNIT_CONCURRENCY`), so one worker keeps
 * many decisions in flight and they share the live view's catch-ups. Recorded units are skipped (a batch
 * taken over resumes after them); on shutdown no new unit starts and the rest of the batch is handed back.
 */
export async function processBatch(
  job: Job<BatchJobData>,
  ctx: PrunerContext,
  token?: string,
): Promise<UnitJobResult> {
  const run = await ctx.loadRun(job.data.runId);
  const runId = run.record.runId;
  const units: ImageUnit[] = await ctx.unitsOf(run, job.data.units, 'image');
  const state = ctx.newState((await ctx.store.getUnsettled(runId)) ?? []);
  const recorded = await ctx.store.getUnitResults(runId, job.data.units);
  const results: UnitResult[] = [];
  let stopped = false;
  // Units recorded by an earlier attempt are done; the rest run in their linked groups.
  const groups = linkedGroups(units.filter((unit) => !recorded.has(unit.id)));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < groups.length && !stopped) {
      for (const unit of groups[next++]!) {
        if (ctx.shutdown.aborted) {
          stopped = true;
          return;
        }
        results.push(await runUnit(job, ctx, run, unit, state));
        if (results.length === 1) await ctx.failpoints.hit('batch-unit');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.settings.unitConcurrency, groups.length) }, lane));
  if (stopped) {
    ctx.logger.info({ runId, job: job.id }, 'stopping: handing the rest of the batch back');
    await handBack(job, token);
  }
  const failure = permanentFailure(runId, results);
  if (failure !== undefined) throw failure;
  return { units: units.length, failed: 0, resumed: recorded.size };
}
