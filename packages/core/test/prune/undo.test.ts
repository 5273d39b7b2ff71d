// The undo side of the executor and the core's restore, on the in-memory cluster and registry: a metadata
// phase that records every removal and leaves the registry alone, a registry phase that then deletes what a
// one-phase run deletes (and keeps what was restored), and a restore that merges with what was pushed since.
import { describe, expect, it } from 'vitest';
import { executePlan, executeUnit, ExecutionState } from '../../src/prune/execute.js';
import type { ImageObject } from '../../src/prune/image-objects.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy } from '../../src/prune/policy.js';
import { restoreRemoved, type RemovalRecord, type RestoreCluster } from '../../src/prune/undo.js';
import { Resources } from '../../src/cluster/resources.js';
import { NOW, digest, image, snapshot, stream } from './fixtures.js';
import { memoryCluster, memoryRegistry, picture, stateFrom, type MemoryState } from './memory-cluster.js';

const snap = snapshot({
  images: ['a', 'b', 'c', 'd'].map((seed) => image({ seed })),
  streams: [stream({ name: 'web', tags: { latest: ['a', 'b', 'c'] } })],
});
const plan = planPrune(
  snap,
  resolvePrunePolicy({ keepTagRevisions: 1, protectAnnotation: 'test/protect' }).policy,
  { mode: 'full', now: NOW },
);
const fast = { retry: { baseDelayMs: 1, maxDelayMs: 2 } };

function restoreCluster(state: MemoryState): RestoreCluster {
  const cluster = memoryCluster(state);
  return {
    getImageStream: (namespace, name) => cluster.getImageStream(namespace, name),
    replaceImageStreamStatus: (s) => cluster.replaceImageStreamStatus(s),
    createImage: (object: ImageObject) => {
      if (state.images.has(object.metadata.name)) return Promise.resolve('exists');
      state.cluster.seed(Resources.image, structuredClone(object));
      return Promise.resolve('created');
    },
  };
}

async function metadataPhase(state: MemoryState): Promise<RemovalRecord[]> {
  const records: RemovalRecord[] = [];
  const run = await executePlan(plan, {
    cluster: memoryCluster(state),
    registry: memoryRegistry(state),
    confirm: true,
    phase: 'metadata',
    recordRemoval: (record) => {
      records.push(structuredClone(record));
      return Promise.resolve();
    },
    ...fast,
  });
  expect(run.summary.errors).toEqual({});
  return records;
}

async function registryPhase(state: MemoryState, records: readonly RemovalRecord[]): Promise<void> {
  const options = {
    cluster: memoryCluster(state),
    registry: memoryRegistry(state),
    confirm: true,
    phase: 'registry' as const,
    ...fast,
  };
  const context = { mode: 'full' as const, protectAnnotation: 'test/protect' };
  const execution = new ExecutionState();
  for (const record of records) await executeUnit(record.unit, context, options, execution);
}

const history = (state: MemoryState): string[] =>
  (state.streams.get('demo/web')?.status?.tags?.[0]?.items ?? []).map((item) => item.image);

describe('the undo window in the executor', () => {
  it('records every removal whole and leaves the registry to a registry phase that deletes what one phase deletes', async () => {
    const once = stateFrom(snap);
    await executePlan(plan, {
      cluster: memoryCluster(once),
      registry: memoryRegistry(once),
      confirm: true,
      ...fast,
    });
    const state = stateFrom(snap);
    const { blobs, manifestLinks, layerLinks } = picture(state) as Record<string, unknown>;
    const records = await metadataPhase(state);
    expect(history(state)).toEqual([digest('a')]);
    expect([...state.images.keys()]).toEqual([digest('a')]);
    // Nothing of the registry went yet.
    expect(picture(state)).toMatchObject({ blobs, manifestLinks, layerLinks });
    const stream = records.find((r) => r.type === 'stream');
    expect(stream?.type === 'stream' && stream.items.map((i) => [i.position, i.item.image])).toEqual([
      [1, digest('b')],
      [2, digest('c')],
    ]);
    // Each Image whole, as it was before its deletion.
    const images = records.flatMap((r) => (r.type === 'image' && r.image !== undefined ? [r.image] : []));
    expect(images.map((i) => i.metadata.name).sort()).toEqual([digest('b'), digest('c'), digest('d')].sort());
    expect(images.every((i) => (i.dockerImageLayers ?? []).length > 0)).toBe(true);
    await registryPhase(state, records);
    expect(picture(state)).toEqual(picture(once));
  });

  it('restores at the old places behind a new head, idempotently, and the registry phase then keeps it', async () => {
    const state = stateFrom(snap);
    const records = await metadataPhase(state);
    const before = structuredClone(picture(state));
    // A push during the window: a new head.
    const web = state.streams.get('demo/web')!;
    web.status!.tags![0]!.items!.unshift({
      created: NOW.toISOString(),
      dockerImageReference: `x/demo/web@${digest('n')}`,
      image: digest('n'),
    });
    await memoryCluster(state).replaceImageStreamStatus(web);
    // A record read back from storage: an async stream of entries.
    const read = (): AsyncIterable<RemovalRecord> => ({
      [Symbol.asyncIterator]: () => {
        let next = 0;
        return {
          next: () =>
            Promise.resolve(
              next < records.length
                ? { done: false as const, value: records[next++]! }
                : { done: true as const, value: undefined },
            ),
        };
      },
    });
    const report = await restoreRemoved(read, { cluster: restoreCluster(state) });
    expect(report.counts.failed).toBeUndefined();
    expect(history(state)).toEqual([digest('n'), digest('a'), digest('b'), digest('c')]);
    expect(state.images.has(digest('b'))).toBe(true);
    const again = await restoreRemoved(read, { cluster: restoreCluster(state) });
    expect(again.counts).toEqual({ 'already-there': report.items.length });
    await registryPhase(state, records);
    const after = picture(state) as Record<string, unknown>;
    expect(after['blobs']).toEqual((before as Record<string, unknown>)['blobs']);
    const late = await restoreRemoved(read, { cluster: restoreCluster(state), tooLate: true });
    expect(Object.keys(late.counts)).toEqual(['too-late']);
  });
});
