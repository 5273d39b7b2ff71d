// Images that cannot be read fully (made by hand or by old tooling): the run goes on, keeps the Image and
// whatever its unknown parts could be, prunes everything else, and names the Image with the fix.
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/prune/execute.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy } from '../../src/prune/policy.js';
import type {
  PruneMode,
  PrunePlan,
  PruneSnapshot,
  SnapshotImage,
  UnknownPart,
} from '../../src/prune/types.js';
import { NOW, digest, image, snapshot, stream } from './fixtures.js';
import { memoryCluster, memoryRegistry, stateFrom } from './memory-cluster.js';

const policy = resolvePrunePolicy({ keepTagRevisions: 1, protectAnnotation: 'test/protect' }).policy;

/** An Image as the snapshot holds one it could not read fully. */
function unreadable(seed: string, unknown: UnknownPart[], problem: string, layers?: string[]): SnapshotImage {
  const base = image({ seed, ...(layers === undefined ? {} : { layers }) });
  const { config: _config, ...rest } = base;
  return {
    ...(unknown.includes('config') ? rest : base),
    ...(unknown.includes('layers') ? { layers: [] } : {}),
    problem,
    unknown,
  };
}

const plan = (snap: PruneSnapshot, mode: PruneMode): PrunePlan => planPrune(snap, policy, { mode, now: NOW });

function decision(p: PrunePlan, id: string): { action: string; rule: string; referrer?: string } | undefined {
  const item = p.items.find((entry) => entry.id === id);
  return item === undefined
    ? undefined
    : {
        action: item.action,
        rule: item.rule,
        ...(item.referrer === undefined ? {} : { referrer: item.referrer }),
      };
}

/**
 * `broken` has no config digest: its config is really `shared-config`, which `old` (beyond the kept revision)
 * also names. `gone` is unreferenced garbage with blobs of its own.
 */
function missingConfig(): PruneSnapshot {
  const old = image({ seed: 'old', layers: ['old-layer', 'base'] });
  old.config = { digest: digest('shared-config'), size: 100 };
  return snapshot({
    images: [
      image({ seed: 'new', layers: ['new-layer', 'base'] }),
      old,
      unreadable('broken', ['config'], 'its config digest (dockerImageMetadata.Id) is missing', [
        'broken-layer',
      ]),
      image({ seed: 'gone' }),
    ],
    streams: [stream({ name: 'web', tags: { latest: ['new', 'old'] } })],
  });
}

describe('an Image without its config digest', () => {
  it('a metadata plan goes on: the others are pruned, the Image is kept and reported with the fix', () => {
    const p = plan(missingConfig(), 'metadata');
    expect(decision(p, `image:${digest('broken')}`)).toEqual({ action: 'keep', rule: 'image-unreadable' });
    expect(decision(p, `image:${digest('old')}`)).toMatchObject({ action: 'delete' });
    expect(decision(p, `image:${digest('gone')}`)).toMatchObject({ action: 'delete' });
    expect(p.warnings).toEqual([
      {
        image: digest('broken'),
        reason: 'its config digest (dockerImageMetadata.Id) is missing',
        unknown: ['config'],
        effect: 'the Image is kept.',
        fix: expect.stringContaining(`oc delete image ${digest('broken')}`) as string,
      },
    ]);
    expect(p.notes.join('\n')).toContain(`Image ${digest('broken')} cannot be read fully`);
  });

  it('a full plan deletes the layers of garbage but no config blob, which could be the unknown one', () => {
    const p = plan(missingConfig(), 'full');
    expect(decision(p, `image:${digest('broken')}`)).toEqual({ action: 'keep', rule: 'image-unreadable' });
    expect(decision(p, `blob:${digest('old-layer')}`)).toMatchObject({ action: 'delete' });
    expect(decision(p, `blob:${digest('gone-layer')}`)).toMatchObject({ action: 'delete' });
    expect(decision(p, `blob:${digest('base')}`)).toMatchObject({ action: 'keep', rule: 'blob-shared' });
    expect(decision(p, `blob:${digest('broken-layer')}`)).toBeUndefined();
    for (const config of ['shared-config', 'gone-config']) {
      expect(decision(p, `blob:${digest(config)}`)).toEqual({
        action: 'keep',
        rule: 'blob-identity-unknown',
        referrer: digest('broken'),
      });
    }
    expect(p.warnings?.[0]?.effect).toBe(
      'the Image is kept; no config blob is deleted, since any could be its own; nor a layer link of a stream whose history holds it.',
    );
  });

  it('a full run keeps the broken Image and its real config blob, and frees everything else', async () => {
    const snap = missingConfig();
    const state = stateFrom(snap);
    // What the registry really holds for the broken Image (the snapshot cannot say it).
    state.blobs.add(digest('shared-config'));
    const run = await executePlan(plan(snap, 'full'), {
      cluster: memoryCluster(state),
      registry: memoryRegistry(state),
      confirm: true,
    });
    expect(run.summary.errors).toEqual({});
    expect([...state.images.keys()].sort()).toEqual([digest('broken'), digest('new')].sort());
    expect(state.blobs.has(digest('shared-config'))).toBe(true);
    expect(state.blobs.has(digest('broken-layer'))).toBe(true);
    expect(state.blobs.has(digest('old-layer'))).toBe(false);
    expect(state.blobs.has(digest('gone-layer'))).toBe(false);
  });
});

describe('other parts that cannot be read', () => {
  it('unknown layers keep every layer blob and the layer links of streams holding the Image', () => {
    const snap = snapshot({
      images: [
        image({ seed: 'new' }),
        image({ seed: 'old' }),
        unreadable('broken', ['layers'], 'layer 0 has no valid digest'),
      ],
      streams: [stream({ name: 'web', tags: { latest: ['new', 'old'], stable: ['broken'] } })],
    });
    const p = plan(snap, 'full');
    expect(decision(p, `blob:${digest('old-layer')}`)).toEqual({
      action: 'keep',
      rule: 'blob-identity-unknown',
      referrer: digest('broken'),
    });
    expect(decision(p, `blob:${digest('old-config')}`)).toMatchObject({ action: 'delete' });
    expect(p.items.filter((item) => item.kind === 'layer-link')).toEqual([]);
    expect(decision(p, `manifest-link:demo/web@${digest('old')}`)).toMatchObject({ action: 'delete' });
  });

  it('a kept list with an unknown child keeps every single image that could be that child', () => {
    const list: SnapshotImage = {
      ...image({ seed: 'list', children: ['child'] }),
      problem: 'child manifest 1 has no valid digest',
      unknown: ['children'],
    };
    const snap = snapshot({
      images: [list, image({ seed: 'child' }), image({ seed: 'orphan' })],
      streams: [stream({ name: 'multi', tags: { latest: ['list'] } })],
    });
    const p = plan(snap, 'metadata');
    expect(decision(p, `image:${digest('child')}`)).toMatchObject({ rule: 'manifest-list-child' });
    expect(decision(p, `image:${digest('orphan')}`)).toEqual({
      action: 'keep',
      rule: 'possible-list-child',
      referrer: digest('list'),
    });
  });

  it('a plan of readable Images has no warnings', () => {
    const p = plan(snapshot({ images: [image({ seed: 'a' })] }), 'full');
    expect(p.warnings).toEqual([]);
  });
});
