/**
 * OCI referrers whose subject the snapshot cannot see. The integrated registry stores a manifest pushed by
 * digest only (`oras attach`, `cosign attach --experimental-oci11`) as a bare Image object: no tag event,
 * and the API drops `dockerImageManifest` (`manifestBlobStored`), so the `subject` field is gone; the
 * registry itself serves such a manifest only when a list in the stream names it, and has no referrers API.
 * An Image that may be such a referrer is told apart by its shape: an OCI image manifest, not a list, whose
 * layers are not filesystem layers (or that has none), as artifacts are.
 */
/** The fields of an Image (`image-objects.ts`, which calls this) that tell a referrer's shape. */
interface ImageShape {
  dockerImageManifest?: string;
  dockerImageManifestMediaType?: string;
  dockerImageLayers?: readonly { mediaType?: string }[] | null;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Media-type prefixes of filesystem layers (OCI, non-distributable OCI, Docker schema 2). */
const IMAGE_LAYER_PREFIXES = ['application/vnd.oci.image.layer.', 'application/vnd.docker.image.rootfs.'];

function isImageLayer(mediaType: string | undefined): boolean {
  // A layer without a media type is read as an image layer: only a declared artifact type makes a referrer.
  return mediaType === undefined || IMAGE_LAYER_PREFIXES.some((prefix) => mediaType.startsWith(prefix));
}

/**
 * Whether an Image may be an OCI referrer whose `subject` cannot be read: its manifest is not in the object,
 * it is an OCI image manifest and it carries artifact layers (or none).
 *
 * @param image The Image as listed.
 * @returns True for an artifact-shaped Image without its manifest.
 */
export function mayBeHiddenReferrer(image: ImageShape): boolean {
  if (typeof image.dockerImageManifest === 'string' && image.dockerImageManifest !== '') return false;
  if (image.dockerImageManifestMediaType !== OCI_MANIFEST) return false;
  const layers = image.dockerImageLayers ?? [];
  return layers.length === 0 || layers.some((layer) => !isImageLayer(layer.mediaType));
}
