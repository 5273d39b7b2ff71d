// Images and imagestreams written straight through the API (as kubeadmin), for runs that need many units
// quickly and never touch the registry (metadata mode).
import { createHash } from 'node:crypto';
import { Resources, type ClusterClient, type ImageObject, type ImageStreamObject } from '@registry-push/core';

const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';

/** A sha256 digest made from a seed. */
export const digest = (seed: string): string => `sha256:${createHash('sha256').update(seed).digest('hex')}`;

/** A managed Image with one layer of its own. */
export async function createImage(admin: ClusterClient, seed: string): Promise<string> {
  const name = digest(seed);
  await admin.create<ImageObject>(Resources.image, {
    metadata: { name, annotations: { 'openshift.io/image.managed': 'true' } },
    dockerImageReference: `${INTERNAL}/any/any@${name}`,
    dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    dockerImageLayers: [
      { name: digest(`${seed}-layer`), size: 1000, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    ],
    dockerImageMetadata: { Id: digest(`${seed}-config`), Size: 1100 },
  });
  return name;
}

/** A stream whose `latest` history is the given images, newest first, an hour old. */
export async function createStream(
  admin: ClusterClient,
  namespace: string,
  name: string,
  images: string[],
): Promise<void> {
  const stream = await admin.create<ImageStreamObject>(Resources.imageStream, {
    metadata: { name, namespace },
    spec: {},
  });
  const base = Date.now() - 3_600_000;
  await admin.replaceStatus<ImageStreamObject>(Resources.imageStream, {
    ...stream,
    status: {
      tags: [
        {
          tag: 'latest',
          items: images.map((image, i) => ({
            created: new Date(base - i * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
            dockerImageReference: `${INTERNAL}/${namespace}/${name}@${image}`,
            image,
            generation: 1,
          })),
        },
      ],
    },
  });
}

/** `count` streams in `namespace`, each with `depth` images of its own; returns the digests per stream. */
export async function createStreams(
  admin: ClusterClient,
  namespace: string,
  count: number,
  depth: number,
): Promise<Record<string, string[]>> {
  const streams: Record<string, string[]> = {};
  for (let s = 0; s < count; s++) {
    const images: string[] = [];
    for (let d = 0; d < depth; d++) images.push(await createImage(admin, `${namespace}-${s}-${d}`));
    await createStream(admin, namespace, `app${s}`, images);
    streams[`app${s}`] = images;
  }
  return streams;
}
