// The view index keeps digests as numbers and Images as numbered parts to stay small at 100k Images. Its
// answers must be exactly those of the obvious implementation: a model that keeps every object as read and
// answers each question by scanning. Random changes (Images with shared, resized, unreadable and foreign
// digests; manifest lists; streams whose histories come and go) are applied to both and every answer compared.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestTable } from '../../src/prune/digest-table.js';
import {
  blobsOf,
  toSnapshotImage,
  type ImageObject,
  type ImageStreamObject,
} from '../../src/prune/image-objects.js';
import type { SnapshotImage } from '../../src/prune/types.js';
import { ViewIndex } from '../../src/prune/view-index.js';

const sha256 = (seed: string): string => `sha256:${createHash('sha256').update(seed).digest('hex')}`;

/** mulberry32: the same sequence for the same seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DigestTable', () => {
  it('numbers each digest once, in order, and gives back the same text', () => {
    const table = new DigestTable();
    // Enough to grow the byte pool and rehash the slots several times.
    const digests = Array.from({ length: 20_000 }, (_, i) => sha256(`d${i}`));
    digests.forEach((digest, i) => expect(table.add(digest)).toBe(i));
    digests.forEach((digest, i) => {
      expect(table.add(digest)).toBe(i);
      expect(table.find(digest)).toBe(i);
      expect(table.digest(i)).toBe(digest);
    });
    expect(table.size).toBe(20_000);
    expect(table.find(sha256('never added'))).toBe(-1);
  });

  it('keeps any other string as it is: other algorithms, upper case, short or odd text', () => {
    const table = new DigestTable();
    const lower = sha256('x');
    const others = [
      `sha512:${'ab'.repeat(64)}`,
      lower.toUpperCase(),
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'0'.repeat(63)}g`,
      `sha256:${'0'.repeat(62)}`,
      'not a digest',
      '',
      `sha256:${'0'.repeat(63)}\u00e9`,
    ];
    const ids = others.map((other) => table.add(other));
    const lowerId = table.add(lower);
    expect(new Set([...ids, lowerId]).size).toBe(others.length + 1);
    others.forEach((other, i) => {
      expect(table.find(other)).toBe(ids[i]);
      expect(table.digest(ids[i]!)).toBe(other);
    });
    expect(table.digest(lowerId)).toBe(lower);
    expect(() => table.digest(99)).toThrow(RangeError);
  });
});

/** The obvious index: objects as read, every answer by a scan. */
class ModelIndex {
  readonly images = new Map<string, SnapshotImage>();
  readonly streams = new Map<string, { uid: string; history: string[] }>();

  putImage(object: ImageObject): void {
    const image = toSnapshotImage(object, 'keep');
    this.images.delete(image.digest);
    this.images.set(image.digest, image);
  }

  removeImage(digest: string): void {
    this.images.delete(digest);
  }

  putStream(stream: ImageStreamObject): string[] {
    const key = `${stream.metadata.namespace ?? ''}/${stream.metadata.name}`;
    const history = (stream.status?.tags ?? []).flatMap((tag) => (tag.items ?? []).map((item) => item.image));
    const before = new Set(this.streams.get(key)?.history ?? []);
    this.streams.set(key, { uid: stream.metadata.uid ?? '', history });
    return [...new Set(history.filter((digest) => !before.has(digest)))];
  }

  removeStream(namespace: string, name: string): void {
    this.streams.delete(`${namespace}/${name}`);
  }

  referrersOf(digest: string): string[] {
    return [...this.images.values()]
      .filter((image) => [...blobsOf(image).map((blob) => blob.digest), ...image.manifests].includes(digest))
      .map((image) => image.digest);
  }

  parentsOf(digest: string): string[] {
    return this.referrersOf(digest).filter((referrer) =>
      this.images.get(referrer)!.manifests.includes(digest),
    );
  }

  named(digest: string): boolean {
    return [...this.streams.values()].some((stream) => stream.history.includes(digest));
  }

  inHistory(digest: string): boolean {
    return this.named(digest) || this.parentsOf(digest).some((parent) => this.named(parent));
  }

  unknownHolders(part: 'layers' | 'config'): Set<string> {
    return new Set(
      [...this.images.values()].filter((image) => image.unknown?.includes(part)).map((image) => image.digest),
    );
  }

  repositoryNeeds(key: string): Record<'manifests' | 'blobs' | 'unknown' | 'missing', Set<string>> {
    const needs = {
      manifests: new Set<string>(),
      blobs: new Set<string>(),
      unknown: new Set<string>(),
      missing: new Set<string>(),
    };
    const visit = (digest: string): void => {
      if (needs.manifests.has(digest)) return;
      needs.manifests.add(digest);
      const image = this.images.get(digest);
      if (image === undefined) {
        needs.missing.add(digest);
        return;
      }
      for (const blob of blobsOf(image)) needs.blobs.add(blob.digest);
      for (const part of image.unknown ?? []) needs.unknown.add(part);
      image.manifests.forEach(visit);
    };
    (this.streams.get(key)?.history ?? []).forEach(visit);
    return needs;
  }

  repositoriesNeeding(blob: string): string[] {
    const holders = new Set(this.referrersOf(blob));
    for (const holder of [...holders]) for (const parent of this.parentsOf(holder)) holders.add(parent);
    return [...this.streams]
      .filter(([, stream]) => stream.history.some((d) => holders.has(d)))
      .map(([key]) => key);
  }
}

describe('ViewIndex', () => {
  it('answers every question as the obvious scan does, through 1500 random changes', () => {
    const rand = random(19);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)]!;
    const blobs = Array.from({ length: 14 }, (_, i) => sha256(`blob-${i}`));
    // Names an Image may carry: canonical digests, and a few the index must keep as plain text.
    const names = [
      ...Array.from({ length: 16 }, (_, i) => sha256(`image-${i}`)),
      `sha512:${'cd'.repeat(64)}`,
      sha256('upper').toUpperCase(),
    ];
    const streamKeys = [
      ['a', 'one'],
      ['a', 'two'],
      ['b', 'one'],
      ['c', 'three'],
    ] as const;
    const model = new ModelIndex();
    const index = new ViewIndex('keep');
    const everyDigest = [...blobs, ...names, sha256('never seen')];

    const makeImage = (name: string): ImageObject => {
      const list = rand() < 0.2;
      const annotations: Record<string, string> = rand() < 0.2 ? { keep: 'true' } : {};
      if (rand() < 0.7) annotations['openshift.io/image.managed'] = 'true';
      const metadata = {
        name,
        creationTimestamp: `2026-0${1 + Math.floor(rand() * 9)}-01T00:00:00Z`,
        annotations,
      };
      if (list) {
        const children = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({ digest: pick(names) }));
        return {
          metadata,
          dockerImageManifestMediaType: 'application/vnd.oci.image.index.v1+json',
          dockerImageManifests: children,
        };
      }
      const layers = Array.from({ length: Math.floor(rand() * 4) }, () => ({
        name: rand() < 0.05 ? 'broken' : pick(blobs),
        // Mostly the size every Image gives that blob; sometimes another (a broken Image).
        size: rand() < 0.1 ? 7 : 1000,
        mediaType: 'x',
      }));
      const object: ImageObject = {
        metadata,
        dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
        dockerImageMetadata: { Id: pick(blobs), Size: 5000 },
      };
      if (rand() >= 0.05) object.dockerImageLayers = layers;
      return object;
    };
    const makeStream = (namespace: string, name: string): ImageStreamObject =>
      ({
        metadata: { namespace, name, uid: `${namespace}-${name}-${Math.floor(rand() * 3)}` },
        status: {
          tags: Array.from({ length: Math.floor(rand() * 3) }, (_, t) => ({
            tag: `t${t}`,
            items: Array.from({ length: Math.floor(rand() * 4) }, () => ({
              image: pick(names),
              created: '2026-01-01T00:00:00Z',
            })),
          })),
        },
      }) as ImageStreamObject;

    const compare = (): void => {
      for (const digest of everyDigest) {
        expect(index.image(digest)).toEqual(model.images.get(digest));
        expect(index.referrersOf(digest)).toEqual(model.referrersOf(digest));
        expect(index.parentsOf(digest)).toEqual(model.parentsOf(digest));
        expect(index.inHistory(digest)).toBe(model.inHistory(digest));
        expect(new Set(index.repositoriesNeeding(digest))).toEqual(
          new Set(model.repositoriesNeeding(digest)),
        );
      }
      for (const [namespace, name] of streamKeys) {
        const key = `${namespace}/${name}`;
        expect(index.streamUid(namespace, name)).toBe(model.streams.get(key)?.uid);
        const needs = model.repositoryNeeds(key);
        expect(index.repositoryNeeds(namespace, name)).toEqual(needs);
        // The answer a link decision reads, shared until the index changes: asked after every change here,
        // so a kept answer that outlived a change would differ from the model.
        const use = index.repositoryUse(namespace, name);
        for (const digest of everyDigest) {
          expect(use.needsManifest(digest)).toBe(needs.manifests.has(digest));
          expect(use.needsBlob(digest)).toBe(needs.blobs.has(digest));
        }
        expect(new Set(use.unknown)).toEqual(needs.unknown);
        expect(use.missing).toBe(needs.missing.size > 0);
      }
      expect(new Set(index.unknownHolders('layers'))).toEqual(model.unknownHolders('layers'));
      expect(new Set(index.unknownHolders('config'))).toEqual(model.unknownHolders('config'));
      expect(index.imageCount).toBe(model.images.size);
      expect(index.streamCount).toBe(model.streams.size);
    };

    for (let step = 0; step < 1500; step++) {
      const choice = rand();
      if (choice < 0.4) {
        const object = makeImage(pick(names));
        index.putImage(object);
        model.putImage(object);
      } else if (choice < 0.55) {
        const name = pick(names);
        index.removeImage(name);
        model.removeImage(name);
      } else if (choice < 0.9) {
        const [namespace, name] = pick(streamKeys);
        const stream = makeStream(namespace, name);
        expect(new Set(index.putStream(stream))).toEqual(new Set(model.putStream(stream)));
      } else {
        const [namespace, name] = pick(streamKeys);
        index.removeStream(namespace, name);
        model.removeStream(namespace, name);
      }
      compare();
    }
    // The walk reached the cases that matter.
    expect(model.images.size).toBeGreaterThan(0);
  });
});
