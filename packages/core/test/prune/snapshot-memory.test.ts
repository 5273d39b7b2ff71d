// The memory side of the snapshot: interning of repeated values, and a snapshot built page by page that
// equals one converted from whole lists, with the same error precedence.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import { Interner, NO_INTERNING } from '../../src/prune/intern.js';
import {
  toSnapshotImage,
  toSnapshotStream,
  type ImageObject,
  type ImageStreamObject,
} from '../../src/prune/image-objects.js';
import { SnapshotBuilder } from '../../src/prune/snapshot.js';
import { digest } from './fixtures.js';

/** A copy of a string that shares nothing with the original (as JSON.parse gives for every occurrence). */
const fresh = (value: string): string => JSON.parse(JSON.stringify(value)) as string;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const HOST = 'image-registry.openshift-image-registry.svc:5000';

function rawImage(seed: string, layers: string[], extra: Partial<ImageObject> = {}): ImageObject {
  return JSON.parse(
    JSON.stringify({
      metadata: {
        name: digest(seed),
        creationTimestamp: '2026-01-01T00:00:00Z',
        annotations: { 'openshift.io/image.managed': 'true' },
      },
      dockerImageManifestMediaType: OCI,
      dockerImageLayers: layers.map((l) => ({ name: digest(l), size: 100, mediaType: 'x' })),
      dockerImageMetadata: { Id: digest(`${seed}-config`), Size: 100 * layers.length + 10 },
      ...extra,
    }),
  ) as ImageObject;
}

function rawStream(namespace: string, name: string, images: string[]): ImageStreamObject {
  return JSON.parse(
    JSON.stringify({
      metadata: {
        namespace,
        name,
        uid: `uid-${name}`,
        resourceVersion: '7',
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      status: {
        tags: [
          {
            tag: 'latest',
            items: images.map((seed) => ({
              created: '2026-01-02T00:00:00Z',
              image: digest(seed),
              dockerImageReference: `${HOST}/${namespace}/${name}@${digest(seed)}`,
              generation: 1,
            })),
          },
        ],
      },
    }),
  ) as ImageStreamObject;
}

function rawPod(namespace: string, name: string, images: string[], phase = 'Running'): KubeObject {
  return JSON.parse(
    JSON.stringify({
      metadata: { namespace, name, creationTimestamp: '2026-01-03T00:00:00Z' },
      spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
      status: { phase },
    }),
  ) as KubeObject;
}

describe('Interner', () => {
  it('keeps one copy per distinct string, with values unchanged', () => {
    const intern = new Interner();
    const a = digest('a');
    expect(intern.string(fresh(a))).toBe(a);
    expect(intern.string(fresh(a))).toBe(a);
    expect(intern.part(`${HOST}/x@`.slice(0, HOST.length))).toBe(HOST);
    expect(intern.part(fresh(HOST))).toBe(HOST);
    expect(intern.size).toBe(2);
  });

  it('shares one frozen blob record per digest and size, and keeps a differing size apart', () => {
    const intern = new Interner();
    const one = intern.blob(fresh(digest('l')), 100);
    expect(intern.blob(fresh(digest('l')), 100)).toBe(one);
    expect(one).toEqual({ digest: digest('l'), size: 100 });
    expect(Object.isFrozen(one)).toBe(true);
    const other = intern.blob(digest('l'), 7);
    expect(other).toEqual({ digest: digest('l'), size: 7 });
    expect(intern.blob(digest('l'), 100)).toBe(one);
    // A digest met as a string first (a child manifest) and as a blob later is still one entry.
    expect(intern.string(fresh(digest('m')))).toBe(digest('m'));
    const blob = intern.blob(fresh(digest('m')), 5);
    expect(intern.blob(digest('m'), 5)).toBe(blob);
    expect(intern.string(fresh(digest('m')))).toBe(digest('m'));
    expect(intern.size).toBe(2);
    expect(NO_INTERNING.blob(digest('l'), 100)).not.toBe(NO_INTERNING.blob(digest('l'), 100));
  });

  it('rebuilds pull specs from shared parts only when they end with @digest', () => {
    const intern = new Interner();
    const d = digest('i');
    for (const reference of [
      `${HOST}/ns/web@${d}`,
      `${HOST}/ns/web:latest`,
      `web@${digest('other')}`,
      d,
      '',
    ]) {
      expect(intern.reference(fresh(reference), d)).toBe(reference);
    }
    intern.reference(`${HOST}/ns/web@${d}`, d);
    intern.reference(`${HOST}/ns/web@${digest('j')}`, digest('j'));
    // The repository part, and the two digests.
    expect(intern.size).toBe(3);
  });

  it('hands out one frozen empty digest list', () => {
    const intern = new Interner();
    expect(intern.noDigests()).toBe(intern.noDigests());
    expect(Object.isFrozen(intern.noDigests())).toBe(true);
    expect(NO_INTERNING.noDigests()).not.toBe(NO_INTERNING.noDigests());
  });
});

describe('interned conversion', () => {
  it('gives the same Image and stream values, with shared layer records', () => {
    const intern = new Interner();
    const raw = [rawImage('a', ['base', 'a1']), rawImage('b', ['base', 'b1'])];
    const shared = raw.map((image) => toSnapshotImage(image, 'keep', intern));
    expect(shared).toEqual(raw.map((image) => toSnapshotImage(image, 'keep')));
    expect(shared[0]!.layers[0]).toBe(shared[1]!.layers[0]);
    expect(shared[0]!.manifests).toBe(shared[1]!.manifests);
    const stream = rawStream('ns', 'web', ['a', 'b']);
    expect(toSnapshotStream(stream, 'keep', intern)).toEqual(toSnapshotStream(stream, 'keep'));
    expect(JSON.stringify(toSnapshotStream(stream, 'keep', intern))).toBe(
      JSON.stringify(toSnapshotStream(stream, 'keep')),
    );
  });
});

describe('SnapshotBuilder', () => {
  const images = [
    rawImage('a', ['base', 'a1']),
    rawImage('b', ['base', 'b1']),
    rawImage('list', [], {
      dockerImageManifestMediaType: 'application/vnd.oci.image.index.v1+json',
      dockerImageLayers: null,
      dockerImageManifests: [{ digest: digest('a') }, { digest: digest('b') }],
    }),
  ];
  const streams = [rawStream('ns', 'web', ['a', 'b']), rawStream('other', 'api', ['list'])];
  const pods = [
    rawPod('ns', 'p1', [`${HOST}/ns/web:latest`, `${HOST}/ns/web@${digest('a')}`]),
    rawPod('ns', 'p2', ['web'], 'Succeeded'),
    rawPod('other', 'p3', [`quay.io/x/y/z@${digest('list')}`]),
  ];
  const options = { takenAt: '2026-06-01T00:00:00Z', protectAnnotation: 'keep' };

  it('builds the same snapshot from pages as from whole lists', () => {
    const whole = new SnapshotBuilder(options);
    whole.addStreams(streams);
    whole.addImages(images);
    whole.addPods(pods);
    const paged = new SnapshotBuilder(options);
    for (const stream of streams) paged.addStreams([structuredClone(stream)]);
    for (const image of images) paged.addImages([structuredClone(image)]);
    for (const pod of pods) paged.addPods([structuredClone(pod)]);
    const snapshot = paged.finish();
    expect(snapshot).toEqual(whole.finish());
    expect(snapshot.uses).toEqual([
      { referrer: 'Pod ns/p1 spec.containers[0].image', namespace: 'ns', name: 'web', tag: 'latest' },
      { referrer: 'Pod ns/p1 spec.containers[1].image', namespace: 'ns', name: 'web', digest: digest('a') },
      {
        referrer: 'Pod ns/p2 spec.containers[0].image',
        namespace: 'ns',
        name: 'web',
        tag: 'latest',
        finishedPodCreated: '2026-01-03T00:00:00Z',
      },
      { referrer: 'Pod other/p3 spec.containers[0].image', digest: digest('list') },
    ]);
    expect(snapshot.images[0]!.layers[0]).toBe(snapshot.images[1]!.layers[0]);
  });

  it('refuses unparseable references, and marks an unreadable Image instead of refusing it', () => {
    const builder = new SnapshotBuilder(options);
    builder.addImages([rawImage('bad', ['x'], { dockerImageLayers: [{ name: 'nope', size: 1 }] })]);
    builder.addWorkloads(Resources.deployment, [
      JSON.parse(
        JSON.stringify({
          metadata: { namespace: 'ns', name: 'd' },
          spec: { template: { spec: { containers: [{ name: 'c', image: 'Bad Ref' }] } } },
        }),
      ) as KubeObject,
    ]);
    expect(() => builder.finish()).toThrow(/cannot be parsed/);
    const ignoring = new SnapshotBuilder({ ...options, ignoreInvalidImageReferences: true });
    ignoring.addImages([rawImage('bad', ['x'], { dockerImageLayers: [{ name: 'nope', size: 1 }] })]);
    ignoring.addImages([rawImage('good', ['y'])]);
    const snapshot = ignoring.finish();
    expect(snapshot.images.map((image) => [image.digest, image.problem, image.unknown])).toEqual([
      [digest('bad'), 'layer 0 has no valid digest', ['layers']],
      [digest('good'), undefined, undefined],
    ]);
  });
});
