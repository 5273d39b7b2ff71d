// Property tests over random cluster graphs: images sharing layers, manifest lists, streams with histories
// (some dangling), uses by tag and digest, finished pods, protect annotations, invalid references, size
// limits and random policies. The checker restates the safety rules independently of the planner.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/prune/execute.js';
import { planPrune } from '../../src/prune/plan.js';
import { policyFor, resolvePrunePolicy } from '../../src/prune/policy.js';
import type {
  ImageUse,
  PruneMode,
  PrunePlan,
  PrunePolicy,
  PruneSnapshot,
  SnapshotImage,
  SnapshotStream,
} from '../../src/prune/types.js';
import { NOW, ago, digest, snapshot } from './fixtures.js';
import { memoryCluster, memoryRegistry, picture, stateFrom } from './memory-cluster.js';

const NAMESPACES = ['a', 'b', 'c'];
const NAMES = ['s1', 's2', 's3'];
const TAGS = ['latest', 'v1', 'pr-1'];
const MAX_IMAGES = 10;

interface Case {
  snapshot: PruneSnapshot;
  policy: PrunePolicy;
  mode: PruneMode;
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    plain: fc.array(
      fc.record({
        layers: fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }),
        age: fc.integer({ min: 0, max: 300 }),
        managed: fc.boolean(),
        protected: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
        size: fc.integer({ min: 100, max: 5000 }),
      }),
      { maxLength: MAX_IMAGES - 3 },
    ),
    lists: fc.array(
      fc.record({
        children: fc.uniqueArray(fc.integer({ min: 0, max: MAX_IMAGES - 4 }), { minLength: 1, maxLength: 2 }),
        age: fc.integer({ min: 0, max: 300 }),
      }),
      { maxLength: 3 },
    ),
    streams: fc.array(
      fc.record({
        namespace: fc.constantFrom(...NAMESPACES),
        name: fc.constantFrom(...NAMES),
        age: fc.integer({ min: 0, max: 400 }),
        protected: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
        tags: fc.dictionary(
          fc.constantFrom(...TAGS),
          fc.array(
            fc.record({
              image: fc.integer({ min: 0, max: MAX_IMAGES + 1 }),
              age: fc.integer({ min: 0, max: 300 }),
            }),
            { maxLength: 5 },
          ),
          { maxKeys: 3 },
        ),
      }),
      { maxLength: 5 },
    ),
    uses: fc.array(
      fc.record({
        kind: fc.constantFrom('tag', 'digest', 'foreign-digest'),
        namespace: fc.constantFrom(...NAMESPACES),
        name: fc.constantFrom(...NAMES),
        tag: fc.constantFrom(...TAGS),
        image: fc.integer({ min: 0, max: MAX_IMAGES + 1 }),
        finished: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
      }),
      { maxLength: 6 },
    ),
    invalidIn: fc.option(fc.constantFrom(...NAMESPACES, ''), { nil: undefined }),
    limit: fc.option(fc.integer({ min: 500, max: 4000 }), { nil: undefined }),
    keepTagRevisions: fc.integer({ min: 0, max: 3 }),
    keepYoungerThan: fc.constantFrom('0s', '30m', '2h'),
    overSize: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
    all: fc.boolean(),
    tagExclude: fc.option(fc.constantFrom('^pr-', '^v'), { nil: undefined }),
    override: fc.option(
      fc.record({
        namespace: fc.constantFrom(...NAMESPACES),
        exclude: fc.boolean(),
        keepTagRevisions: fc.integer({ min: 0, max: 2 }),
      }),
      { nil: undefined },
    ),
    mode: fc.constantFrom<PruneMode>('full', 'metadata'),
  })
  .map((g) => {
    const images: SnapshotImage[] = g.plain.map((p, i) => ({
      digest: digest(`img-${i}`),
      created: ago(p.age),
      managed: p.managed,
      protected: p.protected,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers: p.layers.map((l) => ({ digest: digest(`layer-${l}`), size: 1000 + l })),
      config: { digest: digest(`config-${i}`), size: 50 },
      manifests: [],
      size: p.size,
    }));
    g.lists.forEach((list, j) => {
      const children = list.children.filter((c) => c < g.plain.length).map((c) => digest(`img-${c}`));
      if (children.length === 0) return;
      images.push({
        digest: digest(`img-${g.plain.length + j}`),
        created: ago(list.age),
        managed: true,
        protected: false,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        layers: [],
        manifests: children,
        size: 0,
      });
    });
    const seen = new Set<string>();
    const streams: SnapshotStream[] = [];
    for (const s of g.streams) {
      const repo = `${s.namespace}/${s.name}`;
      if (seen.has(repo)) continue;
      seen.add(repo);
      streams.push({
        namespace: s.namespace,
        name: s.name,
        uid: `uid-${repo}`,
        resourceVersion: '1',
        created: ago(s.age),
        protected: s.protected,
        tags: Object.entries(s.tags)
          .filter(([, items]) => items.length > 0)
          .map(([tag, items]) => ({
            tag,
            items: items.map((item) => ({
              created: ago(item.age),
              image: digest(`img-${item.image}`),
              dockerImageReference: `registry/${repo}@${digest(`img-${item.image}`)}`,
            })),
          })),
      });
    }
    const uses: ImageUse[] = g.uses.map((u, i) => {
      const finished = u.finished !== undefined ? { finishedPodCreated: ago(u.finished) } : {};
      const referrer = `Pod ${u.namespace}/p${i}`;
      if (u.kind === 'tag')
        return { referrer, namespace: u.namespace, name: u.name, tag: u.tag, ...finished };
      if (u.kind === 'digest')
        return {
          referrer,
          namespace: u.namespace,
          name: u.name,
          digest: digest(`img-${u.image}`),
          ...finished,
        };
      return { referrer, digest: digest(`img-${u.image}`), ...finished };
    });
    const { policy } = resolvePrunePolicy({
      keepYoungerThan: g.keepYoungerThan,
      ...(g.overSize ? { pruneOverSizeLimit: true } : { keepTagRevisions: g.keepTagRevisions }),
      ignoreInvalidImageReferences: true,
      all: g.all,
      protectAnnotation: 'test/protect',
      ...(g.tagExclude !== undefined ? { tagExclude: g.tagExclude } : {}),
      ...(g.override !== undefined
        ? {
            namespaces: {
              [g.override.namespace]: {
                exclude: g.override.exclude,
                keepTagRevisions: g.override.keepTagRevisions,
              },
            },
          }
        : {}),
    });
    return {
      snapshot: snapshot({
        images,
        streams,
        uses,
        invalidReferences:
          g.invalidIn !== undefined
            ? [{ referrer: 'Pod x', namespace: g.invalidIn, reference: 'BAD', problem: 'bad' }]
            : [],
        imageSizeLimits: g.limit !== undefined ? { a: g.limit, b: g.limit } : {},
      }),
      policy,
      mode: g.mode,
    };
  });

const time = (text: string): number => Date.parse(text);

/** Uses that count at NOW: finished pods only while young. */
function activeUses(c: Case): ImageUse[] {
  return c.snapshot.uses.filter(
    (u) =>
      u.finishedPodCreated === undefined ||
      time(u.finishedPodCreated) >= NOW.getTime() - policyFor(c.policy, u.namespace ?? '').keepYoungerThanMs,
  );
}

/** The safety rules, restated from the issue: what must never be deleted. */
function checkPlan(c: Case, plan: PrunePlan): void {
  const { snapshot: snap, policy } = c;
  const now = NOW.getTime();
  const images = new Map(snap.images.map((i) => [i.digest, i]));
  const deleted = new Set(plan.items.filter((i) => i.action === 'delete').map((i) => i.id));
  const uses = activeUses(c);
  const invalid = new Set(snap.invalidReferences.map((r) => r.namespace));
  const remaining = new Set<string>();
  for (const stream of snap.streams) {
    const repo = `${stream.namespace}/${stream.name}`;
    const effective = policyFor(policy, stream.namespace);
    const streamSafe =
      stream.protected || effective.exclude || invalid.has(stream.namespace) || invalid.has('');
    for (const tag of stream.tags) {
      tag.items.forEach((item, revision) => {
        const id = `tag:${repo}:${tag.tag}#${revision}`;
        const image = images.get(item.image);
        const young = time(item.created) > now - effective.keepYoungerThanMs;
        const tagUsed =
          revision === 0 &&
          uses.some((u) => u.namespace === stream.namespace && u.name === stream.name && u.tag === tag.tag);
        const digestUsed = uses.some(
          (u) => u.namespace === stream.namespace && u.name === stream.name && u.digest === item.image,
        );
        const mustKeep =
          streamSafe || young || tagUsed || image?.protected === true || (image !== undefined && digestUsed);
        if (mustKeep) expect(deleted.has(id), `${id} must be kept`).toBe(false);
        if (!deleted.has(id)) remaining.add(item.image);
      });
    }
  }
  checkImages(c, plan, deleted, remaining, uses);
}

function checkImages(
  c: Case,
  plan: PrunePlan,
  deleted: Set<string>,
  remaining: Set<string>,
  uses: ImageUse[],
): void {
  const { snapshot: snap, policy } = c;
  const now = NOW.getTime();
  const images = new Map(snap.images.map((i) => [i.digest, i]));
  // What stays in a history keeps its image, and a kept list keeps its children.
  const keptImages = new Set(
    snap.images.filter((i) => !deleted.has(`image:${i.digest}`)).map((i) => i.digest),
  );
  for (const digestInUse of remaining) {
    if (images.has(digestInUse))
      expect(keptImages.has(digestInUse), `image ${digestInUse} is in a history`).toBe(true);
  }
  for (const image of snap.images) {
    if (!deleted.has(`image:${image.digest}`)) continue;
    expect(image.protected, 'protected image deleted').toBe(false);
    expect(time(image.created) <= now - policy.keepYoungerThanMs, 'young image deleted').toBe(true);
    expect(
      uses.some((u) => u.digest === image.digest),
      'image used by digest deleted',
    ).toBe(false);
    expect(image.managed || policy.all, 'unmanaged image deleted without all').toBe(true);
  }
  for (const digestKept of keptImages) {
    const image = images.get(digestKept)!;
    for (const child of image.manifests)
      expect(keptImages.has(child), 'child of a kept list deleted').toBe(true);
    for (const blob of [
      ...image.layers,
      ...(image.config ? [image.config] : []),
      { digest: image.digest },
      ...image.manifests.map((d) => ({ digest: d })),
    ]) {
      expect(
        deleted.has(`blob:${blob.digest}`),
        `blob ${blob.digest} of kept image ${digestKept} deleted`,
      ).toBe(false);
    }
  }
  if (c.mode === 'metadata') {
    expect(plan.items.some((i) => ['blob', 'layer-link', 'manifest-link'].includes(i.kind))).toBe(false);
  }
}

describe('plans over random cluster graphs', () => {
  it('never delete what is in use, young or protected, nor a blob a kept image needs', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const plan = planPrune(c.snapshot, c.policy, { mode: c.mode, now: NOW });
        checkPlan(c, plan);
      }),
      { numRuns: 2000 },
    );
  });

  it('executed in memory: kept images keep their blobs, and running the plan twice equals running it once', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async (c) => {
        const plan = planPrune(c.snapshot, c.policy, { mode: c.mode, now: NOW });
        const state = stateFrom(c.snapshot);
        const registry = memoryRegistry(state);
        const options = { cluster: memoryCluster(state), registry, confirm: true, retry: { attempts: 1 } };
        const first = await executePlan(plan, options);
        expect(first.summary.errors).toEqual({});
        if (c.mode === 'metadata') expect(registry.calls).toBe(0);
        for (const [name, image] of state.images) {
          for (const layer of image.dockerImageLayers ?? [])
            expect(state.blobs.has(layer.name), `blob of kept ${name}`).toBe(true);
          expect(state.blobs.has(name)).toBe(true);
        }
        const once = picture(state);
        const second = await executePlan(plan, options);
        expect(picture(state)).toEqual(once);
        const changes = second.units
          .flatMap((u) => u.items)
          .filter((i) => i.outcome === 'deleted' || i.outcome === 'updated');
        expect(changes).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the checker itself', () => {
  it('rejects a plan that deletes a used item and a shared blob', () => {
    const c = fc.sample(arbCase, { numRuns: 1, seed: 7 })[0]!;
    const images: SnapshotImage[] = [
      {
        ...c.snapshot.images[0]!,
        digest: digest('img-0'),
        protected: false,
        layers: [{ digest: digest('layer-1'), size: 1 }],
        manifests: [],
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { digest: digest('config-0'), size: 1 },
        created: ago(500),
        managed: true,
        size: 1,
      },
    ];
    const unsafe: Case = {
      ...c,
      snapshot: snapshot({
        images,
        streams: [
          {
            namespace: 'a',
            name: 's1',
            uid: 'u',
            resourceVersion: '1',
            created: ago(500),
            protected: false,
            tags: [
              {
                tag: 'latest',
                items: [{ created: ago(400), image: digest('img-0'), dockerImageReference: 'x' }],
              },
            ],
          },
        ],
        uses: [{ referrer: 'Pod a/p', namespace: 'a', name: 's1', tag: 'latest' }],
      }),
    };
    const plan = planPrune(unsafe.snapshot, unsafe.policy, { mode: 'full', now: NOW });
    expect(() => checkPlan(unsafe, plan)).not.toThrow();
    const broken = {
      ...plan,
      items: plan.items.map((i) => (i.id === 'tag:a/s1:latest#0' ? { ...i, action: 'delete' as const } : i)),
    };
    expect(() => checkPlan(unsafe, broken)).toThrow(/must be kept/);
    const blobGone = {
      ...plan,
      items: [
        ...plan.items,
        {
          id: `blob:${digest('layer-1')}`,
          kind: 'blob' as const,
          action: 'delete' as const,
          rule: 'blob-unreferenced' as const,
          bytes: 1,
        },
      ],
    };
    expect(() => checkPlan(unsafe, blobGone)).toThrow(/of kept image/);
  });
});
