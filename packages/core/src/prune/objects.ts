/**
 * The `image.openshift.io/v1` objects as the pruner reads them, and their conversion to the snapshot's
 * compact form. Conversion is strict: an Image whose metadata cannot be understood stops the run, because
 * guessing its blobs could delete data a kept image needs.
 */
import type { KubeObject } from '../cluster/client.js';
import { RegistryPushError } from '../errors.js';
import { NO_INTERNING, type Interning } from './intern.js';
import type { SnapshotBlob, SnapshotImage, SnapshotStream, SnapshotTag } from './types.js';

/** An Image, the fields the pruner reads. */
export interface ImageObject extends KubeObject {
  dockerImageReference?: string;
  dockerImageMetadata?: { Id?: string; Size?: number } | null;
  dockerImageManifestMediaType?: string;
  dockerImageLayers?: { name: string; size: number; mediaType?: string }[] | null;
  dockerImageManifests?: { digest: string; manifestSize?: number }[] | null;
}

/** A tag event. */
export interface TagEventObject {
  created: string;
  dockerImageReference: string;
  image: string;
  generation?: number | null;
}

/** An ImageStream, the fields the pruner reads and writes back. */
export interface ImageStreamObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    dockerImageRepository?: string;
    tags?: { tag: string; items: TagEventObject[] | null; conditions?: unknown[] }[] | null;
  } & Record<string, unknown>;
}

/** The annotation the integrated registry sets on images pushed to it. */
export const MANAGED_ANNOTATION = 'openshift.io/image.managed';

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const CONFIG_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
]);

function bad(name: string, problem: string): RegistryPushError {
  return new RegistryPushError('PRUNE_IMAGE_INVALID', `Image ${name} cannot be read: ${problem}.`, {
    hint: 'Nothing was changed. Inspect the Image (oc get image <name> -o yaml) and fix or delete it, then run again.',
    details: { image: name },
  });
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function readLayers(name: string, image: ImageObject, intern: Interning): SnapshotBlob[] {
  return (image.dockerImageLayers ?? []).map((layer, i) => {
    if (typeof layer?.name !== 'string' || !DIGEST.test(layer.name))
      throw bad(name, `layer ${i} has no valid digest`);
    if (!isSize(layer.size)) throw bad(name, `layer ${i} has no valid size`);
    return intern.blob(layer.name, layer.size);
  });
}

function readChildren(name: string, image: ImageObject, intern: Interning): string[] {
  const children = image.dockerImageManifests ?? [];
  if (children.length === 0) return intern.noDigests();
  return children.map((child, i) => {
    if (typeof child?.digest !== 'string' || !DIGEST.test(child.digest)) {
      throw bad(name, `child manifest ${i} has no valid digest`);
    }
    return intern.string(child.digest);
  });
}

/** The config blob of a schema 2 or OCI manifest; its size is what `Size` holds beyond the unique layers. */
function readConfig(
  name: string,
  image: ImageObject,
  layers: SnapshotBlob[],
  size: number,
  intern: Interning,
): SnapshotBlob | undefined {
  if (!CONFIG_TYPES.has(image.dockerImageManifestMediaType ?? '')) return undefined;
  const id = image.dockerImageMetadata?.Id;
  if (typeof id !== 'string' || !DIGEST.test(id))
    throw bad(name, 'the config digest (dockerImageMetadata.Id) is missing');
  const unique = new Map<string, number>();
  for (const layer of layers) unique.set(layer.digest, layer.size);
  let layerBytes = 0;
  for (const bytes of unique.values()) layerBytes += bytes;
  return intern.blob(id, Math.max(0, size - layerBytes));
}

/**
 * The snapshot form of an Image.
 *
 * @param image The Image as listed.
 * @param protectAnnotation The policy's protect annotation.
 * @param intern Shares digests and blob records with the rest of the snapshot (none by default); the
 *   result then holds no string of the listed object beyond its creation time.
 * @returns Its digest, age, flags and blobs.
 * @throws RegistryPushError `PRUNE_IMAGE_INVALID` when the name, layers or children cannot be read.
 */
export function toSnapshotImage(
  image: ImageObject,
  protectAnnotation: string,
  intern: Interning = NO_INTERNING,
): SnapshotImage {
  const name = image.metadata.name;
  if (!DIGEST.test(name)) throw bad(name, 'the name is not a digest');
  const layers = readLayers(name, image, intern);
  const declared = image.dockerImageMetadata?.Size;
  const size = isSize(declared) ? declared : 0;
  const config = readConfig(name, image, layers, size, intern);
  const annotations = image.metadata.annotations ?? {};
  const digest = intern.string(name);
  const created = image.metadata.creationTimestamp ?? '';
  const managed = annotations[MANAGED_ANNOTATION] === 'true';
  const isProtected = annotations[protectAnnotation] === 'true';
  const mediaType = intern.string(image.dockerImageManifestMediaType ?? '');
  const manifests = readChildren(name, image, intern);
  // Two literals rather than a conditional spread: the same keys in the same order, in one allocation.
  return config !== undefined
    ? { digest, created, managed, protected: isProtected, mediaType, layers, config, manifests, size }
    : { digest, created, managed, protected: isProtected, mediaType, layers, manifests, size };
}

/**
 * The snapshot form of an ImageStream.
 *
 * @param stream The stream as listed.
 * @param protectAnnotation The policy's protect annotation.
 * @param intern Shares namespaces, tag names, digests and repository parts of pull specs (none by default).
 * @returns Its identity and history.
 */
export function toSnapshotStream(
  stream: ImageStreamObject,
  protectAnnotation: string,
  intern: Interning = NO_INTERNING,
): SnapshotStream {
  const tags: SnapshotTag[] = (stream.status?.tags ?? []).map((entry) => ({
    tag: intern.string(entry.tag),
    items: (entry.items ?? []).map((item) => {
      const image = intern.string(item.image);
      return {
        created: item.created,
        image,
        dockerImageReference: intern.reference(item.dockerImageReference, image),
      };
    }),
  }));
  return {
    namespace: intern.string(stream.metadata.namespace ?? ''),
    name: stream.metadata.name,
    uid: stream.metadata.uid ?? '',
    resourceVersion: stream.metadata.resourceVersion ?? '',
    created: stream.metadata.creationTimestamp ?? '',
    protected: (stream.metadata.annotations ?? {})[protectAnnotation] === 'true',
    tags,
  };
}

/** Every blob an image needs: layers and config (its own manifest and children are not blobs of it). */
export function blobsOf(image: SnapshotImage): SnapshotBlob[] {
  return image.config === undefined ? image.layers : [...image.layers, image.config];
}
