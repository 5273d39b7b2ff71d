// Retention rules (cluster and namespace), signatures and referrers that follow their subject, and the
// reference sources of custom resources: policy checks, plan decisions with their explanations, and the
// snapshot's reading of namespaces' own rules and of manifests' subjects.
import { describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { toSnapshotImage } from '../../src/prune/image-objects.js';
import { planPrune } from '../../src/prune/plan.js';
import { parseNamespaceRules, resolvePrunePolicy, type PrunePolicyInput } from '../../src/prune/policy.js';
import { formatPlan } from '../../src/prune/report.js';
import { REFERENCE_PRESETS, parseRetentionDuration, signatureSubject } from '../../src/prune/rules.js';
import { SnapshotBuilder, extraSourceOf } from '../../src/prune/snapshot.js';
import type { PlanItem, PrunePlan, PruneSnapshot, RetentionRule } from '../../src/prune/types.js';
import { NOW, ago, digest, image, imageObject, snapshot, stream, use } from './fixtures.js';

function plan(snap: PruneSnapshot, input: PrunePolicyInput = {}): PrunePlan {
  return planPrune(snap, resolvePrunePolicy(input).policy, { mode: 'full', now: NOW });
}

function item(p: PrunePlan, id: string): PlanItem {
  const found = p.items.find((entry) => entry.id === id);
  if (found === undefined) throw new Error(`no item ${id} in ${p.items.map((i) => i.id).join(', ')}`);
  return found;
}

const decision = (p: PrunePlan, id: string): [string, string, string | undefined] => {
  const found = item(p, id);
  return [found.action, found.rule, found.referrer];
};

const tagId = (repo: string, tag: string, revision: number): string => `tag:${repo}:${tag}#${revision}`;
const hex = (seed: string): string => digest(seed).slice('sha256:'.length);
const sigTag = (seed: string, suffix = '.sig'): string => `sha256-${hex(seed)}${suffix}`;

function policyError(input: PrunePolicyInput): RegistryPushError {
  try {
    resolvePrunePolicy(input);
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('the policy: rules, namespace rules and reference sources as written', () => {
  it('compiles rules with their labels and durations in days or Go units', () => {
    const { policy } = resolvePrunePolicy({
      rules: [
        { name: 'pr-builds', stream: '^web$', tag: '^pr-', keepLast: 5 },
        { tag: '^nightly-', keepWithin: '7d' },
        { keepTags: '^v[0-9]+' },
      ],
    });
    expect(policy.rules).toEqual([
      { label: 'pr-builds', stream: '^web$', tag: '^pr-', keepLast: 5 },
      { label: 'rules[1]', tag: '^nightly-', keepWithinMs: 7 * 86_400_000 },
      { label: 'rules[2]', keepTags: '^v[0-9]+' },
    ]);
    expect(parseRetentionDuration('36h')).toBe(36 * 3_600_000);
    expect(parseRetentionDuration('7x')).toBeUndefined();
  });

  it('refuses a rule that keeps in no way or in two, an unknown field, a bad expression, or rules in over-size mode', () => {
    expect(policyError({ rules: [{ tag: '^pr-' }] }).message).toMatch(/rules\[0\] keeps nothing/);
    expect(policyError({ rules: [{ keepLast: 1, keepWithin: '1h' }] }).message).toMatch(
      /has keepLast and keepWithin, but a rule keeps in one way only/,
    );
    expect(policyError({ rules: [{ keepLast: 1, tags: 'x' } as never] }).details).toEqual({
      field: 'rules[0].tags',
    });
    expect(policyError({ rules: [{ keepTags: '(' }] }).details).toEqual({ field: 'rules[0].keepTags' });
    expect(policyError({ rules: [{ keepLast: -1 }] }).details).toEqual({ field: 'rules[0].keepLast' });
    expect(policyError({ rules: [{ keepWithin: 'soon' }] }).details).toEqual({
      field: 'rules[0].keepWithin',
    });
    expect(policyError({ rules: [{ keepLast: 1 }], pruneOverSizeLimit: true }).details).toEqual({
      field: 'rules',
    });
    expect(policyError({ rules: Array.from({ length: 101 }, () => ({ keepLast: 1 })) }).message).toMatch(
      /101 rules, more than the 100 allowed/,
    );
  });

  it('reads namespaces own rules as JSON lists that may not name a namespace', () => {
    expect(parseNamespaceRules('[{"tag":"^pr-","keepLast":10}]', 'annotation')).toEqual([
      { label: 'annotation[0]', tag: '^pr-', keepLast: 10 },
    ]);
    expect(() => parseNamespaceRules('[{"namespace":"other","keepLast":1}]', 'annotation')).toThrow(
      /annotation\[0\]\.namespace cannot be set: a namespace rule is about its own namespace/,
    );
    expect(() => parseNamespaceRules('{', 'configmap')).toThrow(/configmap is not JSON/);
    const { policy } = resolvePrunePolicy({ namespaceRules: true });
    expect(policy.namespaceRules).toEqual({
      annotation: 'registry-push.io/retention-rules',
      configMap: 'registry-push-retention',
      key: 'rules',
    });
    expect(resolvePrunePolicy({ namespaceRules: false }).policy.namespaceRules).toBeUndefined();
    expect(policyError({ namespaceRules: { configMap: 'Not A Name' } }).details).toEqual({
      field: 'namespaceRules.configMap',
    });
  });

  it('expands presets, checks kinds written out and accepts JSONPath spellings of the paths', () => {
    const { policy } = resolvePrunePolicy({
      referenceSources: [
        'tekton',
        {
          group: 'example.com',
          version: 'v1',
          resource: 'builds',
          kind: 'Build',
          paths: ['$.spec.images[*].ref', '{.status.image}'],
        },
      ],
    });
    expect(policy.referenceSources?.map((s) => `${s.kind}.${s.group}/${s.version}`)).toEqual([
      'TaskRun.tekton.dev/v1',
      'PipelineRun.tekton.dev/v1',
      'Build.example.com/v1',
    ]);
    expect(policy.referenceSources?.[2]?.paths).toEqual(['spec.images[].ref', 'status.image']);
    expect(policy.referenceSources?.[0]?.preset).toBe('tekton');
    expect(Object.keys(REFERENCE_PRESETS).sort()).toEqual(['argo-rollouts', 'knative', 'olm', 'tekton']);
    expect(REFERENCE_PRESETS.olm?.[0]?.paths).toContain('spec.relatedImages[].image');
    expect(policyError({ referenceSources: ['jenkins'] }).message).toMatch(/names no preset: "jenkins"/);
    expect(
      policyError({
        referenceSources: [{ group: 'x.io', version: 'v1', resource: 'things', paths: ['spec..image'] }],
      }).details,
    ).toEqual({ field: 'referenceSources[0].paths[0]' });
    expect(extraSourceOf(policy.referenceSources![0]!)).toEqual({
      type: { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', plural: 'taskruns', namespaced: true },
      paths: REFERENCE_PRESETS.tekton![0]!.paths,
      optional: true,
    });
  });
});

describe('cluster retention rules', () => {
  // Six pull-request tags of one image each, pushed an hour apart (pr-6 newest), and a release tag with
  // three revisions. Everything is older than the default hour of age protection.
  const prs = ['pr-1', 'pr-2', 'pr-3', 'pr-4', 'pr-5', 'pr-6'];
  const snap = snapshot({
    images: [...prs, 'r1', 'r2', 'r3'].map((seed) => image({ seed })),
    streams: [
      stream({
        name: 'web',
        tags: {
          ...Object.fromEntries(prs.map((tag, i) => [tag, [[tag, 600 - 60 * i] as [string, number]]])),
          release: ['r3', 'r2', 'r1'],
        },
      }),
    ],
  });

  it('keeps the last N pushed of the tags a rule selects, across tags, and deletes the others of them', () => {
    const p = plan(snap, { rules: [{ name: 'prs', tag: '^pr-', keepLast: 2 }] });
    const text = 'rule prs: keep last 2 pushed';
    expect(decision(p, tagId('demo/web', 'pr-6', 0))).toEqual(['keep', 'retention-rule', text]);
    expect(decision(p, tagId('demo/web', 'pr-5', 0))).toEqual(['keep', 'retention-rule', text]);
    expect(decision(p, tagId('demo/web', 'pr-4', 0))).toEqual([
      'delete',
      'beyond-retention-rules',
      undefined,
    ]);
    expect(decision(p, tagId('demo/web', 'pr-1', 0))[1]).toBe('beyond-retention-rules');
    // The tags no rule selects keep the ImagePruner's revisions.
    expect(decision(p, tagId('demo/web', 'release', 2))[1]).toBe('within-tag-revisions');
    expect(p.summary.retention).toEqual({ [text]: 2 });
    expect(formatPlan(p)).toContain(`${text}: 2`);
    expect(formatPlan(p).split('\n')[0]).toContain('rule prs (*/*/^pr-): keep last 2 pushed');
  });

  it('ORs the rules that select an item: any one of them keeps it, and names the first that does', () => {
    const p = plan(snap, {
      keepTagRevisions: 1,
      rules: [
        { name: 'prs', tag: '^pr-', keepLast: 1 },
        { name: 'fresh', keepWithin: '200m' },
        { name: 'pr-2', keepTags: '^pr-2$' },
      ],
    });
    // "fresh" selects every tag: pr-6 (pushed 300 min ago) is kept by "prs", release#0..2 (300, 290, 280
    // min ago) by neither, pr-2 by its own rule.
    expect(decision(p, tagId('demo/web', 'pr-6', 0))[2]).toBe('rule prs: keep last 1 pushed');
    expect(decision(p, tagId('demo/web', 'pr-2', 0))).toEqual([
      'keep',
      'retention-rule',
      'rule pr-2: keep tags /^pr-2$/',
    ]);
    expect(decision(p, tagId('demo/web', 'pr-5', 0))[0]).toBe('delete');
    expect(decision(p, tagId('demo/web', 'release', 0))).toEqual([
      'delete',
      'beyond-retention-rules',
      undefined,
    ]);
    const young = plan(snap, { rules: [{ name: 'fresh', keepWithin: '295m' }] });
    expect(decision(young, tagId('demo/web', 'release', 1))).toEqual([
      'keep',
      'retention-rule',
      'rule fresh: keep pushed within 4h55m0s',
    ]);
    expect(decision(young, tagId('demo/web', 'release', 0))[0]).toBe('delete');
  });

  it('never deletes what is young or in use, whatever the rules say', () => {
    const p = plan(
      { ...snap, uses: [use('Pod demo/p', { namespace: 'demo', name: 'web', tag: 'pr-1' })] },
      { keepYoungerThan: '310m', rules: [{ keepLast: 0 }] },
    );
    expect(decision(p, tagId('demo/web', 'pr-1', 0))[1]).toBe('tag-in-use');
    expect(decision(p, tagId('demo/web', 'pr-6', 0))[1]).toBe('young');
    expect(decision(p, tagId('demo/web', 'pr-5', 0))[1]).toBe('beyond-retention-rules');
  });
});

describe("namespaces' own rules", () => {
  const snap = snapshot({
    images: ['a', 'b', 'c', 'd', 'x', 'y'].map((seed) => image({ seed })),
    streams: [
      stream({
        name: 'web',
        tags: {
          latest: [
            ['a', 100],
            ['b', 200],
            ['c', 300],
            ['d', 400],
          ],
        },
      }),
      stream({
        namespace: 'other',
        name: 'web',
        tags: {
          latest: [
            ['x', 100],
            ['y', 200],
          ],
        },
      }),
    ],
  });
  const own = (rules: RetentionRule[]): PruneSnapshot => ({ ...snap, namespaceRules: { demo: rules } });

  it('keep more than the cluster would, in their namespace only, and say so', () => {
    const p = plan(own([{ label: 'annotation[0]', keepLast: 3 }]), { keepTagRevisions: 1 });
    expect(decision(p, tagId('demo/web', 'latest', 0))[1]).toBe('within-tag-revisions');
    expect(decision(p, tagId('demo/web', 'latest', 2))).toEqual([
      'keep',
      'namespace-retention-rule',
      'namespace demo rule annotation[0]: keep last 3 pushed',
    ]);
    expect(decision(p, tagId('demo/web', 'latest', 3))[0]).toBe('delete');
    expect(decision(p, tagId('other/web', 'latest', 1))[0]).toBe('delete');
  });

  it('never delete what the cluster keeps, even a rule keeping nothing', () => {
    const cluster = plan(snap, { rules: [{ keepLast: 3 }] });
    const p = plan(
      own([
        { label: 'annotation[0]', keepLast: 0 },
        { label: 'configmap[0]', keepTags: 'nothing' },
      ]),
      {
        rules: [{ keepLast: 3 }],
      },
    );
    const deletes = (x: PrunePlan): string[] => x.items.filter((i) => i.action === 'delete').map((i) => i.id);
    expect(deletes(p)).toEqual(deletes(cluster));
    expect(decision(p, tagId('demo/web', 'latest', 2))[1]).toBe('retention-rule');
  });
});

describe('signatures and attestations follow their subject', () => {
  const snap = snapshot({
    images: ['a', 'b', 'c', 'sig-a', 'sig-c', 'sig-c-old', 'att-c'].map((seed) => image({ seed })),
    streams: [
      stream({
        name: 'web',
        tags: {
          latest: [
            ['a', 100],
            ['b', 200],
            ['c', 300],
          ],
          [sigTag('a')]: ['sig-a'],
          [sigTag('c')]: ['sig-c', 'sig-c-old'],
          [sigTag('c', '.att')]: ['att-c'],
        },
      }),
    ],
  });

  it('recognises cosign tags and the referrers tag schema', () => {
    expect(signatureSubject(sigTag('a'))).toBe(digest('a'));
    expect(signatureSubject(sigTag('a', '.sbom'))).toBe(digest('a'));
    expect(signatureSubject(sigTag('a', ''))).toBe(digest('a'));
    expect(signatureSubject(`${sigTag('a')}x`)).toBeUndefined();
    expect(signatureSubject('sha256-abc.sig')).toBeUndefined();
  });

  it('keeps a signature while its subject stays in the stream and prunes it with its subject', () => {
    const p = plan(snap, { keepTagRevisions: 1 });
    expect(decision(p, tagId('demo/web', 'latest', 0))[0]).toBe('keep');
    expect(decision(p, tagId('demo/web', sigTag('a'), 0))).toEqual([
      'keep',
      'subject-kept',
      'demo/web:latest#0',
    ]);
    // Never counted as revisions: both items of c's signature tag go with c, neither stays for the count.
    expect(decision(p, tagId('demo/web', sigTag('c'), 0))).toEqual(['delete', 'subject-pruned', digest('c')]);
    expect(decision(p, tagId('demo/web', sigTag('c'), 1))).toEqual(['delete', 'subject-pruned', digest('c')]);
    expect(decision(p, tagId('demo/web', sigTag('c', '.att'), 0))[1]).toBe('subject-pruned');
    expect(decision(p, `image:${digest('sig-c')}`)).toEqual(['delete', 'unreferenced', undefined]);
    expect(decision(p, `image:${digest('sig-a')}`)[1]).toBe('in-stream-history');
  });

  it('keeps every revision of a signature tag while its subject is kept, and never counts them', () => {
    const p = plan(snap, { keepTagRevisions: 3 });
    expect(decision(p, tagId('demo/web', sigTag('c'), 1))).toEqual([
      'keep',
      'subject-kept',
      'demo/web:latest#2',
    ]);
    // Rules do not select signature tags either.
    const ruled = plan(snap, { rules: [{ keepLast: 1 }] });
    expect(decision(ruled, tagId('demo/web', sigTag('a'), 0))[1]).toBe('subject-kept');
    expect(decision(ruled, tagId('demo/web', sigTag('c'), 0))[1]).toBe('subject-pruned');
    expect(decision(ruled, tagId('demo/web', 'latest', 1))[1]).toBe('beyond-retention-rules');
  });

  it('follows a subject in another stream (COSIGN_REPOSITORY) wherever it is kept', () => {
    const p = plan(
      snapshot({
        images: ['a', 'b', 'sig-a', 'sig-b'].map((seed) => image({ seed })),
        streams: [
          stream({ name: 'web', tags: { latest: ['a', 'b'] } }),
          stream({ name: 'signatures', tags: { [sigTag('a')]: ['sig-a'], [sigTag('b')]: ['sig-b'] } }),
        ],
      }),
      { keepTagRevisions: 1 },
    );
    expect(decision(p, tagId('demo/signatures', sigTag('a'), 0))).toEqual([
      'keep',
      'subject-kept',
      `${digest('a')} (in a stream's history)`,
    ]);
    expect(decision(p, tagId('demo/signatures', sigTag('b'), 0))[1]).toBe('subject-pruned');
  });

  it('follows a platform manifest of a kept or pruned list (cosign sign --recursive)', () => {
    const p = plan(
      snapshot({
        images: [
          image({ seed: 'new', children: ['new-amd64'] }),
          image({ seed: 'old', children: ['old-amd64'] }),
          image({ seed: 'new-amd64' }),
          image({ seed: 'old-amd64' }),
          image({ seed: 'sig-new' }),
          image({ seed: 'sig-old' }),
        ],
        streams: [
          stream({
            name: 'web',
            tags: {
              latest: [
                ['new', 100],
                ['old', 200],
              ],
              [sigTag('new-amd64')]: ['sig-new'],
              [sigTag('old-amd64')]: ['sig-old'],
            },
          }),
        ],
      }),
      { keepTagRevisions: 1 },
    );
    expect(decision(p, tagId('demo/web', sigTag('new-amd64'), 0))).toEqual([
      'keep',
      'subject-kept',
      'demo/web:latest#0',
    ]);
    expect(decision(p, tagId('demo/web', sigTag('old-amd64'), 0))).toEqual([
      'delete',
      'subject-pruned',
      digest('old-amd64'),
    ]);
  });

  it('keeps the referrers tag index (sha256-<hex>) and the referrers it lists while the subject is kept', () => {
    const p = plan(
      snapshot({
        images: [
          image({ seed: 'a' }),
          image({ seed: 'b' }),
          image({ seed: 'ref-a' }),
          image({ seed: 'ref-b' }),
          image({ seed: 'idx-a', children: ['ref-a'] }),
          image({ seed: 'idx-b', children: ['ref-b'] }),
        ],
        streams: [
          stream({
            name: 'web',
            tags: {
              latest: [
                ['a', 100],
                ['b', 200],
              ],
              [sigTag('a', '')]: ['idx-a'],
              [sigTag('b', '')]: ['idx-b'],
            },
          }),
        ],
      }),
      { keepTagRevisions: 1 },
    );
    expect(decision(p, tagId('demo/web', sigTag('a', ''), 0))[1]).toBe('subject-kept');
    expect(decision(p, `image:${digest('ref-a')}`)).toEqual(['keep', 'manifest-list-child', digest('idx-a')]);
    expect(decision(p, tagId('demo/web', sigTag('b', ''), 0))[1]).toBe('subject-pruned');
    expect(decision(p, `image:${digest('idx-b')}`)[0]).toBe('delete');
    expect(decision(p, `image:${digest('ref-b')}`)[0]).toBe('delete');
  });

  it('keeps an OCI referrer (manifest subject) with its subject in stage 2, and deletes it with it', () => {
    const referrer = (seed: string, subject: string) => ({ ...image({ seed }), subject: digest(subject) });
    const p = plan(
      snapshot({
        images: [image({ seed: 'a' }), image({ seed: 'b' }), referrer('ref-a', 'a'), referrer('ref-b', 'b')],
        streams: [stream({ name: 'web', tags: { latest: ['a', 'b'] } })],
      }),
      { keepTagRevisions: 1 },
    );
    expect(decision(p, `image:${digest('ref-a')}`)).toEqual(['keep', 'subject-kept', digest('a')]);
    expect(decision(p, `image:${digest('ref-b')}`)).toEqual(['delete', 'unreferenced', undefined]);
    expect(p.items.find((i) => i.id === `blob:${digest('ref-a-layer')}`)).toBeUndefined();
  });

  // A referrer pushed by digest only: no tag event, and the API dropped its manifest, so its subject is
  // unknown. It is kept with a warning (it may sign a kept image), unless a list or this run accounts for it.
  it('keeps a referrer whose subject is hidden (subject-unknown) with a warning, in every detail', () => {
    const hidden = (seed: string) => ({ ...image({ seed }), subjectHidden: true as const });
    const snap = snapshot({
      images: [
        image({ seed: 'a' }),
        image({ seed: 'b' }),
        hidden('by-digest'),
        // Listed by a referrers tag index whose subject is pruned: it goes with that index.
        hidden('in-index'),
        image({ seed: 'idx-b', children: ['in-index'] }),
        // Tagged as a signature of a pruned subject: the run removes its item, then the Image.
        hidden('sig-b'),
        // Young: kept as any young Image.
        { ...hidden('fresh'), created: ago(1) },
      ],
      streams: [
        stream({
          name: 'web',
          tags: { latest: ['a', 'b'], [sigTag('b', '')]: ['idx-b'], [sigTag('b')]: ['sig-b'] },
        }),
      ],
    });
    for (const detail of ['all', 'changes', 'summary'] as const) {
      const p = planPrune(snap, resolvePrunePolicy({ keepTagRevisions: 1 }).policy, {
        mode: 'full',
        now: NOW,
        detail,
      });
      expect((p.warnings ?? []).map((w) => w.image)).toEqual([digest('by-digest')]);
      expect(p.warnings?.[0]?.unknown).toEqual([]);
      expect(p.warnings?.[0]?.effect).toMatch(/kept/);
      expect(p.summary.reasons).toEqual(
        expect.arrayContaining([{ rule: 'subject-unknown', action: 'keep', count: 1 }]),
      );
      if (detail === 'summary') continue;
      const deleted = (seed: string) => p.items.find((i) => i.id === `image:${digest(seed)}`)?.action;
      expect(deleted('in-index')).toBe('delete');
      expect(deleted('sig-b')).toBe('delete');
      if (detail === 'all') {
        expect(decision(p, `image:${digest('by-digest')}`)).toEqual(['keep', 'subject-unknown', undefined]);
        expect(decision(p, `image:${digest('fresh')}`)[1]).toBe('young');
      }
    }
  });
});

describe('the snapshot', () => {
  const builder = (): SnapshotBuilder =>
    new SnapshotBuilder({ takenAt: NOW.toISOString(), protectAnnotation: 'p' });
  const source = {
    annotation: 'registry-push.io/retention-rules',
    configMap: 'registry-push-retention',
    key: 'rules',
  };

  it("reads namespaces' rules from their annotation and ConfigMap, and notes those it ignores", () => {
    const b = builder();
    b.addNamespaceRules(
      [
        { metadata: { name: 'demo', annotations: { [source.annotation]: '[{"keepLast":2}]' } } },
        { metadata: { name: 'bad', annotations: { [source.annotation]: '[{"keepLast":"two"}]' } } },
        { metadata: { name: 'plain' } },
      ],
      source,
    );
    b.addRuleConfigMaps(
      [
        {
          metadata: { name: 'registry-push-retention', namespace: 'demo' },
          data: { rules: '[{"keepTags":"^v"}]' },
        },
        { metadata: { name: 'registry-push-retention', namespace: 'empty' }, data: {} },
      ],
      source,
    );
    const snap = b.finish();
    expect(snap.namespaceRules).toEqual({
      demo: [
        { label: 'annotation[0]', keepLast: 2 },
        { label: 'configmap[0]', keepTags: '^v' },
      ],
    });
    expect(snap.notes).toEqual([
      expect.stringMatching(
        /^Namespace bad: its retention rules in the annotation registry-push.io\/retention-rules are ignored \(.*keepLast must be a whole number.*\); the cluster's rules apply\.$/,
      ),
      'Namespace empty: ConfigMap registry-push-retention key rules is missing; that ConfigMap sets no rules.',
    ]);
  });

  it("reads an OCI referrer's subject from the manifest the API keeps", () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('a'), size: 10 },
    });
    expect(
      toSnapshotImage({ ...imageObject('ref', ['l']), dockerImageManifest: manifest }, 'p').subject,
    ).toBe(digest('a'));
    expect(toSnapshotImage(imageObject('plain', ['l']), 'p').subject).toBeUndefined();
    expect(ago(0)).toBe(NOW.toISOString());
  });

  it('marks an artifact pushed by digest, whose manifest the API dropped, as a referrer of a hidden subject', () => {
    const artifact = (mediaType: string) => ({
      ...imageObject('sig', []),
      dockerImageLayers: [{ name: digest('payload'), size: 10, mediaType }],
    });
    const cosign = 'application/vnd.dev.cosign.simplesigning.v1+json';
    expect(toSnapshotImage(artifact(cosign), 'p').subjectHidden).toBe(true);
    expect(toSnapshotImage({ ...imageObject('empty', []) }, 'p').subjectHidden).toBe(true);
    // Filesystem layers (OCI, non-distributable, Docker) make an image, not an artifact.
    for (const layer of [
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    ])
      expect(toSnapshotImage(artifact(layer), 'p').subjectHidden).toBeUndefined();
    // A manifest in the object tells: a subject, or none.
    const manifest = JSON.stringify({ schemaVersion: 2, layers: [] });
    expect(toSnapshotImage({ ...artifact(cosign), dockerImageManifest: manifest }, 'p').subjectHidden).toBe(
      undefined,
    );
    // Docker schema 2 and lists have no subject field.
    expect(
      toSnapshotImage(
        {
          ...artifact(cosign),
          dockerImageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        },
        'p',
      ).subjectHidden,
    ).toBeUndefined();
  });
});
