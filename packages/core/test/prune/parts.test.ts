import { describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { pruneModeFor } from '../../src/prune/mode.js';
import { toSnapshotImage, type ImageObject } from '../../src/prune/image-objects.js';
import { resolvePrunePolicy, type PrunePolicyInput } from '../../src/prune/policy.js';
import { ReferenceSyntaxError, parsePullSpec, resolveUse } from '../../src/prune/references.js';
import { formatBytes, formatDuration, parseDuration, parseQuantity } from '../../src/prune/quantities.js';
import { digest } from './fixtures.js';

function policyError(input: PrunePolicyInput): RegistryPushError {
  try {
    resolvePrunePolicy(input);
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('expected PRUNE_POLICY_INVALID');
}

describe('pruneModeFor', () => {
  it('maps managementState, and an explicit mode wins', () => {
    expect(pruneModeFor('Managed')).toBe('full');
    expect(pruneModeFor('Removed')).toBe('metadata');
    expect(pruneModeFor('Unmanaged')).toBe('metadata');
    expect(pruneModeFor('Managed', 'metadata')).toBe('metadata');
    expect(pruneModeFor('Unmanaged', 'full')).toBe('full');
    expect(() => pruneModeFor(undefined)).toThrow(/does not say/);
    expect(() => pruneModeFor('Managed', 'partial' as never)).toThrow(/Unknown prune mode/);
  });
});

describe('resolvePrunePolicy', () => {
  it("applies the operator's defaults", () => {
    expect(resolvePrunePolicy().policy).toEqual({
      keepTagRevisions: 3,
      keepYoungerThanMs: 3_600_000,
      ignoreInvalidImageReferences: false,
      pruneOverSizeLimit: false,
      all: false,
      protectAnnotation: 'registry-push.io/prune-protect',
      namespaces: {},
    });
  });

  it('reads the ImagePruner spec, prefers keepYoungerThanDuration, and lets explicit settings win', () => {
    const pruner = {
      keepTagRevisions: 5,
      keepYoungerThan: 7_200_000_000_000,
      ignoreInvalidImageReferences: true,
      schedule: '',
    };
    expect(resolvePrunePolicy({ pruner }).policy).toMatchObject({
      keepTagRevisions: 5,
      keepYoungerThanMs: 7_200_000,
      ignoreInvalidImageReferences: true,
    });
    expect(
      resolvePrunePolicy({ pruner: { ...pruner, keepYoungerThanDuration: '1h30m' } }).policy
        .keepYoungerThanMs,
    ).toBe(5_400_000);
    expect(resolvePrunePolicy({ pruner, keepTagRevisions: 1, keepYoungerThan: '0s' }).policy).toMatchObject({
      keepTagRevisions: 1,
      keepYoungerThanMs: 0,
    });
  });

  it('in over-size mode ignores revisions and prunes young items unless an age is given', () => {
    const resolved = resolvePrunePolicy({ pruner: { keepTagRevisions: 3 }, pruneOverSizeLimit: true });
    expect(resolved.policy.keepYoungerThanMs).toBe(0);
    expect(resolved.warnings.join(' ')).toMatch(/ignores the ImagePruner keepTagRevisions.*young items too/);
    expect(
      resolvePrunePolicy({ pruneOverSizeLimit: true, keepYoungerThan: '2h' }).policy.keepYoungerThanMs,
    ).toBe(7_200_000);
    expect(policyError({ pruneOverSizeLimit: true, keepTagRevisions: 2 }).message).toMatch(
      /cannot be combined/,
    );
  });

  it('names the bad field', () => {
    expect(policyError({ keepTagRevisions: -1 }).details).toEqual({ field: 'keepTagRevisions' });
    expect(policyError({ keepTagRevisions: 1.5 }).code).toBe('PRUNE_POLICY_INVALID');
    expect(policyError({ keepYoungerThan: '-5m' }).details).toEqual({ field: 'keepYoungerThan' });
    expect(policyError({ keepYoungerThan: '3 days' }).message).toMatch(/duration/);
    expect(policyError({ pruner: { keepYoungerThanDuration: 'soon' } }).details).toEqual({
      field: 'pruner.keepYoungerThanDuration',
    });
    expect(policyError({ tagInclude: '(' }).message).toMatch(/not a valid regular expression/);
    expect(policyError({ protectAnnotation: 'not a key' }).details).toEqual({ field: 'protectAnnotation' });
    expect(policyError({ namespaces: { Bad_NS: {} } }).details).toEqual({ field: 'namespaces.Bad_NS' });
    expect(policyError({ namespaces: { ok: { keep: 1 } as never } }).details).toEqual({
      field: 'namespaces.ok.keep',
    });
    expect(policyError({ all: 'yes' as never }).details).toEqual({ field: 'all' });
  });
});

describe('pull specs', () => {
  it('parse like the distribution reference grammar', () => {
    expect(parsePullSpec('image-registry.openshift-image-registry.svc:5000/demo/web:v1')).toEqual({
      host: 'image-registry.openshift-image-registry.svc:5000',
      path: ['demo', 'web'],
      tag: 'v1',
    });
    expect(parsePullSpec(`quay.io/org/team/app@${digest('x')}`)).toEqual({
      host: 'quay.io',
      path: ['org', 'team', 'app'],
      digest: digest('x'),
    });
    expect(parsePullSpec('localhost/app')).toEqual({ host: 'localhost', path: ['app'] });
    expect(parsePullSpec('web')).toEqual({ path: ['web'] });
    for (const bad of [
      '',
      ' ',
      'web ',
      'Web:1',
      'demo/web:',
      'demo/web@sha256:abc',
      'demo//web',
      'demo/web:-x',
    ]) {
      expect(() => parsePullSpec(bad), bad).toThrow(ReferenceSyntaxError);
    }
  });

  it('resolve to the stream they can protect', () => {
    expect(resolveUse(parsePullSpec('registry.example.com:443/demo/web'), 'other')).toEqual({
      namespace: 'demo',
      name: 'web',
      tag: 'latest',
    });
    expect(resolveUse(parsePullSpec('web:v2'), 'demo')).toEqual({
      namespace: 'demo',
      name: 'web',
      tag: 'v2',
    });
    expect(resolveUse(parsePullSpec(`docker.io/nginx@${digest('n')}`), 'demo')).toEqual({
      digest: digest('n'),
    });
    expect(resolveUse(parsePullSpec('quay.io/a/b/c:1'), 'demo')).toEqual({});
  });
});

describe('units', () => {
  it('parse Go durations and Kubernetes quantities', () => {
    expect(parseDuration('60m')).toBe(3_600_000);
    expect(parseDuration('1h30m15s')).toBe(5_415_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('1d')).toBeUndefined();
    expect(formatDuration(5_415_000)).toBe('1h30m15s');
    expect(parseQuantity('512Mi')).toBe(512 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('lots')).toBeUndefined();
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12)).toBe('12 B');
  });
});

describe('reading Images', () => {
  it('takes the config from the metadata of schema 2 and OCI manifests, and its size from the total', () => {
    const image = toSnapshotImage(
      {
        metadata: {
          name: digest('i'),
          creationTimestamp: '2026-01-01T00:00:00Z',
          annotations: { 'openshift.io/image.managed': 'true', keep: 'true' },
        },
        dockerImageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        dockerImageLayers: [
          { name: digest('l1'), size: 100 },
          { name: digest('l1'), size: 100 },
          { name: digest('l2'), size: 50 },
        ],
        dockerImageMetadata: { Id: digest('c'), Size: 400 },
      },
      'keep',
    );
    expect(image).toMatchObject({
      managed: true,
      protected: true,
      config: { digest: digest('c'), size: 250 },
      size: 400,
    });
  });

  it('marks what it cannot read, and which parts that leaves unknown, instead of guessing', () => {
    const base = {
      metadata: { name: digest('i') },
      dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      dockerImageMetadata: { Id: digest('c'), Size: 10 },
      dockerImageLayers: [{ name: digest('l'), size: 5 }],
    };
    const read = (image: ImageObject) => {
      const { problem, unknown } = toSnapshotImage(image, 'k');
      return { problem, unknown };
    };
    expect(read(base)).toEqual({ problem: undefined, unknown: undefined });
    expect(read({ ...base, metadata: { name: 'latest' } })).toEqual({
      problem: 'its name is not a digest',
      unknown: [],
    });
    expect(read({ ...base, dockerImageLayers: [{ name: 'x', size: 1 }] })).toEqual({
      problem: 'layer 0 has no valid digest',
      unknown: ['layers'],
    });
    expect(read({ ...base, dockerImageLayers: null })).toEqual({
      problem: 'its layer list (dockerImageLayers) is missing',
      unknown: ['layers'],
    });
    expect(read({ ...base, dockerImageMetadata: { Size: 10 } })).toEqual({
      problem: 'its config digest (dockerImageMetadata.Id) is missing',
      unknown: ['config'],
    });
    expect(read({ ...base, dockerImageManifestMediaType: '' })).toEqual({
      problem: 'its manifest media type (dockerImageManifestMediaType) is missing',
      unknown: ['config'],
    });
    // A bad size leaves the blob known: only the byte count is smaller.
    const sized = toSnapshotImage({ ...base, dockerImageLayers: [{ name: digest('l'), size: -1 }] }, 'k');
    expect(sized).toMatchObject({
      problem: 'layer 0 has no valid size',
      layers: [{ digest: digest('l'), size: 0 }],
    });
    expect(sized.unknown).toEqual([]);
    const list = {
      metadata: { name: digest('list') },
      dockerImageManifestMediaType: 'application/vnd.oci.image.index.v1+json',
      dockerImageManifests: [{ digest: digest('a') }, { digest: '' }],
    };
    expect(read(list)).toEqual({ problem: 'child manifest 1 has no valid digest', unknown: ['children'] });
    expect(toSnapshotImage(list, 'k').manifests).toEqual([digest('a')]);
  });
});
