// Property tests of retention rules and signatures over random streams: the rules' decisions restated
// independently of the planner, namespaces' own rules that never delete more than the cluster's, and
// signature tags that follow their subject and never change another tag's decisions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planPrune } from '../../src/prune/plan.js';
import { resolvePrunePolicy, type RetentionRuleInput } from '../../src/prune/policy.js';
import type {
  ImageUse,
  PrunePlan,
  PrunePolicy,
  PruneSnapshot,
  RetentionRule,
  SnapshotImage,
  SnapshotStream,
} from '../../src/prune/types.js';
import { NOW, ago, digest, snapshot } from './fixtures.js';

const NAMESPACES = ['a', 'b'];
const NAMES = ['s1', 's2'];
const TAGS = ['latest', 'v1', 'pr-1', 'pr-2'];
/** Images 0..5 exist; 6 and 7 are gone (their history items are dangling). */
const IMAGES = 6;
const sigTag = (k: number): string => `sha256-${digest(`img-${k}`).slice('sha256:'.length)}.sig`;
const isSig = (tag: string): boolean => tag.startsWith('sha256-');

interface Case {
  snapshot: PruneSnapshot;
  policy: PrunePolicy;
  own: RetentionRule[] | undefined;
}

const arbRule: fc.Arbitrary<RetentionRuleInput> = fc
  .record({
    namespace: fc.option(fc.constant('^a$'), { nil: undefined }),
    stream: fc.option(fc.constant('^s1$'), { nil: undefined }),
    tag: fc.option(fc.constantFrom('^pr-', '^v', 'latest'), { nil: undefined }),
    keep: fc.oneof(
      fc.integer({ min: 0, max: 3 }).map((n) => ({ keepLast: n })),
      fc.constantFrom('100m', '250m', '400m').map((d) => ({ keepWithin: d })),
      fc.constantFrom('^v', 'latest|pr-2').map((t) => ({ keepTags: t })),
    ),
  })
  .map(({ keep, ...about }) => {
    const rule: RetentionRuleInput = { ...keep };
    for (const [key, value] of Object.entries(about))
      if (value !== undefined) Object.assign(rule, { [key]: value });
    return rule;
  });

const arbItems = fc.array(
  fc.record({ image: fc.integer({ min: 0, max: IMAGES + 1 }), age: fc.integer({ min: 0, max: 600 }) }),
  { maxLength: 4 },
);

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    images: fc.array(
      fc.record({
        age: fc.integer({ min: 0, max: 600 }),
        protected: fc.integer({ min: 0, max: 9 }).map((n) => n < 1),
      }),
      { minLength: IMAGES, maxLength: IMAGES },
    ),
    streams: fc.array(
      fc.record({
        namespace: fc.constantFrom(...NAMESPACES),
        name: fc.constantFrom(...NAMES),
        age: fc.integer({ min: 0, max: 800 }),
        tags: fc.dictionary(fc.constantFrom(...TAGS), arbItems, { maxKeys: 4 }),
        /** Signature tags: subject image → its signature items (ages). */
        signatures: fc.dictionary(
          fc.integer({ min: 0, max: IMAGES + 1 }).map(String),
          fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 2 }),
          { maxKeys: 3 },
        ),
      }),
      { maxLength: 4 },
    ),
    uses: fc.array(
      fc.record({
        kind: fc.constantFrom('tag', 'digest'),
        namespace: fc.constantFrom(...NAMESPACES),
        name: fc.constantFrom(...NAMES),
        tag: fc.constantFrom(...TAGS),
        image: fc.integer({ min: 0, max: IMAGES + 1 }),
      }),
      { maxLength: 3 },
    ),
    rules: fc.array(arbRule, { maxLength: 3 }),
    own: fc.option(
      fc.array(
        arbRule.map(({ namespace: _n, ...rest }) => rest),
        { minLength: 1, maxLength: 2 },
      ),
      {
        nil: undefined,
      },
    ),
    keepTagRevisions: fc.integer({ min: 0, max: 3 }),
    keepYoungerThan: fc.constantFrom('0s', '60m'),
  })
  .map((g) => {
    const images: SnapshotImage[] = g.images.map((p, i) => ({
      digest: digest(`img-${i}`),
      created: ago(p.age),
      managed: true,
      protected: p.protected,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      layers: [{ digest: digest(`layer-${i}`), size: 1000 }],
      config: { digest: digest(`config-${i}`), size: 50 },
      manifests: [],
      size: 1050,
    }));
    const seen = new Set<string>();
    const streams: SnapshotStream[] = [];
    let sigs = 0;
    for (const s of g.streams) {
      const repo = `${s.namespace}/${s.name}`;
      if (seen.has(repo)) continue;
      seen.add(repo);
      const item = (image: string, age: number) => ({
        created: ago(age),
        image,
        dockerImageReference: `registry/${repo}@${image}`,
      });
      const tags = Object.entries(s.tags)
        .filter(([, items]) => items.length > 0)
        .map(([tag, items]) => ({ tag, items: items.map((i) => item(digest(`img-${i.image}`), i.age)) }));
      for (const [subject, ages] of Object.entries(s.signatures)) {
        const sigImages = ages.map((age) => {
          const sig = digest(`sig-${sigs++}`);
          images.push({ ...images[0]!, digest: sig, created: ago(age), protected: false, layers: [] });
          return item(sig, age);
        });
        tags.push({ tag: sigTag(Number(subject)), items: sigImages });
      }
      streams.push({
        namespace: s.namespace,
        name: s.name,
        uid: `uid-${repo}`,
        resourceVersion: '1',
        created: ago(s.age),
        protected: false,
        tags,
      });
    }
    const uses: ImageUse[] = g.uses.map((u, i) =>
      u.kind === 'tag'
        ? { referrer: `Pod p${i}`, namespace: u.namespace, name: u.name, tag: u.tag }
        : { referrer: `Pod p${i}`, namespace: u.namespace, name: u.name, digest: digest(`img-${u.image}`) },
    );
    const { policy } = resolvePrunePolicy({
      keepTagRevisions: g.keepTagRevisions,
      keepYoungerThan: g.keepYoungerThan,
      rules: g.rules,
    });
    const own = g.own?.map((rule, i) => ({
      ...resolvePrunePolicy({ rules: [rule] }).policy.rules![0]!,
      label: `annotation[${i}]`,
    }));
    return { snapshot: snapshot({ images, streams, uses }), policy, own };
  });

const plan = (snap: PruneSnapshot, policy: PrunePolicy): PrunePlan =>
  planPrune(snap, policy, { mode: 'full', now: NOW });
const withOwn = (c: Case): PruneSnapshot =>
  c.own === undefined ? c.snapshot : { ...c.snapshot, namespaceRules: { a: c.own } };
const time = (text: string): number => Date.parse(text);
const re = (source: string | undefined): RegExp | undefined =>
  source === undefined ? undefined : new RegExp(source, 'u');

function selectsTag(rule: RetentionRule, stream: SnapshotStream, tag: string): boolean {
  return (
    !isSig(tag) &&
    (re(rule.namespace)?.test(stream.namespace) ?? true) &&
    (re(rule.stream)?.test(stream.name) ?? true) &&
    (re(rule.tag)?.test(tag) ?? true)
  );
}

/** Whether one rule keeps an item, worked out from the rule's definition. */
function ruleKeeps(
  rule: RetentionRule,
  stream: SnapshotStream,
  tag: string,
  revision: number,
  images: ReadonlySet<string>,
): boolean {
  const item = stream.tags.find((t) => t.tag === tag)!.items[revision]!;
  if (rule.keepWithinMs !== undefined) return time(item.created) > NOW.getTime() - rule.keepWithinMs;
  if (rule.keepTags !== undefined) return revision === 0 && new RegExp(rule.keepTags, 'u').test(tag);
  const pushed = stream.tags
    .flatMap((t, ti) =>
      selectsTag(rule, stream, t.tag)
        ? t.items.map((i, r) => ({ ti, r, tag: t.tag, at: time(i.created), exists: images.has(i.image) }))
        : [],
    )
    .filter((i) => i.exists)
    .sort((x, y) => y.at - x.at || x.ti - y.ti || x.r - y.r)
    .slice(0, rule.keepLast);
  return pushed.some((i) => i.tag === tag && i.r === revision);
}

/** The items whose decision the rules make: not young, not used, not protected, not dangling. */
function* decidedByRules(
  c: Case,
): Generator<{ stream: SnapshotStream; tag: string; revision: number; id: string }> {
  const images = new Map(c.snapshot.images.map((i) => [i.digest, i]));
  const threshold = NOW.getTime() - c.policy.keepYoungerThanMs;
  for (const stream of c.snapshot.streams) {
    if (time(stream.created) > threshold) continue;
    const repo = `${stream.namespace}/${stream.name}`;
    for (const tag of stream.tags) {
      for (let revision = 0; revision < tag.items.length; revision++) {
        const item = tag.items[revision]!;
        const image = images.get(item.image);
        if (image === undefined || image.protected || time(item.created) > threshold) continue;
        const used = c.snapshot.uses.some(
          (u) =>
            u.namespace === stream.namespace &&
            u.name === stream.name &&
            ((revision === 0 && u.tag === tag.tag) || u.digest === item.image),
        );
        if (!used) yield { stream, tag: tag.tag, revision, id: `tag:${repo}:${tag.tag}#${revision}` };
      }
    }
  }
}

const deletes = (p: PrunePlan): Set<string> =>
  new Set(p.items.filter((i) => i.action !== 'keep').map((i) => i.id));

describe('retention rules over random streams', () => {
  it('keep an item a rule selects exactly when one of them keeps it; the others keep their revisions', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const p = plan(c.snapshot, c.policy);
        const items = new Map(p.items.map((i) => [i.id, i]));
        const existing = new Set(c.snapshot.images.map((i) => i.digest));
        const rules = c.policy.rules ?? [];
        for (const { stream, tag, revision, id } of decidedByRules(c)) {
          if (isSig(tag)) continue;
          const selecting = rules.filter((r) => selectsTag(r, stream, tag));
          const keep =
            selecting.length > 0
              ? selecting.some((r) => ruleKeeps(r, stream, tag, revision, existing))
              : revision < c.policy.keepTagRevisions;
          const got = items.get(id)!;
          expect(got.action, `${id} ${got.rule}`).toBe(keep ? 'keep' : 'delete');
          if (keep && selecting.length > 0) expect(got.rule).toBe('retention-rule');
          if (!keep)
            expect(got.rule).toBe(selecting.length > 0 ? 'beyond-retention-rules' : 'beyond-tag-revisions');
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("a namespace's own rules never delete anything the cluster's keep, and keep what they say in that namespace", () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const cluster = plan(c.snapshot, c.policy);
        const p = plan(withOwn(c), c.policy);
        const before = deletes(cluster);
        for (const id of deletes(p))
          expect(before.has(id), `${id} deleted only with namespace rules`).toBe(true);
        const existing = new Set(c.snapshot.images.map((i) => i.digest));
        const items = new Map(p.items.map((i) => [i.id, i]));
        for (const { stream, tag, revision, id } of decidedByRules(c)) {
          if (isSig(tag) || stream.namespace !== 'a') continue;
          if (
            (c.own ?? []).some(
              (r) => selectsTag(r, stream, tag) && ruleKeeps(r, stream, tag, revision, existing),
            )
          )
            expect(items.get(id)!.action, id).toBe('keep');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never delete a young, used or protected item, whatever the rules', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const p = plan(withOwn(c), c.policy);
        const gone = deletes(p);
        const decided = new Set([...decidedByRules(c)].map((d) => d.id));
        const images = new Set(c.snapshot.images.map((i) => i.digest));
        for (const stream of c.snapshot.streams) {
          for (const tag of stream.tags) {
            tag.items.forEach((item, revision) => {
              const id = `tag:${stream.namespace}/${stream.name}:${tag.tag}#${revision}`;
              // Dangling items (their Image is gone) may go; anything else outside the rules' reach stays.
              if (!decided.has(id) && images.has(item.image) && !isSig(tag.tag))
                expect(gone.has(id), id).toBe(false);
            });
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('signature tags over random streams', () => {
  it('follow their subject in their stream, and never change the decision of another tag', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const p = plan(withOwn(c), c.policy);
        const items = new Map(p.items.map((i) => [i.id, i]));
        const decided = new Set([...decidedByRules(c)].map((d) => d.id));
        const unsigned: PruneSnapshot = {
          ...withOwn(c),
          streams: c.snapshot.streams.map((s) => ({ ...s, tags: s.tags.filter((t) => !isSig(t.tag)) })),
        };
        const without = new Map(plan(unsigned, c.policy).items.map((i) => [i.id, i]));
        for (const stream of c.snapshot.streams) {
          const repo = `${stream.namespace}/${stream.name}`;
          const regular = stream.tags.filter((t) => !isSig(t.tag));
          for (const tag of regular) {
            tag.items.forEach((_, r) => {
              const id = `tag:${repo}:${tag.tag}#${r}`;
              expect([items.get(id)?.action, items.get(id)?.rule]).toEqual([
                without.get(id)?.action,
                without.get(id)?.rule,
              ]);
            });
          }
          for (const tag of stream.tags.filter((t) => isSig(t.tag))) {
            const subject = `sha256:${tag.tag.slice('sha256-'.length, -'.sig'.length)}`;
            const inStream = regular.some((t) => t.items.some((i) => i.image === subject));
            if (!inStream) continue;
            const subjectKept = regular.some((t) =>
              t.items.some(
                (i, r) => i.image === subject && items.get(`tag:${repo}:${t.tag}#${r}`)?.action === 'keep',
              ),
            );
            tag.items.forEach((_, r) => {
              const id = `tag:${repo}:${tag.tag}#${r}`;
              if (!decided.has(id)) return;
              expect(items.get(id)?.action, id).toBe(subjectKept ? 'keep' : 'delete');
              expect(items.get(id)?.rule).toBe(subjectKept ? 'subject-kept' : 'subject-pruned');
            });
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe('OCI referrers over random images', () => {
  const arbReferrers = fc.record({
    ages: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: IMAGES, maxLength: IMAGES }),
    referrers: fc.array(
      fc.record({ subject: fc.integer({ min: 0, max: IMAGES + 1 }), age: fc.integer({ min: 0, max: 600 }) }),
      { maxLength: 5 },
    ),
    latest: fc.array(fc.integer({ min: 0, max: IMAGES - 1 }), { maxLength: 4 }),
    keepTagRevisions: fc.integer({ min: 0, max: 2 }),
  });

  it('keep a referrer while its subject is kept, and delete an old one with its subject', () => {
    fc.assert(
      fc.property(arbReferrers, (g) => {
        const plain = g.ages.map((age, i) => ({
          digest: digest(`img-${i}`),
          created: ago(age),
          managed: true,
          protected: false,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          layers: [{ digest: digest(`layer-${i}`), size: 10 }],
          manifests: [],
          size: 10,
        }));
        const referrers = g.referrers.map((r, j) => ({
          ...plain[0]!,
          digest: digest(`ref-${j}`),
          created: ago(r.age),
          layers: [{ digest: digest(`ref-layer-${j}`), size: 10 }],
          subject: digest(`img-${r.subject}`),
        }));
        const snap = snapshot({
          images: [...plain, ...referrers],
          streams: [
            {
              namespace: 'a',
              name: 's1',
              uid: 'u',
              resourceVersion: '1',
              created: ago(900),
              protected: false,
              tags:
                g.latest.length === 0
                  ? []
                  : [
                      {
                        tag: 'latest',
                        items: g.latest.map((i, r) => ({
                          created: ago(500 + r),
                          image: digest(`img-${i}`),
                          dockerImageReference: 'x',
                        })),
                      },
                    ],
            },
          ],
        });
        const { policy } = resolvePrunePolicy({
          keepTagRevisions: g.keepTagRevisions,
          keepYoungerThan: '60m',
        });
        const p = plan(snap, policy);
        const gone = deletes(p);
        const present = new Set(plain.map((i) => i.digest));
        for (const referrer of referrers) {
          const subjectKept = present.has(referrer.subject) && !gone.has(`image:${referrer.subject}`);
          const young = time(referrer.created) > NOW.getTime() - policy.keepYoungerThanMs;
          if (subjectKept)
            expect(gone.has(`image:${referrer.digest}`), 'referrer of a kept image deleted').toBe(false);
          else if (!young)
            expect(gone.has(`image:${referrer.digest}`), 'referrer outlives its subject').toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
