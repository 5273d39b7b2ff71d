/**
 * The `image.openshift.io/v1` objects as the pruner reads them, and their conversion to the snapshot's
 * compact form. An Image whose metadata cannot be fully understood is marked with what is unknown, never
 * guessed: the plan keeps it and everything it could need, because a guess could delete data it needs.
 */
import type { KubeObject } from '../cluster/client.js';
import { NO_INTERNING, type Interning } from './intern.js';
import { mayBeHiddenReferrer } from './referrers.js';
import type { SnapshotBlob, SnapshotImage, SnapshotStream, SnapshotTag, UnknownPart } from './types.js';

/** An Image, the fields the pruner reads. */
export interface ImageObject extends KubeObject {
  dockerImageReference?: string;
  dockerImageMetadata?: { Id?: string; Size?: number } | null;
  dockerImageManifestMediaType?: string;
  dockerImageLayers?: { name: string; size: number; mediaType?: string }[] | null;
  dockerImageManifests?: { digest: string; manifestSize?: number }[] | null;
  /** The manifest itself, when the API keeps it (imported images; the registry's own pushes drop it). */
  dockerImageManifest?: string;
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

/** Manifest types that describe one image, with layers (schema 1 has no config blob). */
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** What could not be read of one Image, gathered while converting it. */
class Gaps {
  readonly problems: string[] = [];
  readonly unknown = new Set<UnknownPart>();

  add(problem: string, part?: UnknownPart): void {
    this.problems.push(problem);
    if (part !== undefined) this.unknown.add(part);
  }
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function readLayers(image: ImageObject, intern: Interning, gaps: Gaps): SnapshotBlob[] {
  const listed = image.dockerImageLayers;
  const type = image.dockerImageManifestMediaType ?? '';
  if (listed === undefined || listed === null) {
    // A manifest list has no layers; an image manifest without a layer list hides which blobs it uses.
    if (CONFIG_TYPES.has(type) || SCHEMA1_TYPES.has(type)) {
      gaps.add('its layer list (dockerImageLayers) is missing', 'layers');
    }
    return [];
  }
  const layers: SnapshotBlob[] = [];
  listed.forEach((layer, i) => {
    if (typeof layer?.name !== 'string' || !DIGEST.test(layer.name)) {
      gaps.add(`layer ${i} has no valid digest`, 'layers');
      return;
    }
    // The digest is what identifies the blob; a bad size only makes the byte counts smaller.
    if (!isSize(layer.size)) gaps.add(`layer ${i} has no valid size`);
    layers.push(intern.blob(layer.name, isSize(layer.size) ? layer.size : 0));
  });
  return layers;
}

function readChildren(image: ImageObject, intern: Interning, gaps: Gaps): string[] {
  const children = image.dockerImageManifests ?? [];
  if (children.length === 0) return intern.noDigests();
  const digests: string[] = [];
  children.forEach((child, i) => {
    if (typeof child?.digest !== 'string' || !DIGEST.test(child.digest)) {
      gaps.add(`child manifest ${i} has no valid digest`, 'children');
      return;
    }
    digests.push(intern.string(child.digest));
  });
  return digests;
}

/** The config blob of a schema 2 or OCI manifest; its size is what `Size` holds beyond the unique layers. */
function readConfig(
  image: ImageObject,
  layers: SnapshotBlob[],
  size: number,
  intern: Interning,
  gaps: Gaps,
): SnapshotBlob | undefined {
  const type = image.dockerImageManifestMediaType ?? '';
  if (type === '' && (image.dockerImageManifests ?? []).length === 0) {
    // Without the type nobody can say whether a config blob exists, nor which digest it has.
    gaps.add('its manifest media type (dockerImageManifestMediaType) is missing', 'config');
    return undefined;
  }
  if (!CONFIG_TYPES.has(type)) return undefined;
  const id = image.dockerImageMetadata?.Id;
  if (typeof id !== 'string' || !DIGEST.test(id)) {
    gaps.add('its config digest (dockerImageMetadata.Id) is missing', 'config');
    return undefined;
  }
  const unique = new Map<string, number>();
  for (const layer of layers) unique.set(layer.digest, layer.size);
  let layerBytes = 0;
  for (const bytes of unique.values()) layerBytes += bytes;
  return intern.blob(id, Math.max(0, size - layerBytes));
}

/**
 * The snapshot form of an Image. What cannot be read (a name that is not a digest, a layer or child
 * without a digest, a missing layer list, config digest or media type) does not stop the run: the result
 * says what is wrong (`problem`) and which of its parts are unknown (`unknown`), and the plan keeps the
 * Image and whatever those parts could be.
 *
 * @param image The Image as listed.
 * @param protectAnnotation The policy's protect annotation.
 * @param intern Shares digests and blob records with the rest of the snapshot (none by default); the
 *   result then holds no string of the listed object beyond its creation time.
 * @returns Its digest, age, flags and blobs.
 */
export function toSnapshotImage(
  image: ImageObject,
  protectAnnotation: string,
  intern: Interning = NO_INTERNING,
): SnapshotImage {
  const name = image.metadata.name;
  const gaps = new Gaps();
  if (!DIGEST.test(name)) gaps.add('its name is not a digest');
  const layers = readLayers(image, intern, gaps);
  const declared = image.dockerImageMetadata?.Size;
  const size = isSize(declared) ? declared : 0;
  const config = readConfig(image, layers, size, intern, gaps);
  const annotations = image.metadata.annotations ?? {};
  const digest = intern.string(name);
  const created = image.metadata.creationTimestamp ?? '';
  const managed = annotations[MANAGED_ANNOTATION] === 'true';
  const isProtected = annotations[protectAnnotation] === 'true';
  const mediaType = intern.string(image.dockerImageManifestMediaType ?? '');
  const manifests = readChildren(image, intern, gaps);
  // Two literals rather than a conditional spread: the same keys in the same order, in one allocation.
  const result: SnapshotImage =
    config !== undefined
      ? { digest, created, managed, protected: isProtected, mediaType, layers, config, manifests, size }
      : { digest, created, managed, protected: isProtected, mediaType, layers, manifests, size };
  const subject = subjectOf(image.dockerImageManifest);
  if (subject !== undefined) result.subject = intern.string(subject);
  else if (mayBeHiddenReferrer(image)) result.subjectHidden = true;
  if (gaps.problems.length > 0) {
    result.problem = gaps.problems.join('; ');
    result.unknown = [...gaps.unknown].sort();
  }
  return result;
}

/**
 * The `subject` digest of a manifest (an OCI referrer), or undefined. Only a manifest that mentions the
 * field is parsed.
 */
export function subjectOf(manifest: string | undefined): string | undefined {
  if (typeof manifest !== 'string' || !manifest.includes('"subject"')) return undefined;
  try {
    const parsed = JSON.parse(manifest) as { subject?: { digest?: unknown } } | null;
    const digest = parsed?.subject?.digest;
    return typeof digest === 'string' && DIGEST.test(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
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
