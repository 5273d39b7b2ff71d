// A worker's jobs start together (16 by default) and each needs the run's plan: they must share one load.
// At 100k Images a plan is tens of MiB; sixteen loads at once, each page by page, ran a worker out of heap.
import { ClusterClient } from '@registry-push/core';
import type { FlowProducer, Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { PrunerContext } from '../src/context.js';
import type { EventRecorder } from '../src/cluster.js';
import { Failpoints } from '../src/failpoints.js';
import { createLogger } from '../src/logger.js';
import { loadSettings } from '../src/settings.js';
import type { RunRecord, RunStore, StoredPlan } from '../src/store.js';

const record: RunRecord = {
  runId: 'r',
  trigger: 'manual',
  status: 'running',
  dryRun: false,
  createdAt: '2026-12-03T00:00:00Z',
};
const plan = {
  id: 'p',
  mode: 'full',
  policy: { protectAnnotation: 'keep' },
  units: [{ id: 'image/a' }, { id: 'stream/b' }],
} as unknown as StoredPlan;

function contextWith(getPlan: () => Promise<StoredPlan | undefined>): PrunerContext {
  const settings = loadSettings({});
  const logger = createLogger('silent');
  return new PrunerContext({
    settings,
    // Never called here: the client only has to exist.
    client: ClusterClient.fromOptions({ server: 'https://127.0.0.1:9', token: 'unused' }),
    store: { getRun: () => Promise.resolve(record), getPlan } as unknown as RunStore,
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
  it('loads the plan once for every job that asks at the same time', async () => {
    let loads = 0;
    const ctx = contextWith(async () => {
      loads++;
      await tick();
      return plan;
    });
    const runs = await Promise.all(Array.from({ length: 16 }, () => ctx.loadRun('r')));
    expect(loads).toBe(1);
    expect(new Set(runs).size).toBe(1);
    expect([...runs[0]!.units.keys()]).toEqual(['image/a', 'stream/b']);
    // Later jobs of the run use it too.
    await ctx.loadRun('r');
    expect(loads).toBe(1);
  });

  it('does not keep a failed load: the next job tries again', async () => {
    let loads = 0;
    const ctx = contextWith(async () => {
      loads++;
      await tick();
      return loads === 1 ? undefined : plan;
    });
    const first = await Promise.allSettled([ctx.loadRun('r'), ctx.loadRun('r')]);
    expect(first.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((first[0] as PromiseRejectedResult).reason)).toMatch(/has no stored plan/);
    await expect(ctx.loadRun('r')).resolves.toMatchObject({ plan: { id: 'p' } });
    expect(loads).toBe(2);
  });
});
