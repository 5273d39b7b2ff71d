import { RegistryPushError } from '../errors.js';
import type { FetchedManifest, RegistryApi } from '../ports/registry-api.js';
import { parseDigest } from '../registry/digest.js';
import { formatReference, type ImageReference } from '../registry/reference.js';
import {
  MediaTypes,
  isIndexMediaType,
  type Descriptor,
  type ManifestDocument,
} from '../registry/media-types.js';

/** An image as a registry holds it: the manifest a reference names, every manifest under it, every blob. */
export interface RemoteImage {
  /** What the reference resolves to (an index or manifest list for multi-platform images). */
  root: FetchedManifest;
  /** Manifests an index names, depth first, each before the index that names it (the order to store them). */
  children: FetchedManifest[];
  /** Config and layer blobs of every manifest, each once. */
  blobs: Map<string, Pick<Descriptor, 'digest' | 'size' | 'mediaType'>>;
}

/**
 * The manifest with a media type: the registry's `Content-Type`, else the document's own `mediaType`, else
 * what its shape says (a registry or proxy that drops the header must not leave a layout entry without one).
 */
function typed(manifest: FetchedManifest, document: ManifestDocument): FetchedManifest {
  if (manifest.mediaType !== '' && manifest.mediaType !== 'application/octet-stream') return manifest;
  const mediaType =
    document.mediaType ?? (document.manifests === undefined ? MediaTypes.ociManifest : MediaTypes.ociIndex);
  return { ...manifest, mediaType };
}

/** Indexes nest rarely; a loop or absurd depth is a broken registry, not an image. */
const MAX_DEPTH = 4;

function parseDocument(manifest: FetchedManifest, where: string): ManifestDocument {
  try {
    const document: unknown = JSON.parse(manifest.bytes.toString('utf8'));
    if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new Error();
    return document;
  } catch {
    throw new RegistryPushError('REGISTRY_MANIFEST_INVALID', `The manifest of ${where} is not JSON.`, {
      hint: 'The source registry holds a broken manifest; push the image to it again.',
    });
  }
}

function checkDescriptor(descriptor: Descriptor | undefined, where: string): Descriptor {
  if (
    descriptor === undefined ||
    typeof descriptor.digest !== 'string' ||
    !Number.isSafeInteger(descriptor.size) ||
    descriptor.size < 0
  ) {
    throw new RegistryPushError(
      'REGISTRY_MANIFEST_INVALID',
      `A descriptor in the manifest of ${where} has no valid digest or size.`,
      { hint: 'The source registry holds a broken manifest; push the image to it again.' },
    );
  }
  parseDigest(descriptor.digest);
  return descriptor;
}

/**
 * Read what `reference` names from `registry`, with every child manifest of an index: SOURCE_NOT_FOUND
 * when the tag or digest is not there, naming it. Manifests keep their bytes exactly (their digests must
 * not change); a child whose bytes do not hash to the digest its index names is refused by the client.
 */
export async function readRemoteImage(
  registry: RegistryApi,
  reference: ImageReference,
  signal?: AbortSignal,
): Promise<RemoteImage> {
  const where = formatReference(reference);
  const root = await registry.getManifest(
    reference.repository,
    reference.digest ?? reference.tag ?? 'latest',
    signal,
  );
  if (root === undefined) {
    throw new RegistryPushError('SOURCE_NOT_FOUND', `The source ${where} is not in the registry.`, {
      hint: 'Check the tag or digest (and the repository name); the registry has no manifest for it.',
      details: { source: where },
    });
  }
  const image: RemoteImage = {
    root: typed(root, parseDocument(root, where)),
    children: [],
    blobs: new Map(),
  };
  const seen = new Set<string>([root.digest]);
  const walk = async (manifest: FetchedManifest, depth: number): Promise<FetchedManifest> => {
    const document = parseDocument(manifest, `${where}@${manifest.digest}`);
    if (isIndexMediaType(manifest.mediaType) || isIndexMediaType(document.mediaType)) {
      if (depth >= MAX_DEPTH) {
        throw new RegistryPushError('REGISTRY_MANIFEST_INVALID', `The index ${where} nests too deep.`);
      }
      for (const entry of document.manifests ?? []) {
        const child = checkDescriptor(entry, where);
        if (seen.has(child.digest)) continue;
        seen.add(child.digest);
        const fetched = await registry.getManifest(reference.repository, child.digest, signal);
        if (fetched === undefined) {
          throw new RegistryPushError(
            'SOURCE_NOT_FOUND',
            `The source ${where} lists ${child.digest}, which the registry does not have.`,
            {
              hint: 'The index is incomplete in the source registry; push the image to it again.',
              details: { source: where, digest: child.digest },
            },
          );
        }
        image.children.push(await walk(fetched, depth + 1));
      }
      return typed(manifest, document);
    }
    const blobs = [...(document.config ? [document.config] : []), ...(document.layers ?? [])];
    for (const entry of blobs) {
      const blob = checkDescriptor(entry, where);
      image.blobs.set(blob.digest, { digest: blob.digest, size: blob.size, mediaType: blob.mediaType });
    }
    return typed(manifest, document);
  };
  await walk(root, 0);
  return image;
}

/** Bytes of all blobs of an image. */
export function imageBytes(image: RemoteImage): number {
  let total = 0;
  for (const blob of image.blobs.values()) total += blob.size;
  return total;
}
