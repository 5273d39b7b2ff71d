/**
 * The step between the phases. It runs once every stream unit is through (done, or failed for good),
 * records which streams did not settle (images relying on them stay), adds the image batches as its own
 * children and waits for them. Every step can be repeated: batch job ids are fixed, so adding them again
 * adds nothing.
 */
import { WaitingChildrenError, type Job } from 'bullmq';
import { imageBatches } from '../batches.js';
import type { PrunerContext } from '../context.js';
import { JobNames, jobIds, unitJobOptions, type ImagesJobData } from '../jobs.js';
import { streamSettled } from '../results.js';
import { planParts } from '../store/plan-reading.js';

/** Stream unit results read at a time. */
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

/** Fans out phase 2 and waits for it. */
export async function processImages(
  job: Job<ImagesJobData>,
  ctx: PrunerContext,
  token?: string,
): Promise<ImagesJobResult> {
  const run = await ctx.loadRun(job.data.runId);
  const runId = run.record.runId;
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
    const options = unitJobOptions(ctx.settings);
    await ctx.queue.addBulk(
      batches.map((units, index) => ({
        name: JobNames.batch,
        data: { runId, units },
        opts: {
          ...options,
          jobId: jobIds.batch(runId, index),
          parent: { id: job.id ?? '', queue: job.queueQualifiedName },
        },
      })),
    );
    await job.updateData({ ...job.data, step: 'waiting' });
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
