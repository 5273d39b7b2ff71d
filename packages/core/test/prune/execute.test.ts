// The executor's failure handling, with faults injected into the in-memory cluster and registry.
import { describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { executePlan, type PruneProgress } from '../../src/prune/execute.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy } from '../../src/prune/policy.js';
import type { PruneMode } from '../../src/prune/types.js';
import { NOW, digest, image, snapshot, stream } from './fixtures.js';
import { memoryCluster, memoryRegistry, stateFrom } from './memory-cluster.js';

const snap = snapshot({
  images: ['a', 'b', 'c'].map((seed) => image({ seed })),
  streams: [stream({ name: 'web', tags: { latest: ['a', 'b', 'c'] } })],
});

function setup(mode: PruneMode = 'full') {
  const plan = planPrune(
    snap,
    resolvePrunePolicy({ keepTagRevisions: 1, protectAnnotation: 'test/protect' }).policy,
    { mode, now: NOW },
  );
  const state = stateFrom(snap);
  return { plan, state, cluster: memoryCluster(state), registry: memoryRegistry(state) };
}

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 2 } };

describe('executePlan', () => {
  it('dry run calls nothing and reports every change as dry-run', async () => {
    const { plan, state, registry } = setup();
    let calls = 0;
    const real = memoryCluster(state);
    const counting = Object.fromEntries(
      Object.entries(real).map(([key, fn]) => [
        key,
        (...args: unknown[]) => {
          calls++;
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    ) as unknown as typeof real;
    const events: PruneProgress[] = [];
    const run = await executePlan(plan, { cluster: counting, registry, onProgress: (e) => events.push(e) });
    expect(calls + registry.calls).toBe(0);
    expect(run.dryRun).toBe(true);
    expect(Object.keys(run.summary.counts.blob ?? {})).toEqual(['dry-run']);
    expect(run.units.every((u) => u.status === 'dry-run')).toBe(true);
    expect(events.filter((e) => e.type === 'phase').map((e) => (e as { phase: string }).phase)).toEqual([
      'history',
      'images',
    ]);
  });

  it('refuses to confirm a full plan without a registry', async () => {
    const { plan, cluster } = setup();
    await expect(executePlan(plan, { cluster, confirm: true })).rejects.toMatchObject({
      code: 'PRUNE_REGISTRY_REQUIRED',
    });
    await expect(executePlan({ ...plan, schema: 'x' } as never, { cluster })).rejects.toMatchObject({
      code: 'PRUNE_PLAN_INVALID',
    });
  });

  it('retries retryable registry failures, and keeps the Image when a blob cannot be deleted', async () => {
    const { plan, state, cluster, registry } = setup();
    let flaky = 2;
    const failing = {
      ...registry,
      deleteBlob: (blob: string) => {
        if (blob === digest('b-layer') && flaky-- > 0) {
          return Promise.reject(new RegistryPushError('REGISTRY_UNAVAILABLE', '503', { retryable: true }));
        }
        if (blob === digest('c-layer'))
          return Promise.reject(new RegistryPushError('REGISTRY_DENIED', 'denied'));
        return registry.deleteBlob(blob);
      },
    };
    const run = await executePlan(plan, { cluster, registry: failing, confirm: true, ...fast });
    const items = run.units.flatMap((u) => u.items);
    expect(items.find((i) => i.target === digest('b-layer'))).toMatchObject({
      outcome: 'deleted',
      attempts: 3,
      bytes: 1000,
    });
    expect(items.find((i) => i.target === digest('c-layer'))).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'REGISTRY_DENIED' },
    });
    expect(items.find((i) => i.kind === 'image' && i.target === digest('c'))).toMatchObject({
      outcome: 'skipped',
      reason: 'blob-deletion-failed',
    });
    expect(state.images.has(digest('c'))).toBe(true);
    expect(state.images.has(digest('b'))).toBe(false);
    expect(run.summary.errors).toEqual({ REGISTRY_DENIED: 1 });
    expect(run.units.find((u) => u.unit === `image/${digest('c')}`)?.status).toBe('failed');
  });

  it('blocks the image units of a stream whose update failed', async () => {
    const { plan, state, cluster, registry } = setup();
    const refusing = {
      ...cluster,
      replaceImageStreamStatus: () =>
        Promise.reject(new RegistryPushError('FORBIDDEN', 'may not update imagestreams/status')),
    };
    const run = await executePlan(plan, { cluster: refusing, registry, confirm: true, ...fast });
    expect(run.units.map((u) => u.status)).toEqual(['failed', 'blocked', 'blocked']);
    expect(registry.calls).toBe(0);
    expect(state.images.size).toBe(3);
  });

  it('leaves a stream that was deleted and created again alone', async () => {
    const { plan, state, cluster, registry } = setup();
    state.streams.get('demo/web')!.metadata.uid = 'another';
    const run = await executePlan(plan, { cluster, registry, confirm: true, ...fast });
    expect(run.units[0]).toMatchObject({ status: 'skipped' });
    expect(run.units[0]!.items.every((i) => i.reason === 'stream-replaced')).toBe(true);
    expect(run.units.slice(1).every((u) => u.status === 'blocked')).toBe(true);
  });

  it('skips registry deletes when the registry stops being managed mid-run', async () => {
    const { plan, state, cluster, registry } = setup();
    const run = await executePlan(plan, {
      cluster,
      registry,
      confirm: true,
      checkMode: () => Promise.resolve('metadata'),
      ...fast,
    });
    expect(registry.calls).toBe(0);
    expect(run.summary.counts.blob).toEqual({ skipped: 6 });
    expect(state.images.has(digest('b'))).toBe(false);
    expect(state.streams.get('demo/web')!.status!.tags![0]!.items).toHaveLength(1);
  });

  it('stops starting units when aborted', async () => {
    const { plan, cluster, registry } = setup();
    const controller = new AbortController();
    controller.abort();
    const run = await executePlan(plan, { cluster, registry, confirm: true, signal: controller.signal });
    expect(run.units.map((u) => u.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(registry.calls).toBe(0);
  });
});
