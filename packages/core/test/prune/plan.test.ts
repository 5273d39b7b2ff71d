import { describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy, type PrunePolicyInput } from '../../src/prune/policy.js';
import type { PlanItem, PruneMode, PrunePlan, PruneSnapshot, StreamUnit } from '../../src/prune/types.js';
import { NOW, ago, digest, image, snapshot, stream, use } from './fixtures.js';

function plan(snap: PruneSnapshot, input: PrunePolicyInput = {}, mode: PruneMode = 'full'): PrunePlan {
  return planPrune(snap, resolvePrunePolicy(input).policy, { mode, now: NOW });
}

function item(p: PrunePlan, id: string): PlanItem {
  const found = p.items.find((entry) => entry.id === id);
  if (found === undefined) throw new Error(`no item ${id} in ${p.items.map((i) => i.id).join(', ')}`);
  return found;
}

const decision = (p: PrunePlan, id: string): [string, string] => {
  const found = item(p, id);
  return [found.action, found.rule];
};

const tagId = (repo: string, tag: string, revision: number): string => `tag:${repo}:${tag}#${revision}`;
const imageId = (seed: string): string => `image:${digest(seed)}`;
const blobId = (seed: string): string => `blob:${digest(seed)}`;

describe('stage 1: tag history', () => {
  const five = snapshot({
    images: ['a', 'b', 'c', 'd', 'e'].map((seed) => image({ seed })),
    streams: [stream({ name: 'web', tags: { latest: ['a', 'b', 'c', 'd', 'e'] } })],
  });

  it('keeps keepTagRevisions items per tag and deletes the older ones with their images and storage', () => {
    const p = plan(five);
    expect(decision(p, tagId('demo/web', 'latest', 0))).toEqual(['keep', 'within-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'latest', 2))).toEqual(['keep', 'within-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'latest', 3))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'latest', 4))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, imageId('c'))).toEqual(['keep', 'in-stream-history']);
    expect(decision(p, imageId('d'))).toEqual(['delete', 'unreferenced']);
    expect(decision(p, blobId('d-layer'))).toEqual(['delete', 'blob-unreferenced']);
    expect(decision(p, blobId('d-config'))).toEqual(['delete', 'blob-unreferenced']);
    expect(decision(p, `manifest-link:demo/web@${digest('e')}`)).toEqual(['delete', 'link-unreferenced']);
    expect(decision(p, `manifest-link:demo/web@${digest('a')}`)).toEqual(['keep', 'link-still-referenced']);
    expect(decision(p, `layer-link:demo/web@${digest('e-layer')}`)).toEqual(['delete', 'link-unreferenced']);
    expect(p.summary.bytesFreed).toBe(2 * (1000 + 100));
    const unit = p.units[0] as StreamUnit;
    expect(unit).toMatchObject({ type: 'stream', id: 'stream/demo/web', uid: 'uid-demo-web' });
    expect(unit.removals.map((r) => r.image)).toEqual([digest('d'), digest('e')]);
    expect(unit.manifestLinks.sort()).toEqual([digest('d'), digest('e')].sort());
    expect(p.units.slice(1).map((u) => u.type)).toEqual(['image', 'image']);
    expect(p.units.slice(1).every((u) => u.type === 'image' && u.dependsOn.includes('stream/demo/web'))).toBe(
      true,
    );
  });

  it('keeps revision 0 of a used tag even with keepTagRevisions 0, but not revision 1', () => {
    const p = plan(
      {
        ...five,
        uses: [
          use('Pod demo/web-1 spec.containers[0].image', { namespace: 'demo', name: 'web', tag: 'latest' }),
        ],
      },
      { keepTagRevisions: 0 },
    );
    expect(item(p, tagId('demo/web', 'latest', 0))).toMatchObject({
      action: 'keep',
      rule: 'tag-in-use',
      referrer: 'Pod demo/web-1 spec.containers[0].image',
    });
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['delete', 'beyond-tag-revisions']);
  });

  it('without a use, keepTagRevisions 0 deletes the whole history', () => {
    const p = plan(five, { keepTagRevisions: 0 });
    expect(p.items.filter((i) => i.kind === 'tag-history').every((i) => i.action === 'delete')).toBe(true);
    expect(p.items.filter((i) => i.kind === 'image').every((i) => i.action === 'delete')).toBe(true);
  });

  it('drops dangling items even at revision 0, unless the tag is in use', () => {
    const snap = snapshot({
      images: [image({ seed: 'b' })],
      streams: [stream({ name: 'web', tags: { latest: ['gone', 'b'], other: ['gone'] } })],
      uses: [use('Deployment demo/web', { namespace: 'demo', name: 'web', tag: 'other' })],
    });
    const p = plan(snap);
    expect(decision(p, tagId('demo/web', 'latest', 0))).toEqual(['delete', 'dangling']);
    expect(decision(p, tagId('demo/web', 'other', 0))).toEqual(['keep', 'tag-in-use']);
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['keep', 'within-tag-revisions']);
    // The link stays: the kept `other` item still references the digest.
    expect(decision(p, `manifest-link:demo/web@${digest('gone')}`)).toEqual([
      'keep',
      'link-still-referenced',
    ]);
  });

  it('keeps an item whose image is used by digest through the same stream, and only there', () => {
    const snap = {
      ...five,
      uses: [
        use('Pod demo/pinned', { namespace: 'demo', name: 'web', digest: digest('d') }),
        use('Pod demo/elsewhere', { namespace: 'demo', name: 'mirror', digest: digest('e') }),
      ],
    };
    const p = plan(snap);
    expect(item(p, tagId('demo/web', 'latest', 3))).toMatchObject({
      action: 'keep',
      rule: 'image-in-use',
      referrer: 'Pod demo/pinned',
    });
    // Referenced by digest through another repository: the history item goes, the Image object stays.
    expect(decision(p, tagId('demo/web', 'latest', 4))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(item(p, imageId('e'))).toMatchObject({
      action: 'keep',
      rule: 'referenced-by-digest',
      referrer: 'Pod demo/elsewhere',
    });
    expect(p.items.some((i) => i.id === blobId('e-layer'))).toBe(false);
  });

  it('keeps young items, young streams and young images', () => {
    const snap = snapshot({
      images: [
        image({ seed: 'a' }),
        image({ seed: 'b' }),
        image({ seed: 'fresh', created: 5 }),
        image({ seed: 'n', created: 5 }),
      ],
      streams: [
        stream({ name: 'web', tags: { latest: ['a', ['b', 30]] } }),
        stream({ name: 'new', created: 10, tags: { latest: ['a', 'n'] } }),
      ],
    });
    const p = plan(snap, { keepTagRevisions: 0 });
    expect(decision(p, tagId('demo/web', 'latest', 0))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['keep', 'young']);
    expect(decision(p, tagId('demo/new', 'latest', 1))).toEqual(['keep', 'stream-young']);
    expect(decision(p, imageId('fresh'))).toEqual(['keep', 'young']);
    expect(decision(p, imageId('a'))).toEqual(['keep', 'in-stream-history']);
  });

  it('in over-size mode deletes items over the namespace limit, even at revision 0, and keeps the rest', () => {
    const snap = snapshot({
      images: [
        image({ seed: 'big', size: 5000 }),
        image({ seed: 'small', size: 500 }),
        image({ seed: 'used', size: 9000 }),
      ],
      streams: [
        stream({ name: 'web', tags: { latest: ['big', 'small'] } }),
        stream({ name: 'pinned', tags: { latest: ['used'] } }),
        stream({ namespace: 'other', name: 'web', tags: { latest: ['big'] } }),
      ],
      uses: [use('Pod demo/p', { namespace: 'demo', name: 'pinned', digest: digest('used') })],
      imageSizeLimits: { demo: 1000 },
    });
    const p = plan(snap, { pruneOverSizeLimit: true });
    expect(decision(p, tagId('demo/web', 'latest', 0))).toEqual(['delete', 'over-size-limit']);
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['keep', 'within-size-limit']);
    expect(decision(p, tagId('demo/pinned', 'latest', 0))).toEqual(['keep', 'image-in-use']);
    expect(decision(p, tagId('other/web', 'latest', 0))).toEqual(['keep', 'within-size-limit']);
    // Still in other/web's history.
    expect(decision(p, imageId('big'))).toEqual(['keep', 'in-stream-history']);
  });

  it('honours protect annotations on images and streams', () => {
    const snap = snapshot({
      images: ['a', 'b', 'c', 'd'].map((seed) => image({ seed, protected: seed === 'd' })),
      streams: [
        stream({ name: 'web', tags: { latest: ['a', 'b', 'c', 'd'] } }),
        stream({ name: 'keep', protected: true, tags: { latest: ['a', 'b', 'c'] } }),
      ],
    });
    const p = plan(snap, { keepTagRevisions: 1 });
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'latest', 3))).toEqual(['keep', 'image-protected']);
    expect(decision(p, tagId('demo/keep', 'latest', 2))).toEqual(['keep', 'stream-protected']);
    expect(decision(p, imageId('b'))).toEqual(['keep', 'in-stream-history']);
  });

  it('prunes only the tags the include and exclude expressions select', () => {
    const snap = snapshot({
      images: ['a', 'b', 'c'].map((seed) => image({ seed })),
      streams: [
        stream({ name: 'web', tags: { 'pr-1': ['a', 'b'], 'pr-keep': ['a', 'c'], release: ['a', 'c'] } }),
      ],
    });
    const p = plan(snap, { keepTagRevisions: 1, tagInclude: '^pr-', tagExclude: 'keep$' });
    expect(decision(p, tagId('demo/web', 'pr-1', 1))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, tagId('demo/web', 'pr-keep', 1))).toEqual(['keep', 'tag-not-selected']);
    expect(decision(p, tagId('demo/web', 'release', 1))).toEqual(['keep', 'tag-not-selected']);
  });

  it('applies per-namespace overrides', () => {
    const snap = snapshot({
      images: ['a', 'b', 'c'].map((seed) => image({ seed })),
      streams: ['demo', 'strict', 'frozen'].map((namespace) =>
        stream({ namespace, name: 'web', tags: { latest: ['a', 'b', 'c'] } }),
      ),
    });
    const p = plan(snap, {
      keepTagRevisions: 2,
      namespaces: { strict: { keepTagRevisions: 1 }, frozen: { exclude: true } },
    });
    expect(decision(p, tagId('demo/web', 'latest', 1))).toEqual(['keep', 'within-tag-revisions']);
    expect(decision(p, tagId('strict/web', 'latest', 1))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, tagId('frozen/web', 'latest', 2))).toEqual(['keep', 'namespace-excluded']);
  });

  it('protects every stream of a namespace with an invalid reference, and only that namespace', () => {
    const snap = snapshot({
      images: ['a', 'b'].map((seed) => image({ seed })),
      streams: ['demo', 'other'].map((namespace) =>
        stream({ namespace, name: 'web', tags: { latest: ['a', 'b'] } }),
      ),
      invalidReferences: [
        {
          referrer: 'ReplicaSet demo/rs',
          namespace: 'demo',
          reference: ' ',
          problem: 'contains white space',
        },
      ],
    });
    const p = plan(snap, { keepTagRevisions: 1, ignoreInvalidImageReferences: true });
    expect(item(p, tagId('demo/web', 'latest', 1))).toMatchObject({
      action: 'keep',
      rule: 'namespace-invalid-reference',
      referrer: 'ReplicaSet demo/rs',
    });
    expect(decision(p, tagId('other/web', 'latest', 1))).toEqual(['delete', 'beyond-tag-revisions']);
    expect(decision(p, imageId('b'))).toEqual(['keep', 'in-stream-history']);
  });

  it('counts finished pods only while they are young', () => {
    const base = { namespace: 'demo', name: 'web', tag: 'latest' };
    const snap = (created: number) =>
      snapshot({
        images: [image({ seed: 'a' })],
        streams: [stream({ name: 'web', tags: { latest: ['a'] } })],
        uses: [use('Pod demo/done', { ...base, finishedPodCreated: ago(created) })],
      });
    expect(decision(plan(snap(10), { keepTagRevisions: 0 }), tagId('demo/web', 'latest', 0))).toEqual([
      'keep',
      'tag-in-use',
    ]);
    expect(decision(plan(snap(600), { keepTagRevisions: 0 }), tagId('demo/web', 'latest', 0))).toEqual([
      'delete',
      'beyond-tag-revisions',
    ]);
  });
});

describe('stage 2: images and blobs', () => {
  it('a used manifest list keeps its children; an unused one protects nothing', () => {
    const snap = snapshot({
      images: [
        image({ seed: 'list', children: ['amd64', 'arm64'] }),
        image({ seed: 'amd64', layers: ['base', 'amd64-app'] }),
        image({ seed: 'arm64', layers: ['base-arm', 'arm64-app'] }),
        image({ seed: 'old-list', children: ['old-amd64'] }),
        image({ seed: 'old-amd64', layers: ['base', 'old-app'] }),
      ],
      streams: [stream({ name: 'multi', tags: { latest: ['list', 'old-list'] } })],
    });
    const p = plan(snap, { keepTagRevisions: 1 });
    expect(item(p, imageId('amd64'))).toMatchObject({
      action: 'keep',
      rule: 'manifest-list-child',
      referrer: digest('list'),
    });
    expect(decision(p, imageId('old-list'))).toEqual(['delete', 'unreferenced']);
    expect(decision(p, imageId('old-amd64'))).toEqual(['delete', 'unreferenced']);
    expect(decision(p, blobId('old-app'))).toEqual(['delete', 'blob-unreferenced']);
    expect(item(p, blobId('base'))).toMatchObject({
      action: 'keep',
      rule: 'blob-shared',
      referrer: digest('amd64'),
    });
    // In the repository: the old list's child manifest and layer links go, the shared base link stays.
    expect(decision(p, `manifest-link:demo/multi@${digest('old-amd64')}`)).toEqual([
      'delete',
      'link-unreferenced',
    ]);
    expect(p.items.some((i) => i.id === `layer-link:demo/multi@${digest('base')}`)).toBe(false);
    expect(decision(p, `layer-link:demo/multi@${digest('old-app')}`)).toEqual([
      'delete',
      'link-unreferenced',
    ]);
  });

  it('a blob shared by two deleted images is deleted once, naming the other user', () => {
    const snap = snapshot({
      images: [
        image({ seed: 'x', layers: ['shared', 'x1'] }),
        image({ seed: 'y', layers: ['shared', 'y1'] }),
      ],
    });
    const p = plan(snap);
    const deletions = p.items.filter((i) => i.id === blobId('shared'));
    expect(deletions).toHaveLength(1);
    const units = p.units.filter((u) => u.type === 'image');
    const owner = units.find((u) => u.blobs.some((b) => b.digest === digest('shared')));
    const other = owner?.digest === digest('x') ? digest('y') : digest('x');
    expect(owner?.blobs.find((b) => b.digest === digest('shared'))?.sharedWith).toEqual([other]);
  });

  it('keeps images the registry does not manage unless `all` is set', () => {
    const snap = snapshot({ images: [image({ seed: 'imported', managed: false })] });
    expect(decision(plan(snap), imageId('imported'))).toEqual(['keep', 'not-managed']);
    expect(decision(plan(snap, { all: true }), imageId('imported'))).toEqual(['delete', 'unreferenced']);
  });

  it('metadata mode plans no registry work at all', () => {
    const snap = snapshot({
      images: ['a', 'b'].map((seed) => image({ seed })),
      streams: [stream({ name: 'web', tags: { latest: ['a', 'b'] } })],
    });
    const p = plan(snap, { keepTagRevisions: 1 }, 'metadata');
    expect(p.items.filter((i) => ['blob', 'layer-link', 'manifest-link'].includes(i.kind))).toEqual([]);
    expect(p.units).toMatchObject([
      { type: 'stream', manifestLinks: [], layerLinks: [] },
      { type: 'image', digest: digest('b'), blobs: [] },
    ]);
    expect(p.summary.bytesFreed).toBe(0);
  });

  it('a namespace-scoped snapshot trims history but deletes no image', () => {
    const snap = snapshot({
      namespace: 'demo',
      images: ['a', 'b'].map((seed) => image({ seed })),
      streams: [stream({ name: 'web', tags: { latest: ['a', 'b'] } })],
    });
    const p = plan(snap, { keepTagRevisions: 1 });
    expect(p.units.map((u) => u.type)).toEqual(['stream']);
    expect(decision(p, tagId('demo/web', 'latest', 0))).toEqual(['keep', 'within-tag-revisions']);
    expect(p.items.some((i) => i.kind === 'image')).toBe(false);
    expect(p.notes.join(' ')).toMatch(/Namespace-scoped/);
  });
});

describe('the plan document', () => {
  const snap = snapshot({
    images: ['a', 'b', 'c', 'd'].map((seed) => image({ seed })),
    streams: [stream({ name: 'web', tags: { latest: ['a', 'b', 'c', 'd'] } })],
  });

  it('is deterministic and survives JSON', () => {
    const first = plan(snap);
    const second = plan(structuredClone(snap));
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(first.id).toMatch(/^[0-9a-f]{16}$/);
    expect(plan(snap, {}, 'metadata').id).not.toBe(first.id);
  });

  it('summarises counts, bytes and reasons', () => {
    const p = plan(snap);
    expect(p.summary.counts['tag-history']).toEqual({ keep: 3, delete: 1 });
    expect(p.summary.counts.image).toEqual({ keep: 3, delete: 1 });
    expect(p.summary.counts['stream-update']).toEqual({ update: 1 });
    expect(p.summary.reasons[0]).toMatchObject({ count: expect.any(Number) as number });
    expect(p.summary.reasons.find((r) => r.rule === 'beyond-tag-revisions')).toEqual({
      rule: 'beyond-tag-revisions',
      action: 'delete',
      count: 1,
    });
  });

  it('with detail "changes" lists only deletes and updates, with "summary" nothing, and still counts every decision', () => {
    const full = plan(snap);
    const changes = planPrune(snap, resolvePrunePolicy().policy, {
      mode: 'full',
      now: NOW,
      detail: 'changes',
    });
    expect(changes.items.every((i) => i.action !== 'keep')).toBe(true);
    expect(changes.items).toEqual(full.items.filter((i) => i.action !== 'keep'));
    expect(changes.summary).toEqual(full.summary);
    expect(changes.units).toEqual(full.units);
    const summary = planPrune(snap, resolvePrunePolicy().policy, {
      mode: 'full',
      now: NOW,
      detail: 'summary',
    });
    expect(summary.items).toEqual([]);
    expect(summary.summary).toEqual(full.summary);
    expect(summary.units).toEqual(full.units);
    expect(summary.id).toBe(full.id);
  });

  it('refuses a snapshot of another schema', () => {
    expect(() => plan({ ...snap, schema: 'other/v9' as never })).toThrow(RegistryPushError);
  });
});
