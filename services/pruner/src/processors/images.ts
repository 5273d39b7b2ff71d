/**
 * The images step, which carries the run through its two phases. First it adds the stream units (phase 1)
 * as its own children, a page at a time, and waits for them. Once every stream unit is through (done, or
 * failed for good), it records which streams did not settle (images relying on them stay), adds the image
 * batches (phase 2) as its children and waits for them. Every step can be repeated: unit and batch job ids
 * are fixed, so adding them again adds nothing (a job already finished counts as a finished child).
 */
import { WaitingChildrenError, type Job } from 'bullmq';
import { imageBatches } from '../batches.js';
import type { PrunerContext } from '../context.js';
import { JobNames, jobIds, unitJobOptions, type ImagesJobData } from '../jobs.js';
import { releaseMemory } from '../memory.js';
import { streamSettled } from '../results.js';
import { planParts } from '../store/plan-reading.js';

/** Stream unit results read, or child jobs added, at a time. */
const PAGE = 500;

/** What the images step returns. */
export interface ImagesJobResult {
  batches: number;
  unsettledStreams: number;
}

/**
 * The stream unit ids, and the image batches made with the plan. A plan stored by an earlier version has
 * none: its image units are read back to make them (units sharing a blob go in one batch), and let go.
 */
async function phaseTwoInputs(
  ctx: PrunerContext,
  runId: string,
): Promise<{ streams: string[]; batches: string[][] }> {
  const stored = await ctx.store.getBatches(runId);
  const { streams, images } = await planParts(ctx.store, runId, stored === undefined);
  return { streams, batches: stored ?? imageBatches(images, ctx.settings.batchSize) };
}

/** A job the images step adds as its own child. */
interface ChildJob {
  name: string;
  data: { runId: string; unit: string } | { runId: string; units: string[] };
  jobId: string;
}

/**
 * Adds jobs, in order, as children of the images step: a page at a time, so that no Redis transaction of
 * every stream job (16k at 100k Images) is built in memory at once.
 */
async function addChildren(job: Job<ImagesJobData>, ctx: PrunerContext, children: ChildJob[]): Promise<void> {
  const options = unitJobOptions(ctx.settings);
  const parent = { id: job.id ?? '', queue: job.queueQualifiedName };
  for (let start = 0; start < children.length; start += PAGE) {
    await ctx.queue.addBulk(
      children.slice(start, start + PAGE).map(({ name, data, jobId }) => ({
        name,
        data,
        opts: { ...options, jobId, parent },
      })),
    );
  }
}

/** Adds a job per stream unit, in plan order; returns how many. */
async function addStreamUnits(job: Job<ImagesJobData>, ctx: PrunerContext, runId: string): Promise<number> {
  const { streams } = await planParts(ctx.store, runId, false);
  await addChildren(
    job,
    ctx,
    streams.map((unit, index) => ({
      name: JobNames.stream,
      data: { runId, unit },
      jobId: jobIds.stream(runId, index),
    })),
  );
  return streams.length;
}

/** Fans out phase 1, waits for it, then fans out phase 2 and waits for it. */
export async function processImages(
  job: Job<ImagesJobData>,
  ctx: PrunerContext,
  token?: string,
): Promise<ImagesJobResult> {
  const run = await ctx.loadRun(job.data.runId);
  const runId = run.record.runId;
  // A run planned by a version that added the stream jobs with the flow comes here once they are through;
  // adding them again finds them done, or (those already removed from the queue) runs them again, and a
  // stream unit run again finds its work done.
  if (job.data.step === undefined) {
    const streamUnits = await addStreamUnits(job, ctx, runId);
    await ctx.failpoints.hit('stream-units-added');
    await job.updateData({ ...job.data, step: 'streams' });
    ctx.logger.info({ runId, streamUnits }, 'stream phase started');
    // Every stream unit may be through already (none planned, or this step repeated): go on to phase 2.
    if (token !== undefined && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  }
  const { streams, batches } = await phaseTwoInputs(ctx, runId);
  let unsettled = (await ctx.store.getUnsettled(runId)) ?? [];
  if (job.data.step !== 'waiting') {
    unsettled = [];
    // A page of results at a time: at 100k images the stream units' results hold hundreds of thousands of
    // items, and only whether each stream settled is needed.
    for (let start = 0; start < streams.length; start += PAGE) {
      const page = streams.slice(start, start + PAGE);
      const results = await ctx.store.getUnitResults(runId, page);
      for (const id of page) if (!streamSettled(results.get(id)?.result)) unsettled.push(id);
    }
    await ctx.store.putUnsettled(runId, unsettled);
    if (unsettled.length > 0)
      ctx.logger.warn({ runId, unsettled }, 'some streams did not settle; images relying on them stay');
    await addChildren(
      job,
      ctx,
      batches.map((units, index) => ({
        name: JobNames.batch,
        data: { runId, units },
        jobId: jobIds.batch(runId, index),
      })),
    );
    await job.updateData({ ...job.data, step: 'waiting' });
    // The stream units' results just read went through pages that would stay in V8's pool, resident, for
    // all of phase 2 (measured at 100k Images: the worker went from about 350 to 426 MiB here): hand them back.
    releaseMemory();
    ctx.logger.info(
      {
        runId,
        batches: batches.length,
        imageUnits: batches.reduce((n, batch) => n + batch.length, 0),
        view: ctx.viewStats(),
      },
      'image phase started',
    );
  }
  if (token !== undefined && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  return { batches: batches.length, unsettledStreams: unsettled.length };
}
