// Builders for snapshots in unit and property tests: digests from seeds, images with layers, streams with
// histories, uses. Times are minutes before a fixed `NOW`.
import { createHash } from 'node:crypto';
import {
  SNAPSHOT_SCHEMA,
  type ImageUse,
  type PruneSnapshot,
  type SnapshotImage,
  type SnapshotStream,
} from '../../src/prune/types.js';
import type { ImageObject } from '../../src/prune/image-objects.js';

export const NOW = new Date('2026-06-01T12:00:00Z');

/** RFC 3339 time `minutes` before NOW. */
export const ago = (minutes: number): string => new Date(NOW.getTime() - minutes * 60_000).toISOString();

/** A sha256 digest derived from a seed. */
export const digest = (seed: string): string => `sha256:${createHash('sha256').update(seed).digest('hex')}`;

export interface ImageSpec {
  seed: string;
  layers?: string[];
  layerSize?: number;
  created?: number;
  managed?: boolean;
  protected?: boolean;
  children?: string[];
  size?: number;
}

export function image(spec: ImageSpec): SnapshotImage {
  const isList = spec.children !== undefined;
  const layers = isList
    ? []
    : (spec.layers ?? [`${spec.seed}-layer`]).map((l) => ({
        digest: digest(l),
        size: spec.layerSize ?? 1000,
      }));
  return {
    digest: digest(spec.seed),
    created: ago(spec.created ?? 600),
    managed: spec.managed ?? true,
    protected: spec.protected ?? false,
    mediaType: isList
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.oci.image.manifest.v1+json',
    layers,
    ...(isList ? {} : { config: { digest: digest(`${spec.seed}-config`), size: 100 } }),
    manifests: (spec.children ?? []).map(digest),
    size: spec.size ?? layers.reduce((sum, l) => sum + l.size, 100),
  };
}

export interface StreamSpec {
  namespace?: string;
  name: string;
  created?: number;
  protected?: boolean;
  /** tag → image seeds, newest first, each with an age in minutes (default 300 − 10·revision). */
  tags: Record<string, (string | [seed: string, minutes: number])[]>;
}

export function stream(spec: StreamSpec): SnapshotStream {
  const namespace = spec.namespace ?? 'demo';
  return {
    namespace,
    name: spec.name,
    uid: `uid-${namespace}-${spec.name}`,
    resourceVersion: '1',
    created: ago(spec.created ?? 1000),
    protected: spec.protected ?? false,
    tags: Object.entries(spec.tags).map(([tag, items]) => ({
      tag,
      items: items.map((entry, revision) => {
        const [seed, minutes] = typeof entry === 'string' ? [entry, 300 - 10 * revision] : entry;
        return {
          created: ago(minutes),
          image: digest(seed),
          dockerImageReference: `image-registry.openshift-image-registry.svc:5000/${namespace}/${spec.name}@${digest(seed)}`,
        };
      }),
    })),
  };
}

export function snapshot(parts: Partial<PruneSnapshot> = {}): PruneSnapshot {
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt: NOW.toISOString(),
    images: [],
    streams: [],
    uses: [],
    invalidReferences: [],
    imageSizeLimits: {},
    notes: [],
    ...parts,
  };
}

export const use = (referrer: string, parts: Omit<ImageUse, 'referrer'>): ImageUse => ({
  referrer,
  ...parts,
});

/** An Image object as the API serves it: layers named by seed, a config digest derived from the seed. */
export function imageObject(seed: string, layers: string[]): ImageObject {
  return {
    metadata: { name: digest(seed) },
    dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    dockerImageLayers: layers.map((layer) => ({
      name: digest(layer),
      size: 10,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    })),
    dockerImageMetadata: { Id: digest(`${seed}-config`), Size: 100 },
  };
}
