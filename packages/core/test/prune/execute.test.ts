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

  it('retries retryable registry failures; a blob that cannot be deleted fails its unit', async () => {
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
    // The Image goes before its blobs, so no Image is ever left without one; the failed blob is reported.
    expect(items.find((i) => i.kind === 'image' && i.target === digest('c'))).toMatchObject({
      outcome: 'deleted',
    });
    expect(state.images.has(digest('b'))).toBe(false);
    expect(run.summary.errors).toEqual({ REGISTRY_DENIED: 1 });
    expect(run.units.find((u) => u.unit === `image/${digest('c')}`)?.status).toBe('failed');
  });

  it('a blob two planned images share goes last, and stays with whichever of them could not be deleted', async () => {
    const shared = snapshot({
      images: ['p', 'q'].map((seed) => image({ seed, layers: ['shared-layer', `${seed}-own`] })),
      streams: [stream({ name: 'web', tags: { latest: ['keep', 'p', 'q'] } })],
    });
    shared.images.push(image({ seed: 'keep' }));
    const policy = resolvePrunePolicy({ keepTagRevisions: 1, protectAnnotation: 'test/protect' }).policy;
    const plan = planPrune(shared, policy, { mode: 'full', now: NOW });
    const units = plan.units.filter((u) => u.type === 'image');
    const carrier = units.find((u) => u.blobs.some((b) => b.digest === digest('shared-layer')));
    expect(units.map((u) => u.digest)).toEqual([digest('p'), digest('q')].sort());
    // The plan gives the shared blob to the last unit that uses it.
    expect(carrier?.digest).toBe(units[1]?.digest);
    for (const refused of [units[0]!.digest, units[1]!.digest]) {
      const state = stateFrom(shared);
      const registry = memoryRegistry(state);
      const real = memoryCluster(state);
      const cluster = {
        ...real,
        deleteImage: (name: string) =>
          name === refused
            ? Promise.reject(new RegistryPushError('FORBIDDEN', 'may not delete images'))
            : real.deleteImage(name),
      };
      await executePlan(plan, { cluster, registry, confirm: true, ...fast });
      expect(state.images.has(refused)).toBe(true);
      // The surviving image still has every blob it needs.
      expect(state.blobs.has(digest('shared-layer'))).toBe(true);
      const survivor = refused === digest('p') ? 'p' : 'q';
      expect(state.blobs.has(digest(`${survivor}-own`))).toBe(true);
      const other = survivor === 'p' ? 'q' : 'p';
      expect(state.blobs.has(digest(`${other}-own`))).toBe(false);
    }
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
    state.recreateStream('demo', 'web');
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
