// A worker's jobs start together (16 by default) and each needs the run: they share one load of its record
// and plan head. The units stay in Redis: each job reads its own (at 100k Images a plan's units are 60 MB;
// sixteen whole-plan loads at once ran a worker out of heap).
import { ClusterClient, type WorkUnit } from '@registry-push/core';
import type { FlowProducer, Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { PrunerContext } from '../src/context.js';
import type { EventRecorder } from '../src/cluster.js';
import { Failpoints } from '../src/failpoints.js';
import { createLogger } from '../src/logger.js';
import { loadSettings } from '../src/settings.js';
import type { PlanHead, RunRecord, RunStore } from '../src/store/run-store.js';
import type { UndoStore } from '../src/store/undo-store.js';

const record: RunRecord = {
  runId: 'r',
  trigger: 'manual',
  status: 'running',
  dryRun: false,
  createdAt: '2026-12-03T00:00:00Z',
};
const head = {
  id: 'p',
  mode: 'full',
  policy: { protectAnnotation: 'keep' },
  unitCount: 2,
} as unknown as PlanHead;
const units = new Map<string, WorkUnit>([
  ['image/a', { id: 'image/a', type: 'image' } as WorkUnit],
  ['stream/b', { id: 'stream/b', type: 'stream' } as WorkUnit],
]);

function contextWith(getPlanHead: () => Promise<PlanHead | undefined>): PrunerContext {
  const settings = loadSettings({});
  const logger = createLogger('silent');
  return new PrunerContext({
    settings,
    // Never called here: the client only has to exist.
    client: ClusterClient.fromOptions({ server: 'https://127.0.0.1:9', token: 'unused' }),
    store: {
      getRun: () => Promise.resolve(record),
      getPlanHead,
      getUnits: (_run: string, ids: readonly string[]) =>
        Promise.resolve(new Map(ids.flatMap((id) => (units.has(id) ? [[id, units.get(id)!]] : [])))),
    } as unknown as RunStore,
    undo: {} as UndoStore,
    queue: {} as Queue,
    flows: {} as FlowProducer,
    logger,
    metrics: undefined,
    events: {} as EventRecorder,
    failpoints: new Failpoints(settings.failpoint, logger),
    shutdown: new AbortController().signal,
  });
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('a worker loading a run', () => {
  it('loads the plan head once for every job that asks at the same time', async () => {
    let loads = 0;
    const ctx = contextWith(async () => {
      loads++;
      await tick();
      return head;
    });
    const runs = await Promise.all(Array.from({ length: 16 }, () => ctx.loadRun('r')));
    expect(loads).toBe(1);
    expect(new Set(runs).size).toBe(1);
    expect(runs[0]!.context).toEqual({ mode: 'full', protectAnnotation: 'keep' });
    // Later jobs of the run use it too.
    await ctx.loadRun('r');
    expect(loads).toBe(1);
  });

  it('does not keep a failed load: the next job tries again', async () => {
    let loads = 0;
    const ctx = contextWith(async () => {
      loads++;
      await tick();
      return loads === 1 ? undefined : head;
    });
    const first = await Promise.allSettled([ctx.loadRun('r'), ctx.loadRun('r')]);
    expect(first.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((first[0] as PromiseRejectedResult).reason)).toMatch(/has no stored plan/);
    await expect(ctx.loadRun('r')).resolves.toMatchObject({ plan: { id: 'p' } });
    expect(loads).toBe(2);
  });

  it("reads a job's units of the type it expects, and refuses any other", async () => {
    const ctx = contextWith(() => Promise.resolve(head));
    const run = await ctx.loadRun('r');
    expect(await ctx.unitsOf(run, ['image/a'], 'image')).toEqual([units.get('image/a')]);
    await expect(ctx.unitsOf(run, ['stream/b'], 'image')).rejects.toThrow(
      'Unit stream/b is not among the image units of run r.',
    );
    // Units gone from Redis (the plan expired under the run): its jobs end, doing nothing.
    await expect(ctx.unitsOf(run, ['image/gone'], 'image')).rejects.toThrow(/has no stored plan/);
  });
});
