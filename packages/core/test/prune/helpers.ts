// Objects for integration tests, created through the simulator's API as kubeadmin: Images with layers,
// ImageStreams with a history written through the status subresource, workloads that use images.
import type { KubeObject } from '../../src/cluster/client.js';
import type { ClusterApi } from '../../src/ports/cluster-api.js';
import { Resources } from '../../src/cluster/resources.js';
import type { ImageObject, ImageStreamObject } from '../../src/prune/image-objects.js';
import { digest } from './fixtures.js';

export const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';

/** Creates a managed Image with the given layer seeds (1 KB each) and a config. */
export async function createImage(
  admin: ClusterApi,
  seed: string,
  options: { layers?: string[]; annotations?: Record<string, string>; children?: string[] } = {},
): Promise<string> {
  const name = digest(seed);
  const layers = options.children !== undefined ? undefined : (options.layers ?? [`${seed}-layer`]);
  await admin.create<ImageObject>(Resources.image, {
    metadata: {
      name,
      annotations: { 'openshift.io/image.managed': 'true', ...options.annotations },
    },
    dockerImageReference: `${INTERNAL}/demo/any@${name}`,
    dockerImageManifestMediaType:
      options.children !== undefined
        ? 'application/vnd.oci.image.index.v1+json'
        : 'application/vnd.oci.image.manifest.v1+json',
    ...(layers !== undefined
      ? {
          dockerImageLayers: layers.map((l) => ({
            name: digest(l),
            size: 1000,
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          })),
          dockerImageMetadata: { Id: digest(`${seed}-config`), Size: 1000 * layers.length + 100 },
        }
      : {
          dockerImageManifests: (options.children ?? []).map((c) => ({
            digest: digest(c),
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            manifestSize: 500,
            architecture: 'amd64',
            os: 'linux',
          })),
        }),
  });
  return name;
}

/** Creates (or replaces the history of) a stream: tag → image seeds, newest first, `minutesOld` apart. */
export async function createStream(
  admin: ClusterApi,
  namespace: string,
  name: string,
  tags: Record<string, string[]>,
  options: { annotations?: Record<string, string>; base?: number; minutesOld?: Record<string, number> } = {},
): Promise<ImageStreamObject> {
  const existing = await admin.find<ImageStreamObject>(Resources.imageStream, name, namespace);
  const stream =
    existing ??
    (await admin.create<ImageStreamObject>(Resources.imageStream, {
      metadata: {
        name,
        namespace,
        ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
      },
      spec: {},
    }));
  const base = options.base ?? Date.now() - 3_600_000;
  return admin.replaceStatus<ImageStreamObject>(Resources.imageStream, {
    ...stream,
    status: {
      tags: Object.entries(tags).map(([tag, seeds]) => ({
        tag,
        items: seeds.map((seed, i) => ({
          created: new Date(base - (options.minutesOld?.[seed] ?? i) * 60_000)
            .toISOString()
            .replace(/\.\d+Z$/, 'Z'),
          dockerImageReference: `${INTERNAL}/${namespace}/${name}@${digest(seed)}`,
          image: digest(seed),
          generation: 1,
        })),
      })),
    },
  });
}

/** A pod using the given images (container images in order). */
export async function createPod(
  admin: ClusterApi,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await admin.create<KubeObject>(Resources.pod, { metadata: { name, namespace }, spec } as KubeObject);
}

/** The tag → image digests of a stream, as stored now. */
export async function historyOf(
  admin: ClusterApi,
  namespace: string,
  name: string,
): Promise<Record<string, string[]>> {
  const stream = await admin.get<ImageStreamObject>(Resources.imageStream, name, namespace);
  return Object.fromEntries(
    (stream.status?.tags ?? []).map((t) => [t.tag, (t.items ?? []).map((i) => i.image)]),
  );
}
